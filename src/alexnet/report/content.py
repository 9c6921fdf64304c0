"""What the report says, as blocks: per ablation the arms, their difference with the paper's
claim and a verdict beside it, the Figure 1 measure, the curves, and every job's fate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from alexnet import paper
from alexnet.report import plots
from alexnet.report.collect import Run, Sweep
from alexnet.report.curves import DEFAULT_THRESHOLD, ratio, speed
from alexnet.report.document import Block, Bullets, Figure, Heading, Para, Table
from alexnet.report.stats import ArmStats, group_arms, welch
from alexnet.report.verdict import RULE, Verdict, judge, judge_censored

ARM_METRICS = (
    ("final_val/top1_err", "final val top-1 %"), ("final_val/top5_err", "final val top-5 %"),
    ("best_val/top1_err", "best val top-1 %"), ("best_val/top5_err", "best val top-5 %"),
)


@dataclass
class Comparison:
    """One row of the difference table: other arm minus the paper's (or first) arm."""

    metric: str
    label: str
    other: ArmStats
    delta: float | None
    ci: tuple[float, float] | None
    df: float | None
    claimed: str  # the paper's number as text, "-" if it states none
    claimed_value: float | None
    verdict: Verdict | None


@dataclass
class Ablation:
    name: str  # key of paper.CLAIMS, or "runs" when the records name none
    claim: paper.Claim | None
    arms: list[ArmStats]
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict | None:
        judged = [c.verdict for c in self.comparisons if c.verdict is not None]
        return judged[0] if judged else None


# -- formatting -----------------------------------------------------------------------------------
def fmt_arm_cell(arm: ArmStats, metric: str) -> str:
    mean = arm.mean(metric)
    if mean is None:
        return "n/a"
    ci = arm.ci(metric)
    if ci is None:
        return f"{mean:.2f} (1 seed: no CI possible)"
    return f"{mean:.2f} ± {arm.std(metric):.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"


def fmt_ci(ci: tuple[float, float] | None) -> str:
    return "no CI possible (one seed)" if ci is None else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def _value_of(arm: ArmStats, key: str):
    values = {json.dumps((r.summary.get("arm") or {}).get(key)) for r in arm.runs + arm.failed}
    return json.loads(values.pop()) if len(values) == 1 else None


def order_arms(arms: list[ArmStats], claim: paper.Claim | None) -> list[ArmStats]:
    """The paper's arm first: every difference is measured against it."""
    if claim is None:
        return arms
    return sorted(arms, key=lambda a: _value_of(a, claim.switch) != claim.paper_arm)


# -- analysis -------------------------------------------------------------------------------------
def analyse(name: str, runs: list[Run], threshold: float) -> Ablation:
    claim = paper.CLAIMS.get(name)
    arms = order_arms(group_arms(runs), claim)
    ablation = Ablation(name, claim, arms)
    if len(arms) < 2:
        return ablation
    base = arms[0]
    for other in arms[1:]:
        is_claimed_arm = claim is not None and _value_of(other, claim.switch) == claim.other_arm
        rows = [("final_val/top1_err", "final val top-1", claim.top1_delta if claim else None),
                ("final_val/top5_err", "final val top-5", claim.top5_delta if claim else None),
                ("best_val/top1_err", "best val top-1", None)]
        if claim is not None and claim.measure == "overfit":
            rows.append(("gap/top1_err", "val − train top-1 gap", None))
        for metric, label, claimed in rows:
            d = welch(base.values(metric), other.values(metric))
            verdict = None
            if is_claimed_arm and claim.measure == "error" and claimed is not None:
                verdict = judge(d, claimed)
            elif is_claimed_arm and claim.measure == "overfit" and metric == "gap/top1_err":
                verdict = judge(d, None, sign=+1)
            text = "-" if claimed is None else f"{'≥ ' if claim.at_least else ''}{claimed:+.1f}"
            if is_claimed_arm and claim.measure == "overfit" and metric == "gap/top1_err":
                text = "larger (direction only)"
            ablation.comparisons.append(Comparison(
                metric, label, other, None if d is None else d.delta, None if d is None else d.ci,
                None if d is None else d.df, text if is_claimed_arm else "-", claimed, verdict,
            ))
        if claim is not None and claim.measure == "speed" and is_claimed_arm:
            ablation.comparisons.insert(0, _speed_comparison(base, other, claim, threshold))
    return ablation


