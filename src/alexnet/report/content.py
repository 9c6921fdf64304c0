"""What the report says, as Markdown: per ablation the arms, the paired differences with the
paper's number and the verdict beside them, the measure's own section (Figure 1), the curves,
and every job's fate. The analysis is measures.py's; this module only writes it down."""

from __future__ import annotations

import json
import math
from pathlib import Path

from alexnet import paper
from alexnet.report import plots
from alexnet.report.collect import Run, Sweep, find_sweeps
from alexnet.report.document import TEXT, bullets, figure, plain, table
from alexnet.report.measures import Ablation, Speed, crossings
from alexnet.report.stats import CONFIDENCE
from alexnet.report.verdict import UNDECIDED, Verdict, rule_text

CURVES_PNG, DIFFERENCES_PNG = "curves-{}.png", "differences-{}.png"  # {}: the ablation's name
TIE = 1e-9  # points: a per-seed difference this small is the same error in both arms


def level(ab: Ablation) -> str:
    """The interval's level as it holds at the look that made it, and over all the looks."""
    here = f"{100 * (ab.estimate.confidence if ab.estimate else CONFIDENCE):.3g} %"
    if ab.plan is None:
        return here
    return f"{here} at this look, ≥ {100 * (1 - ab.plan.family_alpha):.3g} % over all looks"


def verdict_text(v: Verdict | None, reason: bool = False) -> str:
    """**outcome** (the reason, when asked; the seeds a plan would need, when undecided)."""
    v = v or Verdict(UNDECIDED, "no pair of completed arms", no_pair=True)
    said = [v.reason] if reason else []
    if v.seeds_needed:
        said.append(f"a plan of {v.seeds_needed[0]}–{v.seeds_needed[1]} seeds per arm would "
                    "decide at the claimed size, 80 % power")
    return f"**{v.outcome}**" + (f" ({'; '.join(said)})" if said else "")


def measured(ab: Ablation) -> str:
    c, est = ab.primary, ab.estimate
    return "-" if est is None else f"{c.fmt(est.delta)} {c.interval(est)}"


def reading(ab: Ablation) -> str:
    """The headline in one plain sentence: the difference, its interval, the verdict's words."""
    p = ab.primary
    if p is None or p.estimate is None:
        return "Nothing to compare yet: the ablation needs completed runs of both arms."
    est = p.estimate
    sample = (f"Over {est.n} seeds × the test images" if est.kind == "seeds × images"
              else f"With {est.n} paired seed{'' if est.n == 1 else 's'}")
    between = ("centre crop − ten crops" if p.same_weights
               else f"`{p.other}` over the paper's arm" if p.ratio
               else f"`{p.other}` − the paper's arm")
    size = "unknown (censored seeds)" if math.isnan(est.delta) else p.fmt(est.delta)
    interval = "no interval" if est.ci is None else f"CI {p.interval(est)} ({level(ab)})"
    return f"{sample}, the {p.label} ({between}) is {size}, {interval}: {p.verdict}."


def trained(ab: Ablation) -> str:
    """How far from trained the nets are, beside the paper's own: an effect measured early in
    training need not be the paper's (a student reads the verdict, not the epochs column)."""
    runs = ab.arms[0].runs if ab.arms else []
    epochs = sorted({r.summary.get("epochs") for r in runs} - {None})
    setting = paper.PAPER_SETTINGS.get(ab.claim.arch)
    ours = (f"the paper's arm ends at {ab.arms[0].cell(ab.metric())} % "
            f"{ab.where} top-1 error after {', '.join(map(str, epochs))} epochs" if runs
            else "no run of the paper's arm completed")
    theirs = (f"; the paper's own net: {setting.error} after {setting.epochs} epochs" if setting
              else "")
    return f"How trained: {ours}{theirs}."


def ablation_parts(ab: Ablation, out_dir: Path | None) -> list[str]:
    parts = ["## " + ("Runs (no ablation named)" if ab.name == "runs" else f"Ablation `{ab.name}`")]
    if ab.claim:
        parts += [f"Claim under test: {ab.claim.text}."
                  + (f" Our reading: {ab.claim.reading}." if ab.claim.reading else ""),
                  f"**Verdict: {verdict_text(ab.verdict, reason=True)[2:]}."]
        if ab.plan is not None:
            parts.append(f"Seeds: {ab.plan.describe()}; {ab.plan.stop_reason()}.")
        parts.append(trained(ab))
    if ab.where != "test":
        parts.append(TEXT["no_test"])
    elif any((r.summary.get("data") or {}).get("val_is_test") for r in ab.runs):
        parts.append(TEXT["no_holdout"])
    parts += arms_parts(ab) + differences_parts(ab)
    figure1 = isinstance(ab.measure, Speed) and any(r.metrics for r in ab.runs)
    if figure1:
        parts += [f"### Figure 1 measure: epochs to {100 * ab.threshold:g} % training error",
                  TEXT["speed"].format(speedup=ab.claim.speedup),
                  table(["arm", "epochs to threshold"],
                        [[f"`{arm.name}`", crossings(arm.runs, ab.threshold).describe()]
                         for arm in ab.arms])]
    if out_dir is not None:
        parts += figure_parts(ab, out_dir, ab.threshold if figure1 else None)
    return parts + job_parts(ab)


