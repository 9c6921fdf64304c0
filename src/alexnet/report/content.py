"""What the report says, as blocks: per ablation the arms, the paired differences with the
paper's claim and a verdict beside them, the measure's own section (Figure 1, ten-crop), the
curves, and every job's fate."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from alexnet import paper
from alexnet.report import plots
from alexnet.report.collect import Run, Sweep
from alexnet.report.collect import _name_arms as name_arms
from alexnet.report.curves import DEFAULT_THRESHOLD, log_speed_ratio, speed
from alexnet.report.document import Block, Bullets, Figure, Heading, Para, Table
from alexnet.report.sequential import Plan, plan_of
from alexnet.report.stats import (
    CONFIDENCE,
    ArmStats,
    Estimate,
    group_arms,
    mcnemar,
    paired,
    paired_bootstrap,
    welch,
)
from alexnet.report.verdict import UNDECIDED, Verdict, in_words, judge, points, rule, seeds_needed

DEFAULT_RESOLUTION = 0.1  # points: one image of 1,000, when a record does not say its test size
CURVES_PNG, DIFFERENCES_PNG = "curves-{}.png", "differences-{}.png"  # {}: the ablation's name
TIE = 1e-9  # points: a per-seed difference this small is the same error in both arms (float noise)


# -- formatting -----------------------------------------------------------------------------------
def fmt_points(v: float) -> str:
    return f"{v:+.2f}"


def fmt_ratio(v: float) -> str:
    """A log ratio shown as the ratio itself."""
    if math.isnan(v):  # every seed censored: no point estimate, only the (open) interval
        return "n/a"
    if v == math.inf:
        return "∞"
    if v == -math.inf:
        return "0×"
    return f"{math.exp(v):.2f}×"


def times(v: float) -> str:
    return f"{math.exp(v):.3g}×"


def fmt_ci(ci: tuple[float, float] | None, fmt: Callable[[float], str] = fmt_points, n: int = 1) -> str:
    if ci is None:
        return "no CI (1 seed)" if n < 2 else "no CI (no spread)"
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def fmt_arm_cell(arm: ArmStats, metric: str) -> str:
    mean = arm.mean(metric)
    if mean is None:
        return "n/a"
    std = arm.std(metric)
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


# -- analysis -------------------------------------------------------------------------------------
@dataclass
class Comparison:
    """One measured difference, oriented as the paper's claim: other arm minus the paper's arm
    (ten-crop: centre minus ten crops of the same weights; Figure 1: log of the epochs ratio)."""

    label: str
    other: str  # the arm (or evaluation) compared with the paper's
    paired: Estimate | None  # the primary interval: paired over seeds (or images)
    unpaired: Estimate | None  # Welch's, beside it, for what pairing buys
    claimed: float | None
    claimed_text: str
    verdict: Verdict | None
    fmt: Callable[[float], str] = fmt_points
    per_seed: dict = field(default_factory=dict)  # seed → difference, when paired over seeds
    note: str = ""
    at_least: bool = False  # the claim is "claimed or more"


@dataclass
class Ablation:
    name: str  # key of paper.CLAIMS, or "runs" when the records name none
    claim: paper.Claim | None
    arms: list[ArmStats]
    confidence: float
    comparisons: list[Comparison] = field(default_factory=list)
    headline: str = "test"  # "test": scored on the test split; "final val": no test split in the records
    plan: Plan | None = None  # the seeds-until-decided plan of the sweep, if it had one

    @property
    def primary(self) -> Comparison | None:
        return next((c for c in self.comparisons if c.verdict is not None), None)

    @property
    def verdict(self) -> Verdict | None:
        return self.primary.verdict if self.primary else None

    @property
    def seeds(self) -> int:
        p = self.primary
        return p.paired.n if p and p.paired and "bootstrap" not in p.paired.method else min(
            (a.n for a in self.arms), default=0)


def _value_of(arm: ArmStats, key: str):
    values = {json.dumps((r.summary.get("arm") or {}).get(key)) for r in arm.runs + arm.failed}
    return json.loads(values.pop()) if len(values) == 1 else None


def order_arms(arms: list[ArmStats], claim: paper.Claim | None) -> list[ArmStats]:
    """The paper's arm first: every difference is measured against it."""
    if claim is None:
        return arms
    return sorted(arms, key=lambda a: _value_of(a, claim.switch) != claim.paper_arm)


