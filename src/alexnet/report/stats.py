"""Per-arm statistics over seeds and the intervals of differences, in points of error. The
claimed effects (0.4-2 points) are the size of seed-to-seed noise, so every difference comes with
an interval over the unit the verdict generalises over: seeds (paired t), or seeds then images
(ten-crop). Fewer than two seeds give no interval, never a made-up one. Quantiles: scipy's."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


SEEDS_X_IMAGES = "seeds × images"  # the kind of a two-level (seeds, then test images) estimate


@dataclass(frozen=True)
class Estimate:
    """A difference (other arm − paper's arm) with its interval and how it was made. `ci`: None
    under two seeds; an end ±inf when censored runs leave it open (`censored`; `all_censored`: no
    run of an arm reached the threshold). `floored`: the spread was raised to the resolution.
    `sd`: one seed's spread (for power); `se`: the standard error of `delta`."""

    delta: float
    ci: tuple[float, float] | None
    n: int  # paired seeds
    confidence: float
    kind: str  # "paired t" | "Welch" | "seeds × images" | "sign test on bounds"
    sd: float | None = None
    se: float | None = None
    df: float | None = None
    floored: bool = False
    censored: bool = False
    all_censored: bool = False

    @classmethod
    def t(cls, delta: float, se: float, df: float, n: int, sd: float, confidence: float,
          kind: str, floored: bool = False) -> Estimate:
        half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
        return cls(delta, (delta - half, delta + half), n, confidence, kind, sd, se, df, floored)

    @property
    def p_value(self) -> float | None:
        """Two-sided p of "no difference" at the estimate's own df; None without a spread."""
        if not self.se or self.df is None or not math.isfinite(self.delta):
            return None
        return float(2 * stats.t.sf(abs(self.delta) / self.se, self.df))


def paired(base: dict, other: dict, confidence: float = CONFIDENCE,
           resolution: float = 0.0) -> Estimate | None:
    """Paired t over the seeds both arms completed (df = n − 1): mean of other[s] − base[s].
    `resolution` floors the spread: identical differences are a limit of the measure."""
    d = [other[s] - base[s] for s in base if s in other]
    if not d:
        return None
    mean, n = statistics.fmean(d), len(d)
    if n < 2:
        return Estimate(mean, None, 1, confidence, "paired t")
    sd = statistics.stdev(d)
    return Estimate.t(mean, max(sd, resolution) / math.sqrt(n), n - 1.0, n, max(sd, resolution),
                      confidence, "paired t", sd < resolution)


def welch(base: list[float], other: list[float], confidence: float = CONFIDENCE) -> Estimate | None:
    """Welch's unpaired interval, shown beside the paired one for what pairing buys."""
    if not base or not other:
        return None
    delta = statistics.fmean(other) - statistics.fmean(base)
    n = min(len(base), len(other))
    va, vb = (statistics.variance(x) / len(x) for x in (base, other)) if n > 1 else (0, 0)
    if va + vb == 0:  # one value, or no spread: Welch's df is undefined
        return Estimate(delta, None, n, confidence, "Welch")
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(base) - 1) + vb**2 / (len(other) - 1))
    return Estimate.t(delta, se, df, n, se * math.sqrt(n), confidence, "Welch")


def seeds_by_images(diffs: np.ndarray, confidence: float = CONFIDENCE,
                    resolution: float = 0.0) -> Estimate | None:
    """Two evaluations of the same weights (ten-crop), per seed s and image i: d[s, i] in points.
    Seeds and images both random and crossed: the variance of the grand mean is
    (MS_seed + MS_image − MS_residual) / (S·I) (two-way ANOVA), never below the paired t's over
    seeds. With seeds that disagree it is about that paired t; with seeds that agree it keeps
    the images' own sampling error. The t has S − 1 df, the seeds being what one adds: more
    conservative than Satterthwaite's df, whose jumps at small S break a sequential plan's
    per-look level, and what the plan's critical values are calibrated for."""
    d = np.asarray(diffs, dtype=np.float64)
    s, i = d.shape
    mean = float(d.mean())
    if s < 2:
        return Estimate(mean, None, s, confidence, SEEDS_X_IMAGES)
    rows, cols = d.mean(1), d.mean(0)
    ms_s, ms_i = i * rows.var(ddof=1), s * cols.var(ddof=1)
    ms_e = ((d - rows[:, None] - cols[None, :] + mean) ** 2).sum() / ((s - 1) * (i - 1))
    var = max(ms_s + ms_i - ms_e, ms_s) / (s * i)
    floored = math.sqrt(var) < resolution / math.sqrt(s)
    se = max(math.sqrt(var), resolution / math.sqrt(s))
    sd_seed = max(math.sqrt(ms_s / i), resolution)  # one seed's spread of its mean difference
    return Estimate.t(mean, se, s - 1.0, s, sd_seed, confidence, SEEDS_X_IMAGES, floored)


def mcnemar(only_base_right: int, only_other_right: int) -> float:
    """Exact two-sided McNemar p: of the images the evaluations disagree on, is the split further
    from 50:50 than chance?"""
    n = only_base_right + only_other_right
    return 1.0 if n == 0 else float(stats.binomtest(only_base_right, n, 0.5).pvalue)


def holm(p_values: dict[str, float | None], alpha: float = 0.05) -> dict[str, bool]:
    """Holm's step-down decisions at family-wise level `alpha` (valid under any dependence,
    e.g. claims sharing a baseline); a claim without a p-value is not rejected."""
    ranked = sorted((p, k) for k, p in p_values.items() if p is not None)
    stop = next((j for j, (p, _) in enumerate(ranked) if p > alpha / (len(ranked) - j)), None)
    return {k: any(k == kept for _, kept in ranked[:stop]) for k in p_values}


@dataclass(frozen=True)
class Crossings:
    """Figure 1: per seed of one arm, the epochs at which its training error crossed the threshold
    (None: censored, not yet in its `trained` epochs)."""

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


def log_speed_ratio(paper: Crossings, other: Crossings,
                    confidence: float = CONFIDENCE) -> Estimate | None:
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
    if lower != upper:
        ci = sign_test_bounds(lower, upper, confidence) if n > 1 else None
        return Estimate(math.nan, ci, n, confidence, "sign test on bounds", censored=True)
    return paired(dict.fromkeys(seeds, 0.0), dict(zip(seeds, lower, strict=True)), confidence,
                  math.log1p(1.0 / min(reached)))  # one epoch at the fastest crossing
