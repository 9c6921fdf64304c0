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

    def by_seed(self, metric: str) -> dict:
        """{seed: value in %} of the completed runs: what the paired interval matches up."""
        return {r.seed: 100.0 * v for r in self.runs if (v := r.value(metric)) is not None}

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
class Estimate:
    """A difference (other arm − paper's arm) with its interval and how it was made.

    `ci` is None when no interval is possible (fewer than two units); a side may be ±inf
    when censoring leaves it open (Figure 1's epochs to a threshold). `floored` says the
    observed spread was below the measure's resolution and was raised to it: a zero spread
    is a limit of the measurement, never certainty.
    """

    delta: float
    ci: tuple[float, float] | None
    n: int  # units behind the interval: paired seeds, or images for the per-image bootstrap
    sd: float | None  # spread of one unit's difference (paired) — what a power estimate needs
    df: float | None
    confidence: float
    method: str
    floored: bool = False

    @property
    def se(self) -> float | None:
        return None if self.sd is None or self.n < 1 else self.sd / math.sqrt(self.n)


def paired(base: dict, other: dict, confidence: float = CONFIDENCE, resolution: float = 0.0) -> Estimate | None:
    """Paired-t interval of mean(other[s] − base[s]) over the seeds s both arms completed
    (df = n − 1). Pairing removes what two arms of one seed share (data order, crops,
    initial weights) from the noise. `resolution` floors the spread (one test image, in
    points): n identical differences say the spread is below what the measure resolves."""
    seeds = [s for s in base if s in other]
    if not seeds:
        return None
    d = [other[s] - base[s] for s in seeds]
    mean = statistics.fmean(d)
    if len(d) < 2:
        return Estimate(mean, None, 1, None, None, confidence, "paired t")
    sd = statistics.stdev(d)
    floored = sd < resolution
    sd = max(sd, resolution)
    half = t_quantile(0.5 + confidence / 2.0, len(d) - 1) * sd / math.sqrt(len(d))
    return Estimate(mean, (mean - half, mean + half), len(d), sd, len(d) - 1.0, confidence,
                    "paired t", floored)


def welch(base: list[float], other: list[float], confidence: float = CONFIDENCE) -> Estimate | None:
    """Welch's two-sample interval for mean(other) − mean(base): unequal variances,
    Welch–Satterthwaite degrees of freedom; shown beside the paired interval (it ignores
    the pairing, so it is wider when the pairing works). None if a side has no value; no
    interval if a side has one value or both have no spread."""
    if not base or not other:
        return None
    delta = statistics.fmean(other) - statistics.fmean(base)
    n = min(len(base), len(other))
    if n < 2:
        return Estimate(delta, None, n, None, None, confidence, "Welch")
    va, vb = statistics.variance(base) / len(base), statistics.variance(other) / len(other)
    se = math.sqrt(va + vb)
    if se == 0.0:  # no spread in either arm: Welch's dof is undefined, no interval is made up
        return Estimate(delta, None, n, 0.0, None, confidence, "Welch")
    df = (va + vb) ** 2 / (va**2 / (len(base) - 1) + vb**2 / (len(other) - 1))
    half = t_quantile(0.5 + confidence / 2.0, df) * se
    return Estimate(delta, (delta - half, delta + half), n, se * math.sqrt(n), df, confidence, "Welch")


# -- per-image comparisons on the same weights (ten-crop) -----------------------------------------
BOOTSTRAP_SAMPLES = 2000


def paired_bootstrap(per_image: list[list[float]], confidence: float = CONFIDENCE,
                     samples: int = BOOTSTRAP_SAMPLES, resolution: float = 0.0, seed: int = 0) -> Estimate:
    """Percentile interval of the mean per-image difference, images resampled with
    replacement. `per_image[s][i]` is image i's difference in seed s (in points: 100 · (1 if
    only the other evaluation got it wrong, −1 if only the paper's did)); the seeds are
    averaged per image, so an image keeps its pairing across seeds. Deterministic (`seed`)."""
    import numpy as np

    v = np.asarray(per_image, dtype=np.float64).mean(axis=0)
    rng = np.random.default_rng(seed)
    means = np.concatenate([v[rng.integers(0, len(v), (min(200, samples - k), len(v)))].mean(1)
                            for k in range(0, samples, 200)])
    alpha = 1.0 - confidence
    lo, hi = (float(q) for q in np.quantile(means, [alpha / 2, 1 - alpha / 2]))
    mean = float(v.mean())
    floored = hi - lo < 2 * resolution
    if floored:  # a degenerate bootstrap (e.g. no image changes) resolves nothing below one image
        lo, hi = min(lo, mean - resolution), max(hi, mean + resolution)
    return Estimate(mean, (lo, hi), len(v), float(v.std(ddof=1)) if len(v) > 1 else None, None,
                    confidence, f"paired bootstrap over images ({samples} resamples)", floored)


def mcnemar(only_base_right: int, only_other_right: int) -> float:
    """Exact two-sided McNemar p-value: of the images the two evaluations disagree on, is the
    split between them further from 50:50 than chance? (binomial, p = 1/2)."""
    n, k = only_base_right + only_other_right, min(only_base_right, only_other_right)
    if n == 0:
        return 1.0
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
                 for i in range(k + 1)]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(x - top) for x in log_terms)
    return min(1.0, 2.0 * tail)