def _metrics(runs: list[Run]) -> tuple[str, str, str]:
    """The headline metrics: the test split's, or the final validation's for records without one."""
    if any(r.value("test/top1_err") is not None for r in runs):
        return "test/top1_err", "test/top5_err", "test"
    return "final_val/top1_err", "final_val/top5_err", "final val"


def resolution(runs: list[Run]) -> float:
    """One test image, in points: the smallest difference the measure can show."""
    sizes = [n for r in runs if (n := r.test_images or (r.summary.get("data") or {}).get("val_images"))]
    return 100.0 / max(sizes) if sizes else DEFAULT_RESOLUTION


GAP_LABEL = "val − train_eval top-1 gap"  # the dropout claim's measure


def speed_label(threshold: float) -> str:
    """The Figure 1 measure's name."""
    return f"epochs to {100 * threshold:g} % train_eval error, ratio"


def claimed_text(value: float, at_least: bool = False) -> str:
    """The paper's number for an error difference, as every row shows it."""
    return f"{'≥ ' if at_least else ''}{value:+.1f}"


def _compare(label: str, base: ArmStats, other: ArmStats, metric: str, claimed: float | None,
             at_least: bool, confidence: float, res: float) -> Comparison:
    b, o = base.by_seed(metric), other.by_seed(metric)
    est = paired(b, o, confidence, res)
    verdict = judge(est, claimed, at_least) if claimed is not None else None
    text = "-" if claimed is None else claimed_text(claimed, at_least)
    return Comparison(label, other.name, est, welch(list(b.values()), list(o.values()), confidence),
                      claimed, text, verdict, per_seed={s: o[s] - b[s] for s in b if s in o}, at_least=at_least)


def analyse(name: str, runs: list[Run], threshold: float, confidence: float = CONFIDENCE) -> Ablation:
    claim = paper.CLAIMS.get(name)
    arms = order_arms(group_arms(runs), claim)
    top1, top5, where = _metrics(runs)
    ab = Ablation(name, claim, arms, confidence, headline=where)
    res = resolution(runs)
    if claim is not None and claim.measure == "paired_eval":
        ab.comparisons = _paired_eval(arms, claim, confidence, res)
        return ab
    if len(arms) < 2:
        return ab
    base = arms[0]
    for other in arms[1:]:
        judged = claim is not None and _value_of(other, claim.switch) == claim.other_arm
        c = claim if judged else None
        if c is not None and c.measure == "speed":
            ab.comparisons.append(_speed(base, other, c, threshold, confidence))
        if c is not None and c.measure == "overfit":
            ab.comparisons.append(_compare(GAP_LABEL, base, other, "gap/top1_err",
                                           c.top1_delta, c.at_least, confidence, res))
        error_claim = c is not None and c.measure in ("error", "overfit")
        ab.comparisons += [
            _compare(f"{where} top-1", base, other, top1, c.top1_delta if error_claim else None,
                     c.at_least if error_claim else False, confidence, res),
            _compare(f"{where} top-5", base, other, top5, c.top5_delta if error_claim else None,
                     False, confidence, res),
        ]
    return ab


def _speed(base: ArmStats, other: ArmStats, claim: paper.Claim, threshold: float, confidence: float) -> Comparison:
    est = log_speed_ratio(speed(base.runs, threshold), speed(other.runs, threshold), confidence)
    claimed = math.log(claim.speedup)
    return Comparison(speed_label(threshold), other.name, est, None,
                      claimed, f"{claim.speedup:g}×", judge(est, claimed, show=times), fmt=fmt_ratio)


