"""Training curves over seeds, and the Figure 1 measure: epochs to reach a training error.

Figure 1 of the paper compares ReLU and tanh by how many epochs each needs to reach 25 %
training error. The training error here is the honest one, measured in eval mode on a fixed
subset of training images (`train_eval/top1_err`), not the running error of the training
steps. A run that never gets there is censored, not dropped: it bounds the ratio.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from alexnet.paper import FIGURE1_THRESHOLD
from alexnet.report.collect import Run
from alexnet.report.stats import CONFIDENCE, Estimate, t_quantile

TRAIN_ERR, VAL_ERR = "train_eval/top1_err", "val/top1_err"
RUNNING_TRAIN_ERR = "train/running_top1_err"
DEFAULT_THRESHOLD = FIGURE1_THRESHOLD


@dataclass(frozen=True)
class Band:
    """A metric per epoch over seeds: mean, min, max, in %."""

    epochs: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]
    n: list[int]


def band(runs: list[Run], key: str) -> Band:
    """Mean and min–max over the runs that logged epoch e (epochs start at 1 here)."""
    per_epoch: dict[int, list[float]] = {}
    for run in runs:
        for epoch, value in run.series(key):
            per_epoch.setdefault(epoch, []).append(100.0 * value)
    epochs = sorted(per_epoch)
    return Band(
        [e + 1 for e in epochs],
        [statistics.fmean(per_epoch[e]) for e in epochs],
        [min(per_epoch[e]) for e in epochs],
        [max(per_epoch[e]) for e in epochs],
        [len(per_epoch[e]) for e in epochs],
    )


def epochs_to_threshold(run: Run, threshold: float = DEFAULT_THRESHOLD, key: str = TRAIN_ERR) -> int | None:
    """Epochs trained when `key` first is at or below `threshold` (a fraction): 1 if the first
    epoch already got there. None if the run never did."""
    for epoch, value in sorted(run.series(key)):
        if value <= threshold:
            return epoch + 1
    return None


def epochs_trained(run: Run, key: str = TRAIN_ERR) -> int:
    return max((e + 1 for e, _ in run.series(key)), default=0)


@dataclass(frozen=True)
class Speed:
    """Epochs to the threshold per seed of one arm (None: never reached in `trained` epochs)."""

    seeds: list
    epochs: list[int | None]
    trained: list[int]

    @property
    def reached(self) -> list[bool]:
        return [e is not None for e in self.epochs]

    @property
    def mean(self) -> float | None:
        """Mean over seeds, only when every seed reached the threshold."""
        return statistics.fmean(self.epochs) if self.epochs and all(self.reached) else None

    def describe(self) -> str:
        if not self.epochs:
            return "no completed run"
        cells = [str(e) if e is not None else f"never (≤{t} ep.)" for e, t in zip(self.epochs, self.trained, strict=True)]
        done = sum(self.reached)
        head = f"{self.mean:.1f}" if self.mean is not None else f"{done} of {len(self.epochs)} seeds reached it"
        return f"{head} [{', '.join(cells)}]"


def speed(runs: list[Run], threshold: float = DEFAULT_THRESHOLD) -> Speed:
    runs = sorted(runs, key=lambda r: str(r.seed))
    return Speed([r.seed for r in runs], [epochs_to_threshold(r, threshold) for r in runs],
                 [epochs_trained(r) for r in runs])


def log_speed_ratio(paper: Speed, other: Speed, confidence: float = CONFIDENCE) -> Estimate | None:
    """Paired over seeds: log(epochs of the other arm / epochs of the paper's arm), with a
    paired-t interval. A seed that never reached the threshold in T epochs needed more than
    T: it enters as the bound T + 1, which keeps one end of the interval valid and opens the
    other (a censored other arm bounds the ratio from below; a censored paper arm from
    above). The spread is floored at one epoch's worth at the smallest epoch count reached
(epoch e means "somewhere in (e − 1, e]"), so identical seeds give no certainty."""
    p = {s: (e, t) for s, e, t in zip(paper.seeds, paper.epochs, paper.trained, strict=True)}
    o = {s: (e, t) for s, e, t in zip(other.seeds, other.epochs, other.trained, strict=True)}
    seeds = [s for s in p if s in o]
    if not seeds:
        return None
    lower, upper = [], []  # per seed: a lower and an upper bound on the log ratio (None: open)
    for s in seeds:
        (ep, tp), (eo, to) = p[s], o[s]
        lower.append(math.log((eo if eo is not None else to + 1) / ep) if ep is not None else None)
        upper.append(math.log(eo / (ep if ep is not None else tp + 1)) if eo is not None else None)
    n = len(seeds)
    reached = [e for e, _ in list(p.values()) + list(o.values()) if e is not None]
    resolution = math.log1p(1.0 / min(reached)) if reached else 0.0  # one epoch at the fastest count
    exact = all(a is not None and a == b for a, b in zip(lower, upper, strict=True))
    point = [a for a in lower if a is not None] or [b for b in upper if b is not None]
    delta = statistics.fmean(point) if point else math.nan
    method = "paired t on log(epochs ratio)" + ("" if exact else ", censored seeds as bounds")
    if n < 2:
        return Estimate(delta, None, n, None, None, confidence, method)
    t = t_quantile(0.5 + confidence / 2.0, n - 1)

    def limit(values: list[float | None], side: int) -> tuple[float, float | None, bool]:
        if any(v is None for v in values):
            return side * math.inf, None, False
        sd = statistics.stdev(values)
        return statistics.fmean(values) + side * t * max(sd, resolution) / math.sqrt(n), sd, sd < resolution

    lo, sd_lo, fl_lo = limit(lower, -1)
    hi, sd_hi, fl_hi = limit(upper, +1)
    sd = sd_lo if sd_lo is not None else sd_hi
    return Estimate(delta, (lo, hi), n, None if sd is None else max(sd, resolution), n - 1.0,
                    confidence, method, fl_lo or fl_hi)
