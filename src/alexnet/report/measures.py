"""What each claim compares, one class per `paper.Claim.measure`: how it measures the arms, its
label, the paper's number and how its values are written. `analyse_runs` turns run records into
one `Ablation` per claim, each judged at its sweep's level (alexnet.sequential)."""

from __future__ import annotations

import functools
import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from alexnet import paper
from alexnet.report import stats
from alexnet.report.collect import Run, by_ablation, name_arms
from alexnet.report.verdict import NOT_MEASURABLE, TEXT, UNDECIDED, Verdict, judge, points
from alexnet.sequential import Plan, plan_of, sd_upper, seeds_needed

TRAIN_ERR, VAL_ERR = "train_eval/top1_err", "val/top1_err"
DEFAULT_RESOLUTION = 0.1  # points: one image of 1,000, when a record does not say its test size
PLATEAU = 0.5  # points: the paper's arm is trained out when its last epoch gained less than this


@dataclass
class ArmStats:
    """The completed runs of one arm (averaged) and its failed or missing ones (listed)."""

    name: str
    runs: list[Run]
    failed: list[Run]
    expected_seeds: tuple = ()

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def missing_seeds(self) -> list:
        """Seeds the sweep asked for that left no job directory at all."""
        found = {r.seed for r in self.runs + self.failed}
        return [s for s in self.expected_seeds if s not in found]

    def by_seed(self, metric: str | Callable[[dict], float | None]) -> dict:
        """{seed: value in %} of the completed runs (`metric`: a summary key, or a function of
        the summary): what the paired interval matches up."""
        get = metric if callable(metric) else lambda s: s.get(metric)
        return {r.seed: 100.0 * v for r in self.runs if (v := get(r.summary)) is not None}

    def cell(self, metric: str) -> str:  # mean ± sample std over seeds
        v = list(self.by_seed(metric).values())
        spread = f" ± {statistics.stdev(v):.2f}" if len(v) > 1 else ""
        return f"{statistics.fmean(v):.2f}{spread}" if v else "n/a"


def group_arms(runs: list[Run]) -> list[ArmStats]:
    arms: dict[str, ArmStats] = {}
    for run in runs:
        arm = arms.setdefault(run.arm_name, ArmStats(run.arm_name, [], []))
        (arm.runs if run.completed else arm.failed).append(run)
        arm.expected_seeds = tuple(sorted({*arm.expected_seeds, *run.expected_seeds}, key=str))
    return list(arms.values())


@dataclass
class Comparison:
    """One measured difference, oriented as the paper's claim: other arm minus the paper's arm
    (ten-crop: centre minus ten crops of the same weights; Figure 1: the log epochs ratio)."""

    label: str
    other: str  # the arm (or evaluation) compared with the paper's
    estimate: stats.Estimate | None  # the verdict's interval
    beside: stats.Estimate | None  # Welch's (what pairing buys), or ten-crop's paired t over seeds
    claimed: float | None  # in the estimate's units; None: shown, not judged
    verdict: Verdict | None = None
    per_seed: dict = field(default_factory=dict)
    note: str = ""
    ratio: bool = False  # values are log ratios (Figure 1), written as the ratios
    same_weights: bool = False  # ten-crop: two evaluations of the paper's arm's own weights

    def fmt(self, v: float) -> str:
        if not self.ratio:
            return f"{v:+.2f}"
        return ("n/a" if math.isnan(v) else "∞" if v == math.inf else "0×" if v == -math.inf
                else f"{math.exp(v):.2f}×")

    def interval(self, est: stats.Estimate) -> str:
        return "no CI" if est.ci is None else f"[{self.fmt(est.ci[0])}, {self.fmt(est.ci[1])}]"