def _paired_eval(arms: list[ArmStats], claim: paper.Claim, confidence: float, res: float) -> list[Comparison]:
    """Ten-crop: the same weights scored twice, per image. The verdict's interval is a paired
    bootstrap over images (the seeds averaged per image); McNemar's exact test and the paired
    t over seeds are shown beside it."""
    runs = [r for a in arms for r in a.runs if r.value("test/tencrop_top1_err") is not None]
    if not runs:
        return []
    out = []
    for k, claimed in (("top1", claim.top1_delta), ("top5", claim.top5_delta)):
        ten = {r.seed: 100 * r.value(f"test/tencrop_{k}_err") for r in runs}
        centre = {r.seed: 100 * r.value(f"test/{k}_err") for r in runs}
        per_seed = paired(ten, centre, confidence, res)
        outcomes = [r.outcomes() for r in runs]
        pooled, note = per_seed, "outcomes per image missing: paired t over seeds"
        same_images = len({tuple(o.get("label", ())) for o in outcomes}) == 1
        if all(f"tencrop_{k}" in o for o in outcomes) and same_images:
            diffs = [[100 * (t - c) for t, c in zip(o[f"tencrop_{k}"], o[f"center_{k}"], strict=True)]
                     for o in outcomes]
            pooled = paired_bootstrap(diffs, confidence, resolution=res)
            # McNemar on images, not image × seed pairs (the seeds share the images): an image
            # counts for the evaluation that got it right in more seeds
            net = [sum(col) for col in zip(*diffs, strict=True)]
            only_centre, only_ten = sum(v < 0 for v in net), sum(v > 0 for v in net)
            note = (f"images the centre crop got right in more seeds than ten crops: {only_centre}, the reverse: "
                    f"{only_ten} (of {len(net)}, over {len(runs)} seeds); McNemar exact p = {mcnemar(only_centre, only_ten):.2g}")
        verdict = judge(pooled, claimed)
        if not verdict.decided and pooled is not per_seed:  # seeds, not images, are what one adds
            needed = seeds_needed(per_seed, claimed, confidence) if per_seed else None
            more = f"; ~{needed} seeds would decide (80 % power, per-seed spread)" if needed else ""
            verdict = Verdict(verdict.outcome, verdict.reason + more, needed)
        out.append(Comparison(
            f"test {k.replace('top', 'top-')}: centre − ten crops", "centre crop", pooled, per_seed,
            claimed, f"{claimed:+.1f}", verdict, note=note,
            per_seed={s: centre[s] - ten[s] for s in ten},
        ))
    return out


SHARED_BASELINE = "all"  # experiment=ablate_all: one baseline per seed serves every one-switch claim
SHARED = "shared_baseline"  # marks those baseline runs in each claim's copy of their summary


def split_shared_baseline(runs: list[Run]) -> dict[str, list[Run]]:
    """ablate_all's runs as one ablation per claim: the seed's baseline runs, as that claim's
    paper arm, and the runs with that claim's switch (alone) at its other arm; ten-crop on the
    baselines' own test pass. Claims without runs of their other arm are left out."""
    base = [r for r in runs if not r.summary.get("arm")]
    out = {}
    for name, claim in paper.CLAIMS.items():
        if claim.arch != "alexnet":
            continue
        if claim.measure == "paired_eval":
            members = [replace(r, summary=r.summary | {"ablation": name, SHARED: True}) for r in base]
        else:
            other = [r for r in runs if r.summary.get("arm") == {claim.switch: claim.other_arm}]
            if not other:
                continue
            members = [replace(r, summary=r.summary | {"ablation": name, "arm": {claim.switch: claim.paper_arm}, SHARED: True})
                       for r in base] + [replace(r, summary=r.summary | {"ablation": name}) for r in other]
            name_arms(members)
        if members:
            out[name] = members
    return out


def analyse_runs(runs: list[Run], threshold: float = DEFAULT_THRESHOLD,
                 confidence: float | None = None) -> list[Ablation]:
    """Every ablation in `runs`, each at `confidence` or, if None, at its own sweep's level
    (Bonferroni-corrected when the sweep added seeds until decided, else 95 %); the runs of an
    ablate_all sweep give one ablation per claim."""
    groups: dict[str | None, list[Run]] = {}
    for name in dict.fromkeys(r.ablation for r in runs):
        members = [r for r in runs if r.ablation == name]
        if name == SHARED_BASELINE:
            for claim, claim_runs in split_shared_baseline(members).items():
                groups.setdefault(claim, []).extend(claim_runs)
        else:
            groups.setdefault(name, []).extend(members)
    out = []
    for name, members in groups.items():
        plan = plan_of([r.path for r in members])
        level = confidence if confidence is not None else plan.confidence if plan else CONFIDENCE
        ab = analyse(name if name is not None else "runs", members, threshold, level)
        ab.plan = plan
        out.append(ab)
    return out


