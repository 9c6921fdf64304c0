"""Per-arm statistics over seeds, in percentage points of error, with Student-t intervals.

The claimed effects (0.3-1.7 points) are the size of seed-to-seed noise on small data, so
every mean comes with a 95 % confidence interval (t, n-1 dof) and every difference between
arms with a Welch interval. Fewer than two seeds give no interval: None, never a made-up one.
The t quantile is computed here (regularised incomplete beta) to avoid a SciPy dependency.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from alexnet.report.collect import Run

METRICS = ("final_val/top1_err", "final_val/top5_err", "best_val/top1_err", "best_val/top5_err")
CONFIDENCE = 0.95


# -- Student t ------------------------------------------------------------------------------------
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with `df` (possibly fractional) degrees of freedom."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


def mean_ci(values: list[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """mean ± t(n-1) · s/√n; None with fewer than two values (no interval is possible)."""
    if len(values) < 2:
        return None
    m, se = statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))
    half = t_quantile(0.5 + confidence / 2.0, len(values) - 1) * se
    return m - half, m + half


# -- arms -----------------------------------------------------------------------------------------
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

    @property
    def n_jobs(self) -> int:
        """Jobs the arm should have: completed + failed or unfinished + never started."""
        return self.n + len(self.failed) + len(self.missing_seeds)

    def values(self, metric: str) -> list[float]:
        return [100.0 * v for r in self.runs if (v := r.value(metric)) is not None]

    def mean(self, metric: str) -> float | None:
        v = self.values(metric)
        return statistics.fmean(v) if v else None

    def std(self, metric: str) -> float | None:
        """Sample standard deviation (n-1); None with fewer than two seeds."""
        v = self.values(metric)
        return statistics.stdev(v) if len(v) >= 2 else None

    def ci(self, metric: str) -> tuple[float, float] | None:
        return mean_ci(self.values(metric))


def group_arms(runs: list[Run]) -> list[ArmStats]:
    arms: dict[str, ArmStats] = {}
    for run in runs:
        arm = arms.setdefault(run.arm_name, ArmStats(run.arm_name, [], []))
        (arm.runs if run.completed else arm.failed).append(run)
        arm.expected_seeds = tuple(sorted(set(arm.expected_seeds) | set(run.expected_seeds), key=str))
    return list(arms.values())


# -- differences ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Difference:
    """mean(other) − mean(base) with a Welch interval; `ci` and `df` are None without one."""

    delta: float
    se: float | None
    df: float | None
    ci: tuple[float, float] | None


def welch(base: list[float], other: list[float], confidence: float = CONFIDENCE) -> Difference | None:
    """Welch's two-sample interval for mean(other) − mean(base): unequal variances,
    Welch–Satterthwaite degrees of freedom. None if a side has no value; no interval if a
    side has one value."""
    if not base or not other:
        return None
    delta = statistics.fmean(other) - statistics.fmean(base)
    if len(base) < 2 or len(other) < 2:
        return Difference(delta, None, None, None)
    va, vb = statistics.variance(base) / len(base), statistics.variance(other) / len(other)
    se = math.sqrt(va + vb)
    if se == 0.0:  # both arms identical across seeds: the interval is the point
        return Difference(delta, 0.0, float(len(base) + len(other) - 2), (delta, delta))
    df = (va + vb) ** 2 / (va**2 / (len(base) - 1) + vb**2 / (len(other) - 1))
    half = t_quantile(0.5 + confidence / 2.0, df) * se
    return Difference(delta, se, df, (delta - half, delta + half))


def difference(a: ArmStats, b: ArmStats, metric: str) -> tuple[float | None, float | None]:
    """mean(b) - mean(a) and its standard error (Welch); None where a side lacks two seeds."""
    d = welch(a.values(metric), b.values(metric))
    return (None, None) if d is None else (d.delta, d.se)