class Measure:
    """Test error, other arm minus the paper's arm ("error")."""

    same_weights = False  # compares the paper's arm with itself (ten-crop), not with other arms
    LABEL = "{where} top-1"  # what it measures, with where the errors come from

    def label(self, claim: paper.Claim, where: str = "test") -> str:
        threshold = 100 * (claim.threshold or paper.FIGURE1_THRESHOLD)
        return self.LABEL.format(where=where, threshold=threshold)

    def paper_number(self, claim: paper.Claim) -> str:
        return f"{'≥ ' if claim.at_least else ''}{claim.top1_delta:+.1f}"

    def claimed(self, claim: paper.Claim) -> float:  # in the units of the measure's estimates
        return claim.top1_delta

    def show(self, v: float) -> str:  # a size as the verdict's reason writes it
        return points(v)

    def compare(self, ab: Ablation, base: ArmStats, other: ArmStats) -> list[Comparison]:
        return [ab.error(self.label(ab.claim, ab.where), base, other, ab.metric(),
                         self.claimed(ab.claim))]


class Overfit(Measure):
    """Dropout: the generalisation gap, test error − the error on the whole training split in
    eval mode, after training (records from before `final_train_all` have only the held-out
    error − a 1,000-image training subset, whose own noise is said). Judged only where the
    paper's arm has stopped improving: overfitting cannot show in a net still descending."""

    LABEL = "generalisation gap (test − train, eval mode)"

    def compare(self, ab, base, other):
        full = all(r.summary.get("final_train_all/top1_err") is not None
                   for a in (base, other) for r in a.runs)
        high, low = (("test/top1_err", "final_train_all/top1_err") if full
                     else ("final_val/top1_err", "final_train_eval/top1_err"))
        c = ab.error(self.label(ab.claim) if full else "held-out − train_eval top-1 gap", base,
                     other, lambda s: None if None in (s.get(high), s.get(low))
                     else s[high] - s[low], self.claimed(ab.claim))
        if not full:
            c.note = TEXT["notes"]["subset"]
        curves = [dict(r.series(VAL_ERR)) for r in base.runs]
        last = sorted(set.intersection(*map(set, curves)))[-2:] if curves else []
        gain = (100 * np.mean([curve[last[0]] - curve[last[1]] for curve in curves])
                if len(last) > 1 else 0)
        if gain >= PLATEAU:  # the paper's arm's mean held-out error in its last epoch
            c.verdict = Verdict(NOT_MEASURABLE, TEXT["notes"]["improving"].format(
                gain=gain, plateau=PLATEAU))
        return [c]


def epochs_to_threshold(run: Run, threshold: float = paper.FIGURE1_THRESHOLD,
                        key: str = TRAIN_ERR) -> float | None:
    """Epochs trained when `key` first reached `threshold` (a fraction), interpolated linearly
    between the evaluation before and the first at or below it (the first evaluation itself if
    it already was). None if the run never got there."""
    previous = None
    for epoch, value in sorted(run.series(key)):
        if value <= threshold:
            if previous is None or previous[1] == value:
                return float(epoch + 1)
            (e0, v0) = previous
            return e0 + 1 + (v0 - threshold) / (v0 - value) * (epoch - e0)
        previous = (epoch, value)
    return None


def epochs_trained(run: Run, key: str = TRAIN_ERR) -> int:
    return max((e + 1 for e, _ in run.series(key)), default=0)


def crossings(runs: list[Run], threshold: float = paper.FIGURE1_THRESHOLD) -> stats.Crossings:
    """Figure 1's crossing of every run, in seed order."""
    runs = sorted(runs, key=lambda r: str(r.seed))
    epochs = [epochs_to_threshold(r, threshold) for r in runs]
    return stats.Crossings([r.seed for r in runs], epochs, [epochs_trained(r) for r in runs])