# -- blocks ---------------------------------------------------------------------------------------
def reading(ab: Ablation) -> str:
    """The headline in one plain sentence: the measured difference, its interval, and what this
    sample can and cannot resolve (the verdict's outcome in words, verdict.in_words)."""
    p = ab.primary
    if p is None or p.paired is None:
        return "Nothing to compare yet: the ablation needs completed runs of both arms."
    est = p.paired
    if "bootstrap" in est.method:
        sample = f"Over {est.n} test images ({ab.seeds} seeds averaged per image)"
    else:
        sample = f"With {est.n} paired seed{'' if est.n == 1 else 's'}"
    if p.fmt is fmt_ratio:
        what = f"the ratio of {p.label.removesuffix(', ratio')} (`{p.other}` over the paper's arm)"
        size, show = "unknown" if math.isnan(est.delta) else p.fmt(est.delta), times
    else:
        between = "centre crop − ten crops" if p.other == "centre crop" else f"`{p.other}` − the paper's arm"
        what = f"the {_metric(p)} difference ({between})"
        size, show = f"{p.fmt(est.delta)} points", points
    interval = "no interval" if est.ci is None else f"{100 * est.confidence:.3g} % CI {fmt_ci(est.ci, p.fmt)}"
    return f"{sample}, {what} is {size}, {interval}: {in_words(p.verdict, est, p.claimed, p.at_least, show)}."


def ablation_blocks(ab: Ablation, out_dir: Path | None, threshold: float) -> list[Block]:
    title = "Runs (no ablation named)" if ab.name == "runs" else f"Ablation `{ab.name}`"
    blocks: list[Block] = [Heading(title, 2)]
    if ab.claim:
        blocks.append(Para(f"Claim under test: {ab.claim.text}."
                           + (f" Our reading: {ab.claim.reading}." if ab.claim.reading else "")))
    if ab.verdict:
        blocks.append(Para(f"**Verdict: {ab.verdict.outcome}** ({ab.verdict.reason})."))
    elif ab.claim:
        blocks.append(Para("**Verdict: undecided** (no pair of completed arms to compare)."))
    if ab.plan is not None and ab.claim is not None:
        blocks.append(Para(f"Seeds: {ab.plan.describe()}; {ab.plan.stop_reason()}."))
    if ab.headline != "test":
        blocks.append(Para("These records have no test split: the errors are the final validation "
                           "errors, the same images the schedule and checkpoints were chosen on."))
    elif any((r.summary.get("data") or {}).get("val_is_test") for a in ab.arms for r in a.runs):
        blocks.append(Para("**No held-out split** (`data.holdout` off): the learning-rate schedule and the "
                           "checkpoints were chosen on the test images this report scores, as the paper did "
                           "on ILSVRC-2012; set `data.holdout` for a clean test."))

    top1, top5, where = _metrics([r for a in ab.arms for r in a.runs]) if ab.arms else ("", "", "")
    cols = [(top1, f"{where} top-1 %"), (top5, f"{where} top-5 %"), ("final_val/top1_err", "held-out val top-1 %"),
            ("final_train_eval/top1_err", "train_eval top-1 %")]
    if measure(ab) == "paired_eval":
        cols.insert(1, ("test/tencrop_top1_err", "test top-1, ten crops %"))
    rows = []
    for arm in ab.arms:
        params = sorted({r.summary.get("parameters") for r in arm.runs} - {None})
        epochs = sorted({r.summary.get("epochs") for r in arm.runs} - {None})
        rows.append([f"`{arm.name}`", f"{arm.n} of {arm.n_jobs} jobs completed", ", ".join(f"{p:,}" for p in params) or "-",
                     *[fmt_arm_cell(arm, m) for m, _ in cols], ", ".join(map(str, epochs)) or "-"])
    blocks += [Heading("Arms", 3),
               Para("Errors in %, mean ± sample std over the completed seeds. The held-out val split "
                    "(training images set aside) chose the learning-rate drops; the test split was scored "
                    "once, at the end. train_eval: the error on a fixed subset of training images in eval "
                    "mode (no dropout, no augmentation). Failed and missing jobs are listed below, never "
                    "averaged in."),
               Table(["arm", "seeds", "parameters", *[label for _, label in cols], "epochs"], rows)]

    if ab.comparisons:
        rows = []
        for c in ab.comparisons:
            est, w = c.paired, c.unpaired
            rows.append([f"`{c.other}`", c.label, "n/a" if est is None else c.fmt(est.delta),
                         "-" if est is None else fmt_ci(est.ci, c.fmt, est.n), "-" if est is None else str(est.n),
                         "-" if w is None else fmt_ci(w.ci, c.fmt, w.n), c.claimed_text,
                         str(c.verdict) if c.verdict else "-"])
        blocks += [Heading("Paired differences against the paper's arm", 3), Para(differences_intro(ab, threshold)),
                   Table(["arm", "measure", "Δ", "interval", "n", "unpaired / per-seed", "paper's Δ", "verdict"], rows)]
        notes = [f"{c.label}: {c.note}" for c in ab.comparisons if c.note]
        if notes:
            blocks.append(Bullets(notes))
        blocks += per_seed_blocks(ab)

    figure1 = speed_blocks(ab, threshold) if is_speed(ab) else []
    blocks += figure1
    if out_dir is not None:  # the threshold's line only beside the section that reads it
        blocks += figure_blocks(ab, out_dir, threshold if figure1 else None)
    blocks += job_blocks(ab)
    return blocks