def _speed_comparison(base: ArmStats, other: ArmStats, claim: paper.Claim, threshold: float) -> Comparison:
    sb, so = speed(base.runs, threshold), speed(other.runs, threshold)
    censored = judge_censored(sb.reached, so.reached) if sb.epochs and so.epochs else None
    d = welch([float(e) for e in sb.epochs if e is not None], [float(e) for e in so.epochs if e is not None])
    verdict = censored or judge(d, None, sign=+1)
    usable = censored is None
    return Comparison(
        "epochs_to_threshold", f"epochs to {100 * threshold:g} % train error", other,
        d.delta if d and usable else None, d.ci if d and usable else None, d.df if d and usable else None,
        f"{claim.speedup:g}× as many epochs", None, verdict,
    )


# -- blocks ---------------------------------------------------------------------------------------
def ablation_blocks(ab: Ablation, out_dir: Path | None, threshold: float) -> list[Block]:
    title = "Runs (no ablation named)" if ab.name == "runs" else f"Ablation `{ab.name}`"
    blocks: list[Block] = [Heading(title, 2)]
    if ab.claim:
        blocks.append(Para(f"Claim under test: {ab.claim.text}."))
    if ab.verdict:
        blocks.append(Para(f"**Verdict: {ab.verdict.outcome}** ({ab.verdict.reason})."))
    elif ab.claim and len(ab.arms) < 2:
        blocks.append(Para("**Verdict: inconclusive** (only one arm has runs: nothing to compare)."))

    header = ["arm", "seeds completed", "parameters", *[label for _, label in ARM_METRICS], "epochs"]
    rows = []
    for arm in ab.arms:
        params = sorted({r.summary.get("parameters") for r in arm.runs} - {None})
        epochs = sorted({r.summary.get("epochs") for r in arm.runs} - {None})
        rows.append([f"`{arm.name}`", f"{arm.n} of {arm.n_jobs}", ", ".join(f"{p:,}" for p in params) or "-",
                     *[fmt_arm_cell(arm, m) for m, _ in ARM_METRICS], ", ".join(map(str, epochs)) or "-"])
    blocks += [Heading("Arms", 3),
               Para("Errors in %, over the completed seeds: mean ± sample std [95 % CI, Student t with "
                    "n−1 dof]. Failed and missing jobs are listed below and never averaged in."),
               Table(header, rows)]

    if ab.comparisons:
        base = ab.arms[0]
        rows = []
        for c in ab.comparisons:
            delta = "n/a" if c.delta is None else f"{c.delta:+.2f}"
            df = "-" if c.df is None else f"{c.df:.1f}"
            ci = fmt_ci(c.ci) if c.delta is not None else "-"
            verdict = str(c.verdict) if c.verdict else "-"
            rows.append([f"`{c.other.name}`", c.label, delta, ci, df, c.claimed, verdict])
        blocks += [Heading("Difference against the paper's arm", 3),
                   Para(f"Other arm minus `{base.name}`, percentage points (epochs for the speed row); "
                        "95 % CI by Welch's t (Welch–Satterthwaite dof). The paper's numbers are "
                        "ILSVRC differences, beside ours for scale."),
                   Table(["arm", "measure", "Δ", "95 % CI", "dof", "paper's Δ", "verdict"], rows)]

    blocks += speed_blocks(ab, threshold)
    if out_dir is not None:
        blocks += figure_blocks(ab, out_dir, threshold)
    blocks += job_blocks(ab)
    return blocks


