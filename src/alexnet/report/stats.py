"""Per-arm statistics over seeds, in percentage points of error."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from alexnet.report.collect import Run

METRICS = ("final_val/top1_err", "final_val/top5_err", "best_val/top1_err", "best_val/top5_err")


@dataclass
class ArmStats:
    name: str
    runs: list[Run]
    failed: list[Run]

    @property
    def n(self) -> int:
        return len(self.runs)

    def values(self, metric: str) -> list[float]:
        return [100.0 * r.summary[metric] for r in self.runs if r.summary.get(metric) is not None]

    def mean(self, metric: str) -> float | None:
        v = self.values(metric)
        return statistics.fmean(v) if v else None

    def std(self, metric: str) -> float | None:
        """Sample standard deviation (n-1); None with fewer than two seeds."""
        v = self.values(metric)
        return statistics.stdev(v) if len(v) >= 2 else None


def group_arms(runs: list[Run]) -> list[ArmStats]:
    arms: dict[str, ArmStats] = {}
    for run in runs:
        arm = arms.setdefault(run.arm_name, ArmStats(run.arm_name, [], []))
        (arm.runs if run.completed else arm.failed).append(run)
    return list(arms.values())


def difference(a: ArmStats, b: ArmStats, metric: str) -> tuple[float | None, float | None]:
    """mean(b) - mean(a) and its standard error (Welch); None where a side lacks two seeds."""
    ma, mb = a.mean(metric), b.mean(metric)
    if ma is None or mb is None:
        return None, None
    sa, sb = a.std(metric), b.std(metric)
    se = math.sqrt(sa**2 / a.n + sb**2 / b.n) if sa is not None and sb is not None else None
    return mb - ma, se