def _metric(c: Comparison) -> str:
    """The metric alone: "test top-1" of "test top-1: centre − ten crops"."""
    return c.label.split(":")[0]


def measure(ab: Ablation) -> str | None:
    """What the claim compares (paper.Claim.measure); None without a claim."""
    return ab.claim.measure if ab.claim is not None else None


def is_speed(ab: Ablation) -> bool:
    """A Figure 1 claim (ReLU against tanh): the only one with a threshold and censored runs."""
    return measure(ab) == "speed"


def _reference(ab: Ablation) -> str:
    """What every difference is measured against, in words."""
    if ab.claim is None:
        return "the first arm"
    return "ten crops" if measure(ab) == "paired_eval" else "the paper's arm"


def differences_intro(ab: Ablation, threshold: float) -> str:
    """What the differences table holds: said for the measures this ablation has, and no other."""
    level = f"{100 * ab.confidence:.3g} %"
    if measure(ab) == "paired_eval":
        return (f"Centre crop minus ten crops of the same weights, in points of error ({level} intervals). "
                "Primary: a paired bootstrap over the test images (each image's difference averaged over "
                "the seeds). Beside it: the paired t over seeds (df = n − 1). The paper's numbers are "
                "ILSVRC differences, for scale.")
    text = (f"Other arm minus {_reference(ab)}, in points of error ({level} intervals). Primary: paired t "
            "over seeds (both arms of a seed share data order, crops and, where shapes agree, initial "
            "weights; df = n − 1). Beside it: Welch's unpaired interval at the same level.")
    if is_speed(ab):
        text += (f" The Figure 1 row is a ratio: the other arm's epochs to {100 * threshold:g} % training error "
                 "over the paper's arm's, its interval a paired t on the log ratio; the paper's "
                 f"{ab.claim.speedup:g}× is Figure 1's, measured on CIFAR-10.")
    elif ab.claim is not None:
        text += (" The paper's numbers are its CIFAR-10 differences." if ab.claim.arch == "convnet4"
                 else " The paper's numbers are ILSVRC differences, for scale.")
    return text


