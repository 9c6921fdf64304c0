"""Training curves over seeds, and the Figure 1 measure: epochs to reach a training error.

Figure 1 of the paper compares ReLU and tanh by how many epochs each needs to reach 25 %
training error. A run that never gets there is censored, not dropped: it says so, and the
ratio between arms is given only where it is a number (or as a lower bound).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from alexnet.report.collect import Run

TRAIN_ERR, VAL_ERR, VAL_TOP5 = "train/top1_err", "val/top1_err", "val/top5_err"
DEFAULT_THRESHOLD = 0.25


@dataclass(frozen=True)
class Band:
    """A metric per epoch over seeds: mean, min, max, std (None with one seed), in %."""

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


def epochs_trained(run: Run) -> int:
    return max((e + 1 for e, _ in run.series(TRAIN_ERR)), default=0)


@dataclass(frozen=True)
class Speed:
    """Epochs to the threshold per seed of one arm (None: never reached in `trained` epochs)."""

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
    return Speed([epochs_to_threshold(r, threshold) for r in runs], [epochs_trained(r) for r in runs])


def ratio(other: Speed, paper: Speed) -> tuple[str, float | None]:
    """other / paper epochs: ('=', r) when both arms always reached it, ('>', bound) when only
    the paper's arm did (the other needs more than all its epochs), else ('', None)."""
    if paper.mean and other.mean is not None:
        return "=", other.mean / paper.mean
    if paper.mean and not any(other.reached) and other.trained:
        return ">", min(other.trained) / paper.mean
    return "", None
