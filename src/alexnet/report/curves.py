"""Training curves over seeds, and Figure 1's measure: epochs to 25 % training error (here in
eval mode on a fixed training subset, `train_eval/top1_err`). The crossing is interpolated
between evaluations (read at epoch ends it is biased towards a ratio of 1); a run that never
gets there is censored, not dropped: it bounds its seed's ratio from one side."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np
from scipy import stats

from alexnet.paper import FIGURE1_THRESHOLD
from alexnet.report.collect import Run
from alexnet.report.stats import CONFIDENCE, Estimate

TRAIN_ERR, VAL_ERR = "train_eval/top1_err", "val/top1_err"
DEFAULT_THRESHOLD = FIGURE1_THRESHOLD


def epochs_to_threshold(run: Run, threshold: float = DEFAULT_THRESHOLD,
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


@dataclass(frozen=True)
class Speed:
    """Epochs to the threshold per seed of one arm (None: never reached in `trained` epochs)."""

    seeds: list
    epochs: list[float | None]
    trained: list[int]

    def describe(self) -> str:
        if not self.epochs:
            return "no completed run"
        cells = [f"{e:.2f}" if e is not None else f"never (> {t} ep.)"
                 for e, t in zip(self.epochs, self.trained, strict=True)]
        reached = [e for e in self.epochs if e is not None]
        head = (f"{statistics.fmean(reached):.2f}" if len(reached) == len(self.epochs)
                else f"{len(reached)} of {len(self.epochs)} seeds reached it")
        return f"{head} [{', '.join(cells)}]"


def speed(runs: list[Run], threshold: float = DEFAULT_THRESHOLD) -> Speed:
    runs = sorted(runs, key=lambda r: str(r.seed))
    return Speed([r.seed for r in runs], [epochs_to_threshold(r, threshold) for r in runs],
                 [epochs_trained(r) for r in runs])


def sign_test_bounds(lower: list[float], upper: list[float],
                     confidence: float) -> tuple[float, float]:
    """Distribution-free interval for the median of values known only within [lower, upper]
    per unit (censored: ±inf): the k-th smallest lower and k-th largest upper bound, k the
    largest order with P(Bin(n, 1/2) < k) ≤ (1 − confidence)/2. Open (±inf) for too small n."""
    n = len(lower)
    k = 0
    while stats.binom.cdf(k, n, 0.5) <= (1 - confidence) / 2:
        k += 1
    if k == 0:
        return -math.inf, math.inf
    return float(np.sort(lower)[k - 1]), float(np.sort(upper)[n - k])


def sign_test_seeds(confidence: float) -> int:
    """The fewest seeds whose sign test can close an end: 2 · 2^−n ≤ 1 − confidence."""
    return math.ceil(math.log2(2 / (1 - confidence))) if confidence < 1 else 10**9


def log_speed_ratio(paper: Speed, other: Speed, confidence: float = CONFIDENCE) -> Estimate | None:
    """Paired over seeds: log(epochs of the other arm / epochs of the paper's arm). When every
    seed crossed in both arms, a paired t on the log ratios, its spread floored at one epoch at
    the fastest crossing; when some seed was censored (a crossing after its last epoch), a sign
    test on each seed's bounds, valid under censoring (its parameter the median log ratio)."""
    p, o = ({s: (e, t) for s, e, t in zip(x.seeds, x.epochs, x.trained, strict=True)}
            for x in (paper, other))
    seeds = [s for s in p if s in o]
    if not seeds:
        return None
    lower, upper = [], []  # per seed: bounds on the log ratio (a censored arm crossed after T)
    for s in seeds:
        (ep, tp), (eo, to) = p[s], o[s]
        lower.append(math.log((eo or to) / ep) if ep is not None else -math.inf)
        upper.append(math.log(eo / (ep or tp)) if eo is not None else math.inf)
    n = len(seeds)
    reached = [e for e, _ in (*p.values(), *o.values()) if e is not None]
    if not reached:
        return Estimate(math.nan, (-math.inf, math.inf), n, confidence, "sign test on bounds",
                        censored=True, all_censored=True)
    exact = lower == upper
    if not exact:
        ci = sign_test_bounds(lower, upper, confidence) if n > 1 else None
        return Estimate(math.nan, ci, n, confidence, "sign test on bounds", censored=True)
    delta = statistics.fmean(lower)
    if n < 2:
        return Estimate(delta, None, 1, confidence, "paired t")
    floor = math.log1p(1.0 / min(reached))
    sd = statistics.stdev(lower)
    return Estimate.t(delta, max(sd, floor) / math.sqrt(n), n - 1.0, n, max(sd, floor), confidence,
                      "paired t", sd < floor)