def speed_blocks(ab: Ablation, threshold: float) -> list[Block]:
    if not any(r.metrics for a in ab.arms for r in a.runs):
        return []
    base = speed(ab.arms[0].runs, threshold)
    rows = []
    for i, arm in enumerate(ab.arms):
        s = speed(arm.runs, threshold)
        if i == 0:
            rel = "1 (reference)" if base.mean else "-"
        else:
            kind, value = ratio(s, base)
            rel = "n/a (an arm did not reach it in every seed)"
            if kind == "=":
                rel = f"{value:.2f}×"
            elif kind == ">":
                rel = f"> {value:.2f}× (never reached)"
        rows.append([f"`{arm.name}`", s.describe(), rel])
    claim = (f" The paper: tanh needs {ab.claim.speedup:g}× the epochs of ReLU."
             if ab.claim and ab.claim.measure == "speed" else "")
    return [Heading(f"Figure 1 measure: epochs to {100 * threshold:g} % training error", 3),
            Para("Epochs trained when the epoch's training top-1 error first was at or below the "
                 f"threshold (mean over seeds [per seed]); a seed that never got there is shown as "
                 f"never.{claim}"),
            Table(["arm", "epochs to threshold", f"ratio to `{ab.arms[0].name}`"], rows)]


def figure_blocks(ab: Ablation, out_dir: Path, threshold: float) -> list[Block]:
    blocks: list[Block] = []
    if any(r.metrics for a in ab.arms for r in a.runs):
        path = plots.curves(ab.arms, out_dir / f"curves-{ab.name}.png", threshold, title=ab.name)
        blocks.append(Figure(path.name, f"{ab.name}: training and validation top-1 error per epoch, "
                                        "mean over seeds with the min–max band"))
    rows = [(f"{c.other.name}: {c.label}", c.delta, c.ci, c.claimed_value)
            for c in ab.comparisons if c.delta is not None and c.metric != "epochs_to_threshold"]
    if rows:
        path = plots.differences(rows, out_dir / f"differences-{ab.name}.png", title=ab.name)
        blocks.append(Figure(path.name, f"{ab.name}: measured differences (95 % CI) and the paper's claim"))
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
        items.append(f"sweep `{sweep.path}`: {present} of {sweep.expected_jobs} jobs present "
                     f"(grid: {', '.join(f'{k}={v}' for k, v in sweep.params.items())})")
    if done:
        def distinct(getter):
            return sorted({json.dumps(getter(r.summary), sort_keys=True, default=str) for r in done})

        for label, getter in (
            ("data", lambda s: s.get("data")),
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
                     f"total wall time {wall / 60:.1f} min")
    items.append("sources: " + ", ".join(f"`{d}`" for d in dirs))
    return [Heading("Run facts", 2), Bullets(items)]


def summary_blocks(ablations: list[Ablation]) -> list[Block]:
    rows = []
    for ab in ablations:
        if ab.claim is None:
            continue
        head = next((c for c in ab.comparisons if c.verdict is not None), None)
        measured = "-"
        if head is not None and head.delta is not None:
            measured = f"{head.delta:+.2f} {fmt_ci(head.ci)}"
        n = ", ".join(f"{a.n} of {a.n_jobs}" for a in ab.arms)
        verdict = f"**{ab.verdict.outcome}** ({ab.verdict.reason})" if ab.verdict else "**inconclusive** (one arm)"
        rows.append([f"`{ab.name}`", ab.claim.text, head.label if head else "-", measured,
                     head.claimed if head else "-", n, verdict])
    if not rows:
        return []
    return [Heading("What each idea is worth", 2),
            Table(["ablation", "paper's claim", "measure", "measured Δ [95 % CI]", "paper's Δ",
                   "seeds per arm", "verdict"], rows)]


def report_blocks(runs: list[Run], sweeps: list[Sweep], dirs: list[Path], out_dir: Path | None,
                  threshold: float = DEFAULT_THRESHOLD) -> list[Block]:
    names = list(dict.fromkeys(r.ablation for r in runs))
    ablations = [analyse(n if n is not None else "runs", [r for r in runs if r.ablation == n], threshold)
                 for n in names]
    blocks: list[Block] = [Heading("AlexNet ablation report", 1)]
    if not runs:
        blocks.append(Para("No job directories found under the sources."))
    blocks += summary_blocks(ablations)
    for ab in ablations:
        blocks += ablation_blocks(ab, out_dir, threshold)
    blocks += facts_blocks(runs, sweeps, dirs)
    blocks += [Heading("How the verdict is reached", 2), Para(RULE)]
    return blocks