class Speed(Measure):
    """Figure 1: the other arm's epochs to the training error threshold over the paper's arm's,
    on the log scale (a claimed 6× is log 6)."""

    LABEL = "epochs to {threshold:g} % train_eval error, ratio"

    def paper_number(self, claim):
        return f"{claim.speedup:g}×"

    def claimed(self, claim):
        return math.log(claim.speedup)

    def show(self, v):
        return f"{math.exp(v):.3g}×"

    def compare(self, ab, base, other):
        p, o = crossings(base.runs, ab.threshold), crossings(other.runs, ab.threshold)
        est = stats.log_speed_ratio(p, o, ab.level(len(set(p.seeds) & set(o.seeds))))
        per_seed = {s: math.log(b / a) for s, a, b in zip(p.seeds, p.epochs, o.epochs, strict=False)
                    if a is not None and b is not None}
        return [Comparison(self.label(ab.claim), other.name, est, None, self.claimed(ab.claim),
                           per_seed=per_seed, ratio=True)]


class PairedEval(Measure):
    """Ten-crop: the same weights scored twice. The verdict's interval is over seeds, then
    images (stats.seeds_by_images); the paired t over seeds and McNemar's test beside it."""

    same_weights = True
    LABEL = "test top-1: centre − ten crops"

    def compare(self, ab, base, other):
        runs = [r for r in base.runs if r.summary.get("test/tencrop_top1_err") is not None]
        if not runs:
            return []
        ten = {r.seed: 100 * r.summary["test/tencrop_top1_err"] for r in runs}
        centre = {r.seed: 100 * r.summary["test/top1_err"] for r in runs}
        level = ab.level(len(runs))
        est = over_seeds = stats.paired(ten, centre, level, ab.resolution)
        note = TEXT["notes"]["no_outcomes"]
        outcomes = [r.outcomes() for r in runs]
        if (all("tencrop_top1" in o for o in outcomes)
                and len({tuple(o.get("label", ())) for o in outcomes}) == 1):
            diffs = 100 * (np.array([o["tencrop_top1"] for o in outcomes], dtype=float)
                           - np.array([o["center_top1"] for o in outcomes], dtype=float))
            est = stats.seeds_by_images(diffs, level, ab.resolution)
            net = diffs.sum(0)  # an image counts for the evaluation right in more seeds
            only_centre, only_ten = int((net < 0).sum()), int((net > 0).sum())
            note = TEXT["notes"]["mcnemar"].format(
                centre=only_centre, ten=only_ten, images=net.size, seeds=len(runs),
                p=stats.mcnemar(only_centre, only_ten))
        return [Comparison(self.label(ab.claim), "centre crop", est, over_seeds,
                           self.claimed(ab.claim), per_seed={s: centre[s] - ten[s] for s in ten},
                           note=note, same_weights=True)]


MEASURES: dict[str, Measure] = {"error": Measure(), "overfit": Overfit(), "speed": Speed(),
                                "paired_eval": PairedEval()}