def per_seed_blocks(ab: Ablation) -> list[Block]:
    comparisons = [c for c in ab.comparisons if c.per_seed]
    seeds = sorted({s for c in comparisons for s in c.per_seed}, key=str)
    if not seeds:
        return []
    header = ["seed", *[f"{c.label} (`{c.other}`)" for c in comparisons]]
    rows = [[str(s), *[c.fmt(c.per_seed[s]) if s in c.per_seed else "-" for c in comparisons]] for s in seeds]
    counts = []
    for other in dict.fromkeys(c.other for c in comparisons):
        cells = []
        for c in (c for c in comparisons if c.other == other):
            d = list(c.per_seed.values())
            tied = sum(abs(v) < TIE for v in d)
            cells.append(f"{sum(v >= TIE for v in d)} of {len(d)} ({_metric(c)}{f'; {tied} tied' if tied else ''})")
        who = "the centre crop" if other == "centre crop" else f"`{other}`"
        counts.append(f"Seeds where {who} had a higher error than {_reference(ab)}: {', '.join(cells)}.")
    return [Para("Per-seed differences (the pairs behind the paired intervals):"), Table(header, rows),
            *map(Para, counts)]


def speed_blocks(ab: Ablation, threshold: float) -> list[Block]:
    if not any(r.metrics for a in ab.arms for r in a.runs):
        return []
    rows = [[f"`{arm.name}`", speed(arm.runs, threshold).describe()] for arm in ab.arms]
    return [Heading(f"Figure 1 measure: epochs to {100 * threshold:g} % training error", 3),
            Para("Epochs trained when the eval-mode training error (`train_eval/top1_err`) first was at or "
                 f"below the threshold (mean over seeds [per seed]). The paper: tanh needs "
                 f"{ab.claim.speedup:g}× the epochs of ReLU. A seed that never got there is censored: it "
                 "bounds the ratio from one side, and the interval stays open on the other."),
            Table(["arm", "epochs to threshold"], rows)]


def figure_blocks(ab: Ablation, out_dir: Path, line: float | None) -> list[Block]:
    """The curves (with `line`, Figure 1's threshold, when given) and the differences."""
    blocks: list[Block] = []
    if any(r.metrics for a in ab.arms for r in a.runs):
        path = plots.curves(ab.arms, out_dir / CURVES_PNG.format(ab.name), line, title=ab.name)
        blocks.append(Figure(path.name, f"{ab.name}: train_eval and held-out val top-1 error per epoch, "
                                        "mean over seeds with the min–max band"))
    ten_crop = measure(ab) == "paired_eval"  # its labels name both sides
    rows = [(c.label if ten_crop else f"{c.other}: {c.label}", c.paired.delta, c.paired.ci, c.claimed)
            for c in ab.comparisons if c.paired is not None and c.fmt is fmt_points]
    if rows:
        level = f"{100 * ab.confidence:.3g} %"
        axis = "centre crop − ten crops" if ten_crop else f"other arm − {_reference(ab)}"
        path = plots.differences(rows, out_dir / DIFFERENCES_PNG.format(ab.name), level,
                                 f"{axis}, percentage points", title=ab.name)
        blocks.append(Figure(path.name, f"{ab.name}: paired differences ({level} CI) and the paper's claim"))
    return blocks


def job_blocks(ab: Ablation) -> list[Block]:
    rows, bad = [], []
    for arm in ab.arms:
        for r in sorted(arm.runs + arm.failed, key=lambda r: str(r.seed)):
            s = r.summary
            wall = s.get("wall_time_s")
            rows.append([f"`{r.path.name}`", f"`{arm.name}`", str(r.seed), s.get("status", "?"),
                         str(s.get("epochs", "-")), "-" if wall is None else f"{wall:.1f}",
                         "-" if s.get("images_per_sec") is None else f"{s['images_per_sec']:.0f}"])
            if not r.completed:
                bad.append(f"`{r.path}`: {s.get('status')} {s.get('error', '')}".rstrip())
            bad += [f"`{old.path}` ({old.summary.get('status')}) superseded by the later `{r.path}` "
                    "(same arm and seed)" for old in r.replaces]
        bad += [f"`{arm.name}` seed {seed}: missing (in the sweep's grid, no job directory)"
                for seed in arm.missing_seeds]
    blocks: list[Block] = [Heading("Jobs", 3), Table(
        ["job", "arm", "seed", "status", "epochs", "wall time s", "images/s"], rows)]
    if bad:
        blocks += [Para("Jobs that did not complete or were replaced (not averaged in):"), Bullets(bad)]
    return blocks