def arms_parts(ab: Ablation) -> list[str]:
    cols = [(ab.metric(k), f"{ab.where} top-{k} %") for k in (1, 5)]
    cols += [("final_val/top1_err", "held-out val top-1 %"),
             ("final_train_eval/top1_err", "train_eval top-1 %")]
    if any(r.summary.get("final_train_all/top1_err") is not None for r in ab.runs):
        cols.append(("final_train_all/top1_err", "whole training split top-1 %"))
    if ab.claim is not None and ab.measure.same_weights:
        cols.insert(1, ("test/tencrop_top1_err", "test top-1, ten crops %"))
    rows = []
    for arm in ab.arms:
        params = sorted({r.summary.get("parameters") for r in arm.runs} - {None})
        epochs = sorted({r.summary.get("epochs") for r in arm.runs} - {None})
        rows.append([f"`{arm.name}`", f"{arm.n} of {arm.n_jobs} jobs completed",
                     ", ".join(f"{p:,}" for p in params) or "-", *[arm.cell(m) for m, _ in cols],
                     ", ".join(map(str, epochs)) or "-"])
    return ["### Arms", TEXT["arms"],
            table(["arm", "seeds", "parameters", *[label for _, label in cols], "epochs"], rows)]


def differences_parts(ab: Ablation) -> list[str]:
    if not ab.comparisons:
        return []
    intro = TEXT["differences"].format(level=level(ab))
    if ab.claim is not None:  # the measure's own words, else the paper's data set's
        extra = TEXT["intros"].get(ab.claim.measure) or TEXT["intros"][ab.claim.arch]
        intro += " " + extra.format(threshold=100 * ab.threshold, speedup=ab.claim.speedup or 0)
    rows = [[f"`{c.other}`", c.label, *(["n/a", "-", "-"] if (est := c.estimate) is None else
                                         [c.fmt(est.delta), f"{c.interval(est)} ({est.kind})",
                                          str(est.n)]),
             "-" if c.beside is None else f"{c.interval(c.beside)} ({c.beside.kind})",
             ab.measure.paper_number(ab.claim) if c.claimed is not None else "-",
             str(c.verdict or "-")] for c in ab.comparisons]
    parts = ["### Paired differences against the paper's arm", intro,
             table(["arm", "measure", "Δ", "interval", "seeds", "beside it", "paper's Δ",
                    "verdict"], rows),
             bullets([f"{c.label}: {c.note}" for c in ab.comparisons if c.note])]
    paired = [c for c in ab.comparisons if c.per_seed]
    seeds = sorted({s for c in paired for s in c.per_seed}, key=str)
    if not seeds:
        return parts
    counts = [f"{c.label} (`{c.other}`): {sum(v >= TIE for v in d)} of {len(d)}"
              + (f" ({tied} tied)" if (tied := sum(abs(v) < TIE for v in d)) else "")
              for c in paired if (d := list(c.per_seed.values()))]
    return parts + [
        "Per-seed differences (the pairs behind the paired intervals):",
        table(["seed", *[f"{c.label} (`{c.other}`)" for c in paired]],
              [[str(s), *[c.fmt(c.per_seed[s]) if s in c.per_seed else "-" for c in paired]]
               for s in seeds]),
        f"Seeds where the other side did worse than the paper's: {'; '.join(counts)}."]


def figure_parts(ab: Ablation, out_dir: Path, line: float | None) -> list[str]:
    """The curves (with `line`, Figure 1's threshold, when given) and the differences."""
    parts = []
    if any(r.metrics for r in ab.runs):
        path = plots.curves(ab.arms, out_dir / CURVES_PNG.format(ab.name), line, title=ab.name)
        parts.append(figure(path.name, f"{ab.name}: train_eval and held-out val top-1 error per "
                                       "epoch, mean over seeds with the min–max band"))
    rows = [(c.label if c.same_weights else f"{c.other}: {c.label}", c.estimate.delta,
             c.estimate.ci, c.claimed) for c in ab.comparisons
            if c.estimate is not None and not c.ratio]
    if rows:
        path = plots.differences(rows, out_dir / DIFFERENCES_PNG.format(ab.name), level(ab),
                                 ab.name)
        parts.append(figure(path.name, f"{ab.name}: paired differences ({level(ab)} CI) and the "
                                       "paper's claim"))
    return parts