@dataclass
class Ablation:
    """One claim's arms (the paper's first) and their comparisons, the judged ones first."""

    name: str  # key of paper.CLAIMS, or "runs" when the records name none
    claim: paper.Claim | None
    arms: list[ArmStats]
    where: str = "test"  # or "final val": records without a test split
    plan: Plan | None = None
    resolution: float = DEFAULT_RESOLUTION  # one test image, in points
    threshold: float = paper.FIGURE1_THRESHOLD  # Figure 1's training error
    comparisons: list[Comparison] = field(default_factory=list)

    def metric(self, k: int = 1) -> str:
        """The summary key of the top-k error this ablation is scored on."""
        return f"{'test' if self.where == 'test' else 'final_val'}/top{k}_err"

    def level(self, n: int) -> float:
        """The interval's confidence at n paired seeds: the plan's, else 95 %."""
        return self.plan.confidence_at(n) if self.plan else stats.CONFIDENCE

    def error(self, label: str, base: ArmStats, other: ArmStats, metric,
              claimed: float | None = None) -> Comparison:
        """Other arm − paper's arm of `metric` (see ArmStats.by_seed), paired over seeds."""
        b, o = base.by_seed(metric), other.by_seed(metric)
        level = self.level(len(b.keys() & o.keys()))
        return Comparison(label, other.name, stats.paired(b, o, level, self.resolution),
                          stats.welch(list(b.values()), list(o.values()), level), claimed,
                          per_seed={s: o[s] - b[s] for s in b if s in o})

    @property
    def runs(self) -> list[Run]:
        return [r for a in self.arms for r in a.runs]

    @property
    def measure(self) -> Measure | None:
        return MEASURES[self.claim.measure] if self.claim else None

    @property
    def primary(self) -> Comparison | None:
        return next((c for c in self.comparisons if c.verdict is not None), None)

    @property
    def verdict(self) -> Verdict | None:
        return self.primary.verdict if self.primary else None

    @property
    def estimate(self) -> stats.Estimate | None:
        return self.primary.estimate if self.primary else None

    @property
    def adjusted_p(self) -> float | None:
        """The primary's p of "no effect", adjusted for its sweep's looks so that it is a valid
        p-value at every level (Holm's column compares it with 0.05/m): p × Σ_k α_k / α_n, α_k
        the per-look two-sided levels of the plan (union bound), times the looks made before
        the plan. Conservative: at 0.05 it may keep an effect whose interval excludes 0."""
        est, plan = self.estimate, self.plan
        if est is None or est.p_value is None or est.confidence >= 1:
            return None
        spent = (sum(1 - plan.confidence_at(n) for n in range(plan.min_seeds, plan.max_seeds + 1))
                 * plan.family_alpha / plan.alpha if plan else 1 - est.confidence)
        return min(1.0, est.p_value * spent / (1 - est.confidence))


def _value_of(arm: ArmStats, key: str):
    values = {json.dumps((r.summary.get("arm") or {}).get(key)) for r in arm.runs + arm.failed}
    return json.loads(values.pop()) if len(values) == 1 else None


def resolution(runs: list[Run]) -> float:
    """One test image, in points: the smallest difference the measure can show."""
    sizes = [n for r in runs
             if (n := (d := r.summary.get("data") or {}).get("test_images") or d.get("val_images"))]
    return 100.0 / max(sizes) if sizes else DEFAULT_RESOLUTION


def _undecided(v: Verdict, est: stats.Estimate, claimed: float, plan: Plan | None) -> Verdict:
    """The seeds per arm that would decide at the claimed size with 80 % power, at the observed
    spread and at its one-sided 80 % upper bound (a 3-seed spread is itself loose). A sign test
    (censored seeds) closes an end only from stats.sign_test_seeds(level) seeds on."""
    if est.censored:  # only a sign test on bounds leaves an end open
        level = plan.confidence_at(plan.max_seeds) if plan else est.confidence
        needed = stats.sign_test_seeds(level)
        if plan is not None and plan.max_seeds < needed:
            return Verdict(NOT_MEASURABLE, TEXT["notes"]["sign_test"].format(
                needed=needed, level=100 * level, seeds=plan.max_seeds), censored=True)
        return replace(v, seeds_needed=(needed, needed)) if est.n < needed else v
    if not est.sd:  # one seed: no spread to plan from
        return v
    first = plan.min_seeds if plan else 3
    return replace(v, seeds_needed=(seeds_needed(est.sd, claimed, first),
                                    seeds_needed(sd_upper(est.sd, est.n), claimed, first)))


def _before_first_look(c: Comparison, plan: Plan) -> None:
    """A plan's intervals hold at its looks only: before the first, no interval and no verdict
    (its critical value at n < min_seeds would print a meaningless ±10⁵-point interval)."""
    est = c.estimate
    if est is None or est.ci is None or est.n >= plan.min_seeds:
        return
    c.estimate = replace(est, ci=None, se=None, df=None)
    c.beside = c.beside and replace(c.beside, ci=None, se=None, df=None)
    if c.claimed is not None:
        c.verdict = Verdict(UNDECIDED, TEXT["notes"]["before_first_look"].format(
            n=est.n, first=plan.min_seeds))  # a pair exists: the sweep goes on


