"""Seeds until the answer is known: the plan of a sweep that adds seeds, written before seed 0.

A sweep with `ablation.max_seeds=N` runs `min_seeds` seeds per arm, then one more at a time,
and after each judges every claim. Looking repeatedly inflates a plain 95 % interval's error,
so the plan spends α over its looks (Lan–DeMets, O'Brien–Fleming-shaped: α(t) = 2 − 2Φ(z/√t),
t = n/N): strict at the first looks, where a t with 2 df decides little anyway, and near the
fixed-n level at the last. The critical values c_k of the paired t pivot |mean − Δ|/(s/√n)
are calibrated by simulation (the pivot's joint law over the looks depends on the n_k only) so
that the first exceedance falls at look k with probability α(t_k) − α(t_{k−1}): the repeated
intervals mean ± c_k·s/√n cover the true Δ at every look at once with ≥ 1 − α, whichever look
stops the sweep. They are computed once, when the plan is made, and saved with it in
`sequential.json`; so are the seeds of each batch (before it runs) and every look.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import stats

from alexnet.atomic import atomic_write_text

SEQUENTIAL_FILE = "sequential.json"
SPENDING = "obrien-fleming"
PATHS, RNG_SEED, MIN_TAIL_PATHS = 400_000, 2012, 10
SEEDS_CAP = 1000
STOP_DECIDED, STOP_MAX, STOP_BUDGET = "decided", "max_seeds", "budget"
STOP_CENSORED, STOP_FAILED = "censored", "failed"  # more seeds of the same cannot decide
CONTINUE = "continue"


def spent(t: float, alpha: float, spending: str = SPENDING) -> float:
    """α spent by information fraction t (O'Brien–Fleming-shaped Lan–DeMets function)."""
    if spending != SPENDING:
        raise ValueError(f"unknown α-spending {spending!r} (known: {SPENDING})")
    z = stats.norm.ppf(1 - alpha / 2)
    return alpha if t >= 1 else float(2 * stats.norm.sf(z / t**0.5))  # sf: no 1 − 1 = 0


@lru_cache(maxsize=256)
def critical_values(min_seeds: int, max_seeds: int, alpha: float = 0.05,
                    spending: str = SPENDING, rng_seed: int = RNG_SEED,
                    paths: int = PATHS) -> tuple[float, ...]:
    """c_k of the looks at n = min_seeds … max_seeds, calibrated on normal paths (fixed RNG,
    400,000 paths, or 40 million path-steps past 100 looks; the c_k of two RNG seeds differ by
    < 1 % where c_k < 7). Look k takes the paths still alive over the α(t_k)·paths that may
    have crossed by then; while that is under 10 paths, the t quantile of its share alone,
    which can only spend less (union bound: the rest is left to later looks). A fixed design
    (one look) is the plain t quantile."""
    cum = np.array([spent(n / max_seeds, alpha, spending) for n in range(min_seeds, max_seeds + 1)])
    df = np.arange(min_seeds, max_seeds + 1) - 1
    marginal = stats.t.ppf(1 - np.diff(cum, prepend=0.0) / 2, df)
    if max_seeds == min_seeds:
        return (float(marginal[0]),)
    paths = min(paths, max(100_000, 40_000_000 // max_seeds))
    rng = np.random.default_rng(rng_seed)
    s, q, alive, out = np.zeros(paths), np.zeros(paths), np.ones(paths, bool), []
    for n in range(1, max_seeds + 1):
        x = rng.standard_normal(paths)
        s += x
        q += x * x
        if n < min_seeds:
            continue
        k = n - min_seeds
        pivot = np.abs(s) / np.sqrt(np.maximum(n * (q - s * s / n) / (n - 1), 1e-300))
        live = pivot[alive]
        c, tail = float(marginal[k]), int(round(cum[k] * paths)) - (paths - live.size)
        if tail >= MIN_TAIL_PATHS:  # c: `tail` of the paths still alive lie above it
            c = min(c, float(np.partition(live, live.size - tail)[live.size - tail]))
        out.append(c)
        alive &= pivot <= c
    return tuple(out)


@dataclass
class Plan:
    min_seeds: int
    max_seeds: int
    budget_minutes: float | None = None
    alpha: float = 0.05
    spending: str = SPENDING
    critical: list[float] = field(default_factory=list)  # c_k of the looks at min … max seeds
    seeds: list[int] = field(default_factory=list)  # seed values launched, saved before each batch
    looks: list[dict] = field(default_factory=list)  # one per look: seeds, arms run, verdicts
    stopped: str | None = None  # a STOP_* once stopped
    prior_looks: list[dict] = field(default_factory=list)  # looks before the plan: seeds, alpha
    arm_seeds: dict[str, list[int]] = field(default_factory=dict)  # ablation.arm → its seeds
    resumed_after_s: float = 0.0  # wall time of the runs before a resume (the budget's)

    def __post_init__(self) -> None:
        for name in ("min_seeds", "max_seeds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"ablation.{name}={value!r} must be a whole number of seeds "
                                 "per arm")
        if self.min_seeds < 2:
            raise ValueError(f"ablation.min_seeds={self.min_seeds} must be at least 2 "
                             "(an interval needs 2 seeds)")
        if self.max_seeds < self.min_seeds:
            raise ValueError(f"ablation.max_seeds={self.max_seeds} must be at least "
                             f"ablation.min_seeds={self.min_seeds}")
        if self.budget_minutes is not None and not self.budget_minutes > 0:
            raise ValueError(f"ablation.budget_minutes={self.budget_minutes} must be positive "
                             "(or null: no budget)")
        if not 0 < self.alpha < 1:
            raise ValueError(f"ablation.alpha={self.alpha} must lie between 0 and 1")
        spent(1.0, self.alpha, self.spending)  # a known spending
        if not self.critical:
            self.critical = list(critical_values(self.min_seeds, self.max_seeds, self.alpha,
                                                 self.spending))
        self.critical = [math.inf if c is None else float(c) for c in self.critical]
        if len(self.critical) != self.planned_looks:
            raise ValueError(f"{SEQUENTIAL_FILE}: {len(self.critical)} critical values for "
                             f"{self.planned_looks} looks")

    @property
    def planned_looks(self) -> int:
        return self.max_seeds - self.min_seeds + 1

    @property
    def design(self) -> tuple:
        """What may not change once data exist."""
        return self.min_seeds, self.max_seeds, self.alpha, self.spending

    def _look(self, n: int) -> int:
        return min(max(n, self.min_seeds), self.max_seeds) - self.min_seeds

    def confidence_at(self, n: int) -> float:
        """The nominal two-sided level of the interval at n seeds: 2·F_t(c_k; n_k − 1) − 1."""
        k = self._look(n)
        return float(2 * stats.t.cdf(self.critical[k], self.min_seeds + k - 1) - 1)

    @property
    def family_alpha(self) -> float:
        """α over all looks, the looks made before the plan included (Bonferroni)."""
        return self.alpha + sum(float(p.get("alpha", 0.05)) for p in self.prior_looks)

    @property
    def level_label(self) -> str:
        label = f"≥ {100 * (1 - self.family_alpha):.3g} % over all looks"
        if self.prior_looks:
            before = " and ".join(f"a {100 * (1 - float(p.get('alpha', 0.05))):.3g} % look at "
                                  f"{p.get('seeds', '?')} seeds" for p in self.prior_looks)
            label += f" ({before} came before the plan)"
        return label

    def describe(self) -> str:
        budget = f", a budget of {self.budget_minutes:g} min" if self.budget_minutes else ""
        if self.planned_looks == 1:
            return (f"a fixed design: {self.min_seeds} seeds per arm{budget}, one look at "
                    f"{100 * self.confidence_at(self.min_seeds):.3g} %; {self.level_label}")
        first, last = self.critical[0], self.critical[-1]
        return (f"seeds added until decided: {self.min_seeds} seeds per arm, then one at a time "
                f"up to {self.max_seeds}{budget}; α spent over the ≤ {self.planned_looks} looks "
                f"({self.spending}): the t multiplier falls from {first:.3g} at {self.min_seeds} "
                f"seeds to {last:.3g} at {self.max_seeds} (a "
                f"{100 * self.confidence_at(self.max_seeds):.3g} % interval); {self.level_label}")

    def stop_reason(self) -> str:
        n = self.looks[-1].get("seeds", 0) if self.looks else 0
        reasons = {
            STOP_DECIDED: f"stopped after {n} seeds per arm: every verdict was decided",
            STOP_MAX: f"stopped at the maximum of {self.max_seeds} seeds per arm",
            STOP_BUDGET: f"stopped after {n} seeds per arm: the "
                         f"{self.budget_minutes or 0:g}-minute budget was spent",
            STOP_CENSORED: f"stopped after {n} seeds per arm: censored runs leave the interval "
                           "open, and more seeds of the same length cannot close it — train longer",
            STOP_FAILED: f"stopped after {n} seeds per arm: no completed pair of runs (see the "
                         "failed jobs)",
        }
        if self.stopped in reasons:
            return reasons[self.stopped]
        if not self.looks:
            return f"running: the first look comes after {self.min_seeds} seeds per arm"
        return f"running: {n} seeds per arm so far"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["critical"] = [c if math.isfinite(c) else None for c in self.critical]  # strict JSON
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Plan:
        """Also the Bonferroni-era format (no spending, no critical: today's spending; the
        earliest files name their seeds only in each look)."""
        if not d.get("seeds") and d.get("looks"):
            d = d | {"seeds": d["looks"][-1].get("seed_values") or []}
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})

    def save(self, sweep_dir: Path) -> None:
        path = Path(sweep_dir) / SEQUENTIAL_FILE
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")


def load_plan(sweep_dir: Path) -> Plan | None:
    path = Path(sweep_dir) / SEQUENTIAL_FILE
    return Plan.from_dict(json.loads(path.read_text())) if path.is_file() else None


def plan_of(sweep_dirs: Iterable[Path]) -> Plan | None:
    """The plan of these sweeps (the strictest last look, if several)."""
    plans = [p for d in sweep_dirs if (p := load_plan(d)) is not None]
    return max(plans, key=lambda p: p.confidence_at(p.max_seeds), default=None)


def sd_upper(sd: float, n: int, level: float = 0.8) -> float:
    """A one-sided `level` upper confidence bound on σ from a spread `sd` of n seeds (χ²): what
    a plan sized on a 3-5-seed spread should also be sized on, that spread being itself loose."""
    return sd * math.sqrt((n - 1) / stats.chi2.ppf(1 - level, n - 1))


def seeds_needed(sd: float, claimed: float, min_seeds: int = 3, alpha: float = 0.05,
                 power: float = 0.8, cap: int = SEEDS_CAP) -> int:
    """The smallest max_seeds N whose plan reads "reproduced" (lo > c/2) with probability
    ≈ `power` when the effect is the claim: (c_N + z_power)·sd/√N ≤ |c|/2. Capped at `cap`.
    c_N is the last critical value (100,000 paths, enough for it); past N = 100, where it has
    settled (z ≈ 2.24–2.27), the 100-look plan's, as a normal quantile taken to df N − 1."""
    if claimed == 0:
        raise ValueError("seeds_needed needs a non-zero claimed size")
    if not sd > 0:
        return min_seeds
    z, half = stats.norm.ppf(power), abs(claimed) / 2

    def last(n: int) -> float:
        if n <= 100:
            return critical_values(min_seeds, n, alpha, paths=100_000)[-1]
        return stats.t.ppf(stats.t.cdf(last(100), 99), n - 1)

    def holds(n: int) -> bool:
        return (last(n) + z) * sd / math.sqrt(n) <= half

    ns = np.arange(min_seeds, cap + 1)  # the fixed-n t quantile is a lower bound on c_N
    fixed = ns[(stats.t.ppf(1 - alpha / 2, ns - 1) + z) * sd / np.sqrt(ns) <= half]
    if fixed.size == 0:
        return cap
    if holds(lo := int(fixed[0])):
        return lo
    hi = lo  # lo fails, hi holds once found
    while not holds(hi := min(cap, math.ceil(lo * 1.1) + 1)):
        if hi == cap:
            return cap
        lo = hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if holds(mid) else (mid, hi)
    return hi


def simulate(plan: Plan, delta: float, sd: float, claimed: float, at_least: bool = False,
             paths: int = 20_000, seed: int = 1) -> dict:
    """The whole procedure on normal per-seed differences N(delta, sd²): looks at the plan's
    critical values, the report's rule (verdict.outcome_index), a stop on a final outcome.
    Returns each outcome's share, the coverage of Δ at the stopping look, the mean seeds."""
    from alexnet.report.verdict import outcome_index, rules_for

    rules = rules_for(at_least)
    final = np.array([r.final for r in rules])
    ns = np.arange(plan.min_seeds, plan.max_seeds + 1)
    crit = np.asarray(plan.critical)
    rng, counts = np.random.default_rng(seed), np.zeros(len(rules))
    covered = seeds = 0.0
    for start in range(0, paths, 2000):
        m = min(2000, paths - start)
        d = rng.normal(delta, sd, (m, plan.max_seeds))
        total, squares = np.cumsum(d, 1)[:, ns - 1], np.cumsum(d * d, 1)[:, ns - 1]
        mean = total / ns
        var = np.maximum(squares - total * mean, 0) / (ns - 1)
        half = crit * np.sqrt(var / ns)
        lo, hi = mean - half, mean + half
        idx = outcome_index(lo, hi, claimed, at_least)
        stop = np.where(final[idx].any(1), final[idx].argmax(1), len(ns) - 1)
        rows = np.arange(m)
        counts += np.bincount(idx[rows, stop], minlength=len(rules))
        covered += ((lo[rows, stop] <= delta) & (delta <= hi[rows, stop])).sum()
        seeds += ns[stop].sum()
    share = {r.outcome: counts[i] / paths for i, r in enumerate(rules)}
    return {"outcomes": share, "coverage": covered / paths, "mean_seeds": seeds / paths}