def job_parts(ab: Ablation) -> list[str]:
    rows, bad = [], []
    for arm in ab.arms:
        for r in sorted(arm.runs + arm.failed, key=lambda r: str(r.seed)):
            s, wall, rate = r.summary, r.summary.get("wall_time_s"), r.summary.get("images_per_sec")
            rows.append([f"`{r.path.name}`", f"`{arm.name}`", str(r.seed), s.get("status", "?"),
                         str(s.get("epochs", "-")), "-" if wall is None else f"{wall:.1f}",
                         "-" if rate is None else f"{rate:.0f}"])
            if not r.completed:
                error = str(s.get("error", "")).replace("`", "'")
                bad.append(f"`{r.path}`: {s.get('status')}" + (f" `{error}`" if error else ""))
            bad += [f"`{old.path}` ({old.summary.get('status')}) superseded by the later "
                    f"`{r.path}` (same arm and seed)" for old in r.replaces]
        bad += [f"`{arm.name}` seed {seed}: missing (in the sweep's grid, no job directory)"
                for seed in arm.missing_seeds]
    parts = ["### Jobs", table(["job", "arm", "seed", "status", "epochs", "wall time s",
                                "images/s"], rows)]
    return parts + (["Jobs that did not complete or were replaced (not averaged in):",
                     bullets(bad)] if bad else [])


def facts_parts(runs: list[Run], sweeps: list[Sweep], dirs: list[Path]) -> list[str]:
    done = [r for r in runs if r.completed]
    items = []
    for sweep in sweeps:
        present = sum(1 for r in runs if sweep.path.resolve() in r.path.resolve().parents)
        grid = ", ".join(f"{k}={','.join(map(str, v))}" for k, v in sweep.params.items())
        items.append(f"sweep `{sweep.path}`: {present} jobs present (grid: {grid})")
    facts = {
        "data": lambda s: {k: v for k, v in (s.get("data") or {}).items() if k != "skipped_files"},
        "model (switches the arms vary left out)": lambda s: {
            k: v for k, v in (s.get("model") or {}).items()
            if f"model.{k}" not in (s.get("arm") or {})},
        "recipe / init": lambda s: f"{s.get('recipe')} / {s.get('init')}",
        "machine": lambda s: {k: (s.get("machine") or {}).get(k)
                              for k in ("platform", "cpus", "cuda", "torch")},
        "git": lambda s: s.get("git_sha"),
    }
    for label, getter in facts.items() if done else ():
        values = sorted({json.dumps(getter(r.summary), sort_keys=True, default=str) for r in done})
        more = f" (+{len(values) - 4} more)" if len(values) > 4 else ""
        items.append(f"{label}: {'; '.join(values[:4])}{more}")
    if done:
        wall = sum(r.summary.get("wall_time_s") or 0 for r in done)
        items.append(f"seeds: {', '.join(sorted({str(r.seed) for r in done}))}; completed jobs: "
                     f"{len(done)} of {len(runs)}; total wall time of the jobs {wall / 60:.1f} min")
    items.append("sources: " + ", ".join(f"`{d}`" for d in dirs))
    return ["## Run facts", bullets(items)]


def summary_parts(ablations: list[Ablation]) -> list[str]:
    claimed = [ab for ab in ablations if ab.claim is not None]
    if not claimed:
        return []
    rows = [[f"`{ab.name}`", ab.claim.text, ab.label, measured(ab),
             ab.measure.paper_number(ab.claim), str(ab.seeds),
             verdict_text(ab.verdict, reason=True)] for ab in claimed]
    words = ([f"**In words:** {reading(claimed[0])}"] if len(claimed) == 1 else
             ["**In words:**", bullets([f"`{ab.name}`: {reading(ab)}" for ab in claimed])])
    return ["## What each idea is worth",
            table(["ablation", "paper's claim", "measure", "measured Δ [CI]", "paper's Δ",
                   "seeds per arm", "verdict"], rows), *words]


def headlines(ablations: list[Ablation]) -> list[str]:
    """One plain line per judged claim, for the console at the end of a sweep."""
    return [plain(f"{ab.name}: {reading(ab)}") for ab in ablations if ab.claim is not None]


def report_parts(runs: list[Run], dirs: list[Path], out_dir: Path | None,
                 ablations: list[Ablation]) -> list[str]:
    """The whole report; with `out_dir`, its figures are drawn there and linked."""
    parts = ["# AlexNet ablation report"]
    if not runs:
        parts.append("No job directories found under the sources.")
    parts += summary_parts(ablations)
    for ab in ablations:
        parts += ablation_parts(ab, out_dir)
    censored = any(isinstance(ab.measure, Speed) for ab in ablations)
    return parts + facts_parts(runs, find_sweeps(dirs), dirs) + [
        "## How the verdict is reached", rule_text(censored)]