def facts_blocks(runs: list[Run], sweeps: list[Sweep], dirs: list[Path]) -> list[Block]:
    done = [r for r in runs if r.completed]
    items = []
    for sweep in sweeps:
        present = sum(1 for r in runs if sweep.path.resolve() in r.path.resolve().parents)
        grid = ", ".join(f"{k}={v}" for k, v in sweep.params.items())
        items.append(f"sweep `{sweep.path}`: {present} jobs present (grid: {grid})")
    if done:
        def distinct(getter):
            return sorted({json.dumps(getter(r.summary), sort_keys=True, default=str) for r in done})

        for label, getter in (
            ("data", lambda s: {k: v for k, v in (s.get("data") or {}).items() if k != "skipped_files"}),
            ("model (switches the arms vary left out)", lambda s: {
                k: v for k, v in (s.get("model") or {}).items() if f"model.{k}" not in (s.get("arm") or {})}),
            ("recipe / init", lambda s: f"{s.get('recipe')} / {s.get('init')}"),
            ("machine", lambda s: {k: (s.get("machine") or {}).get(k) for k in ("platform", "cpus", "cuda", "torch")}),
            ("git", lambda s: s.get("git_sha")),
        ):
            values = distinct(getter)
            shown = "; ".join(values[:4]) + (f" (+{len(values) - 4} more)" if len(values) > 4 else "")
            items.append(f"{label}: {shown}")
        seeds = sorted({str(r.seed) for r in done})
        wall = sum(r.summary.get("wall_time_s") or 0 for r in done)
        items.append(f"seeds: {', '.join(seeds)}; completed jobs: {len(done)} of {len(runs)}; "
                     f"total wall time of the jobs {wall / 60:.1f} min")
    items.append("sources: " + ", ".join(f"`{d}`" for d in dirs))
    return [Heading("Run facts", 2), Bullets(items)]


def summary_row(ab: Ablation) -> list[str] | None:
    """One claim in one row: used by the report's headline table and the scorecard."""
    if ab.claim is None:
        return None
    head = ab.primary
    measured = "-"
    if head is not None and head.paired is not None:
        measured = f"{head.fmt(head.paired.delta)} {fmt_ci(head.paired.ci, head.fmt)}"
    verdict = ab.verdict or Verdict(UNDECIDED, "no pair of completed arms")
    return [f"`{ab.name}`", ab.claim.text, head.label if head else "-", measured,
            head.claimed_text if head else "-", str(ab.seeds), f"**{verdict.outcome}** ({verdict.reason})"]


SUMMARY_HEADER = ["ablation", "paper's claim", "measure", "measured Δ [CI]", "paper's Δ", "seeds per arm", "verdict"]


def summary_blocks(ablations: list[Ablation]) -> list[Block]:
    claimed = [ab for ab in ablations if ab.claim is not None]
    if not claimed:
        return []
    blocks: list[Block] = [Heading("What each idea is worth", 2), Table(SUMMARY_HEADER, list(map(summary_row, claimed)))]
    if len(claimed) == 1:
        return blocks + [Para(f"**In words:** {reading(claimed[0])}")]
    return blocks + [Para("**In words:**"), Bullets([f"`{ab.name}`: {reading(ab)}" for ab in claimed])]


def report_blocks(runs: list[Run], sweeps: list[Sweep], dirs: list[Path], out_dir: Path | None,
                  threshold: float = DEFAULT_THRESHOLD) -> list[Block]:
    ablations = analyse_runs(runs, threshold)
    blocks: list[Block] = [Heading("AlexNet ablation report", 1)]
    if not runs:
        blocks.append(Para("No job directories found under the sources."))
    blocks += summary_blocks(ablations)
    for ab in ablations:
        blocks += ablation_blocks(ab, out_dir, threshold)
    blocks += facts_blocks(runs, sweeps, dirs)
    blocks += [Heading("How the verdict is reached", 2), Para(rule(any(map(is_speed, ablations))))]
    return blocks


__all__ = ["Ablation", "Comparison", "analyse", "analyse_runs", "report_blocks"]
