"""The report: sweep or run directories in, a self-contained directory out: report.md, the same
text as index.html (python-markdown: no script or network, relative PNG links), and the figures
as PNG and PDF. The analysis is measures.py's; the prose is text.yaml's (TEXT)."""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import markdown

from alexnet import paper
from alexnet.report import plots
from alexnet.report.collect import Run, Sweep, distinct, find_runs, find_sweeps, wall_time
from alexnet.report.measures import Ablation, Speed, analyse_runs, crossings
from alexnet.report.stats import CONFIDENCE, SEEDS_X_IMAGES
from alexnet.report.verdict import DIRECTION, RULES, TEXT, UNDECIDED, Verdict
from alexnet.sequential import SEEDS_CAP

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0 1.2rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
code { background: #f3f3f3; padding: 0 0.2rem; }
img { width: 100%; border: 1px solid #eee; }
"""
REPORT_MD, REPORT_HTML = "report.md", "index.html"
CURVES_PNG, DIFFERENCES_PNG = "curves-{}.png", "differences-{}.png"  # {}: the ablation's name
TIE = 1e-9  # points: a per-seed difference this small is the same error in both arms


def table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ")
                                 for c in cells) + " |"
    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


def plain(text: str) -> str:
    """Markdown as plain text: no **bold**, no `code`, a [link](target) as its words."""
    return re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", text).replace("**", "").replace("`", "")


def bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def figure(path: str, caption: str) -> str:  # `path` relative to the report
    return f"![{caption}]({path})\n\n*{caption}*"


def join(parts: list[str]) -> str:  # headings, paragraphs, tables, ... as one document
    return "\n\n".join(p for p in parts if p) + "\n"


def to_html(text: str, title: str) -> str:
    body = markdown.markdown(text, extensions=["tables"])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
            f"{body}\n</body></html>\n")


def rule_parts(ablations: list[Ablation]) -> list[str]:
    """The rule as the reports state it; the censoring sentence where Figure 1 is measured."""
    rows = "; ".join(f"**{r.outcome}**: {r.when}" for r in RULES)
    text = TEXT["rule"].format(rows=rows, direction=DIRECTION, undecided=UNDECIDED)
    censored = any(isinstance(ab.measure, Speed) for ab in ablations)
    return ["## How the verdict is reached", text + TEXT["rule_censored"] if censored else text]


def level(ab: Ablation) -> str:
    """The interval's level as it holds at the look that made it, and over all the looks ("no":
    one seed, or a plan's data before its first look)."""
    if ab.estimate is not None and ab.estimate.ci is None:
        return "no"
    here = f"{100 * (ab.estimate.confidence if ab.estimate else CONFIDENCE):.3g} %"
    if ab.plan is None:
        return here
    return f"{here} at this look, ≥ {100 * (1 - ab.plan.family_alpha):.3g} % over all looks"


def verdict_text(v: Verdict | None, reason: bool = False) -> str:
    """**outcome** (the reason, when asked; the seeds a plan would need, when undecided)."""
    v = v or Verdict(UNDECIDED, "no pair of completed arms", no_pair=True)
    said = [v.reason] if reason else []
    if v.seeds_needed:
        low, high = (f"{n}+" if n >= SEEDS_CAP else str(n) for n in v.seeds_needed)  # capped
        said.append(TEXT["seeds_needed"].format(low if low == high else f"{low}–{high}"))
    return f"**{v.outcome}**" + (f" ({'; '.join(said)})" if said else "")


def claim_cells(ab: Ablation, reason: bool = False) -> dict[str, str]:
    """A claim's headline cells, as the report's summary and the scorecard show them."""
    c, est = ab.primary, ab.estimate
    return {"paper": ab.measure.paper_number(ab.claim),
            "measure": c.label if c else ab.measure.label(ab.claim),
            "measured": "-" if est is None else f"{c.fmt(est.delta)} {c.interval(est)}",
            "seeds": str(est.n if est else min((a.n for a in ab.arms), default=0)),
            "verdict": verdict_text(ab.verdict, reason)}


def reading(ab: Ablation) -> str:
    """The headline in one plain sentence: the difference, its interval, the verdict's words."""
    p = ab.primary
    if p is None or p.estimate is None:
        return "Nothing to compare yet: the ablation needs completed runs of both arms."
    est = p.estimate
    sample = (f"Over {est.n} seeds × the test images" if est.kind == SEEDS_X_IMAGES
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
    setting = paper.PAPER_SETTINGS.get(ab.claim.arch)
    epochs = ", ".join(map(str, distinct(runs, "epochs")))
    ours = (TEXT["trained"].format(error=ab.arms[0].cell(ab.metric()), where=ab.where,
                                   epochs=epochs) if runs
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
        jobs = arm.n + len(arm.failed) + len(arm.missing_seeds)
        params, epochs = distinct(arm.runs, "parameters"), distinct(arm.runs, "epochs")
        rows.append([f"`{arm.name}`", f"{arm.n} of {jobs} jobs completed",
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
        parts.append(figure(path.name, TEXT["curves_caption"].format(ab.name)))
    rows = [(c.label if c.same_weights else f"{c.other}: {c.label}", c.estimate.delta,
             c.estimate.ci, c.claimed) for c in ab.comparisons
            if c.estimate is not None and not c.ratio]
    if rows:
        path = plots.differences(rows, out_dir / DIFFERENCES_PNG.format(ab.name), level(ab),
                                 ab.name)
        parts.append(figure(path.name, TEXT["differences_caption"].format(ab.name, level(ab))))
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
            bad += [TEXT["superseded"].format(old.path, old.summary.get("status"), r.path)
                    for old in r.replaces]
        bad += [TEXT["missing"].format(arm.name, seed) for seed in arm.missing_seeds]
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
        items.append(TEXT["seeds_fact"].format(", ".join(sorted({str(r.seed) for r in done})),
                                               len(done), len(runs), wall_time(done) / 60))
    items.append("sources: " + ", ".join(f"`{d}`" for d in dirs))
    return ["## Run facts", bullets(items)]


def summary_parts(ablations: list[Ablation]) -> list[str]:
    claimed = [ab for ab in ablations if ab.claim is not None]
    if not claimed:
        return []
    columns = ("measure", "measured", "paper", "seeds", "verdict")
    rows = [[f"`{ab.name}`", ab.claim.text, *map(claim_cells(ab, reason=True).get, columns)]
            for ab in claimed]
    words = ([f"**In words:** {reading(claimed[0])}"] if len(claimed) == 1 else
             ["**In words:**", bullets([f"`{ab.name}`: {reading(ab)}" for ab in claimed])])
    return ["## What each idea is worth",
            table(["ablation", "paper's claim", "measure", "measured Δ [CI]", "paper's Δ",
                   "seeds per arm", "verdict"], rows), *words]


def report_parts(runs: list[Run], dirs: list[Path], out_dir: Path | None,
                 ablations: list[Ablation]) -> list[str]:
    """The whole report; with `out_dir`, its figures are drawn there and linked."""
    parts = ["# AlexNet ablation report"]
    if not runs:
        parts.append("No job directories found under the sources.")
    parts += summary_parts(ablations)
    for ab in ablations:
        parts += ablation_parts(ab, out_dir)
    return parts + facts_parts(runs, find_sweeps(dirs), dirs) + rule_parts(ablations)


@dataclass
class Report:
    markdown: Path
    html: Path
    figures: list[Path]
    headlines: list[str]  # per claim: Δ, interval, verdict, seeds
    replaced: list[Path]  # this report's files that were there
    stale: list[Path]  # an earlier report's figures this one lacks
    wandb: str | None = None  # the one line about W&B, when asked for

    def describe(self) -> str:
        """One line: what was written, and whether it overwrote a previous report."""
        n, new = len(self.figures), 2 + 2 * len(self.figures) - len(self.replaced)  # PNG, PDF
        what = f"{self.markdown}, {self.html.name} and {n} figure{'' if n == 1 else 's'}"
        more = f"; {new} file{'' if new == 1 else 's'} new" if new else ""
        line = (f"rewrote {what} (previous report replaced{more})" if self.replaced
                else f"wrote {what} (new report)")
        stale = ", ".join(p.name for p in self.stale)
        return line + (f"; left from before, no longer in the report: {stale}" if stale else "")


def render(dirs: list[str | Path], threshold: float = paper.FIGURE1_THRESHOLD) -> str:
    """report.md's text without figures (nothing is written)."""
    runs = find_runs(dirs)
    return join(report_parts(runs, [Path(d) for d in dirs], None, analyse_runs(runs, threshold)))


def build_report(dirs: list[str | Path], out_dir: str | Path | None = None,
                 threshold: float = paper.FIGURE1_THRESHOLD, wandb: str | None = None) -> Report:
    """Writes the report into `out_dir` (default: the first of `dirs`). `wandb` (auto, online,
    offline, disabled; None: skip) also builds the W&B report or says how to later."""
    dirs = [Path(d) for d in dirs]
    runs = find_runs(dirs)  # first: a wrong directory is named before anything is written
    out = Path(out_dir) if out_dir is not None else dirs[0]
    out.mkdir(parents=True, exist_ok=True)
    md, page = out / REPORT_MD, out / REPORT_HTML
    there = [p for name in (CURVES_PNG, DIFFERENCES_PNG) for ext in (".png", ".pdf")
             for p in out.glob(name.format("*").replace(".png", ext))]
    before = {p for p in (md, page, *there) if p.is_file()}
    ablations = analyse_runs(runs, threshold)
    text = join(report_parts(runs, dirs, out, ablations))
    md.write_text(text)
    page.write_text(to_html(text, title="AlexNet ablation report"))
    figures = [out / p for p in re.findall(r"^!\[[^\]]*\]\(([^)]+)\)$", text, re.M)]
    written = {md, page, *figures, *(f.with_suffix(".pdf") for f in figures)}
    report = Report(md, page, figures, [plain(f"{ab.name}: {reading(ab)}") for ab in ablations
                                        if ab.claim is not None],  # the console's, at a sweep's end
                    sorted(before & written), sorted(before - written))
    if wandb is not None:
        from alexnet.report.wandb_report import publish

        text = join(report_parts(runs, dirs, None, ablations))  # W&B shows its own figures
        report.wandb = publish(runs, dirs, text, requested=wandb)
    return report