def analyse(name: str, runs: list[Run], threshold: float = paper.FIGURE1_THRESHOLD,
            plan: Plan | None = None) -> Ablation:
    claim = paper.CLAIMS.get(name)
    arms = group_arms(runs)
    if claim is not None:  # the paper's arm first: every difference is measured against it
        arms.sort(key=lambda a: _value_of(a, claim.switch) != claim.paper_arm)
    where = "test" if any(r.summary.get("test/top1_err") is not None for r in runs) else "final val"
    ab = Ablation(name, claim, arms, where, plan, resolution(runs), threshold)
    base, judged = (arms[0] if arms else None), []
    if claim is not None and ab.measure.same_weights and base is not None:
        judged = ab.measure.compare(ab, base, base)
    for other in arms[1:]:
        mine = []
        if claim is not None and _value_of(other, claim.switch) == claim.other_arm:
            judged += (mine := ab.measure.compare(ab, base, other))
        shown = (ab.error(f"{where} top-{k}", base, other, ab.metric(k)) for k in (1, 5))
        ab.comparisons += [c for c in shown if all(j.label != c.label for j in mine)]
    for c in judged + ab.comparisons if plan is not None else ():
        _before_first_look(c, plan)
    for c in judged:
        c.verdict = c.verdict or judge(c.estimate, c.claimed, claim.at_least, ab.measure.show)
        if not c.verdict.final and c.estimate is not None:
            c.verdict = _undecided(c.verdict, c.estimate, c.claimed, plan)
    ab.comparisons = judged + ab.comparisons
    return ab


SHARED_BASELINE = "all"  # experiment=ablate_all: one baseline per seed serves every claim
SHARED = "shared_baseline"  # marks those baseline runs in each claim's copy of their summary


def split_shared_baseline(runs: list[Run]) -> dict[str, list[Run]]:
    """ablate_all's runs as one ablation per claim: the seed's baseline runs as that claim's
    paper arm and the runs with that claim's switch (alone) at its other arm; ten-crop on the
    baselines' own test pass. Claims without runs of their other arm are left out."""
    base = [r for r in runs if not r.summary.get("arm")]
    out = {}
    for name, claim in paper.CLAIMS.items():
        tag = {"ablation": name, SHARED: True}
        if claim.arch == "alexnet" and MEASURES[claim.measure].same_weights and base:
            out[name] = [replace(r, summary=r.summary | tag) for r in base]
        elif claim.arch == "alexnet" and (other := [r for r in runs if paper.claim_switched(
                r.summary.get("arm")) == name]):
            paper_arm = {"arm": {claim.switch: claim.paper_arm}}
            out[name] = ([replace(r, summary=r.summary | tag | paper_arm) for r in base]
                         + [replace(r, summary=r.summary | {"ablation": name}) for r in other])
            name_arms(out[name])
    return out


def analyse_runs(runs: list[Run], threshold: float = paper.FIGURE1_THRESHOLD) -> list[Ablation]:
    """Every ablation in `runs`, each at its own sweep's level (the plan in sequential.json, or
    95 % for a fixed set of seeds); an ablate_all sweep gives one ablation per claim."""
    groups: dict[str | None, list[Run]] = {}
    for name, members in by_ablation(runs).items():
        split = split_shared_baseline(members) if name == SHARED_BASELINE else {name: members}
        for claim, claim_runs in split.items():
            groups.setdefault(claim, []).extend(claim_runs)
    plans = functools.cache(plan_of)  # ablate_all's claims share one sweep: its plan read once
    return [analyse(name if name is not None else "runs", members, threshold,
                    plans(frozenset(r.path.parent for r in members)))
            for name, members in groups.items()]
