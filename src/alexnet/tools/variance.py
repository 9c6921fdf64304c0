"""The variance budget: how much of the paper's arm's seed-to-seed spread each source of
randomness makes, from runs that vary one source at a time (`seeds.init`, `seeds.data`,
`seeds.dropout`; the others fixed at 0) beside runs that vary all three (`seed` alone).

It tells the next user which seed to fix and which to vary: a source that makes little of the
spread can be fixed without narrowing what a verdict generalises over by much. The spread is
the sample sd of test top-1 error over seeds, with its chi-square interval (exact for normal
errors; `tests/test_variance.py` checks its coverage by simulation).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from scipy import stats

from alexnet.report.collect import Run, find_runs, protocol

SOURCES = {  # seeds.<key>: what it draws (conf/config.yaml)
    "init": "the initial weights",
    "data": "data order, crops, flips and PCA lighting",
    "dropout": "dropout's masks",
}
ALL = "all"
# What a run scores at the end, not how it trains: the study's jobs 0 and 1 (both on) ended
# bit-identical to the pilot's runs (both off), experiments/cifar10-cpu-24ep/README.md.
SCORING_ONLY = ("data.train_all", "data.ten_crop")
CONFIDENCE = 0.90


class NotOneProtocol(ValueError):
    """Runs that trained different protocols: their spreads are not parts of one variance."""


@dataclass(frozen=True)
class Spread:
    source: str  # a key of SOURCES, or ALL
    runs: dict[int, Run]  # the varied seed → its run

    @property
    def errors(self) -> dict[int, float]:  # test top-1, in points
        return {seed: 100 * r.summary["test/top1_err"] for seed, r in self.runs.items()}

    @property
    def sd(self) -> float | None:
        return statistics.stdev(self.errors.values()) if len(self.errors) > 1 else None

    def sd_interval(self, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
        """sd·√(df/χ²) at the two tails: the interval of σ for normal errors."""
        if self.sd is None:
            return None
        df, tail = len(self.errors) - 1, (1 - confidence) / 2
        return (self.sd * math.sqrt(df / stats.chi2.ppf(1 - tail, df)),
                self.sd * math.sqrt(df / stats.chi2.ppf(tail, df)))


def _seeds(run: Run) -> tuple[int, int, int]:
    s = run.config.get("seeds") or {}
    return tuple(s.get(k, run.seed) for k in SOURCES)


def spreads(dirs: list[str | Path]) -> list[Spread]:
    """The paper's arm's completed runs under `dirs` (a study's other arms are left out), one
    Spread per source varied alone, and ALL for the runs whose three seeds are equal."""
    runs = [r for d in dirs for r in find_runs([d], pooled=False)  # a run per directory, even
            if r.completed and not r.summary.get("arm")]  # where two share a `seed`
    trained = {r.path: {k: v for k, v in protocol(r).items() if k not in SCORING_ONLY}
               for r in runs}
    protocols = {repr(sorted(t.items())): path for path, t in trained.items()}
    if len(protocols) > 1:
        a, b = list(protocols.values())[:2]
        diff = next(k for k, v in trained[a].items() if trained[b].get(k) != v)
        raise NotOneProtocol(f"{a} and {b} trained different protocols ({diff}: "
                             f"{trained[a][diff]!r} vs {trained[b].get(diff)!r}): pass runs "
                             "of one protocol")
    by_source: dict[str, dict[int, Run]] = {k: {} for k in (ALL, *SOURCES)}
    for run in runs:
        seeds = _seeds(run)
        if len(set(seeds)) == 1:
            by_source[ALL][seeds[0]] = run
        for i, source in enumerate(SOURCES):  # the others at 0: this one varies alone
            if all(v == 0 for j, v in enumerate(seeds) if j != i):
                by_source[source][seeds[i]] = run
    return [Spread(k, dict(sorted(v.items()))) for k, v in by_source.items()]


def table(found: list[Spread]) -> str:
    """The budget as Markdown: per source, its runs, sd with interval, and share of the variance
    of all three varied together (shares of independent sources add up to about 100 %)."""
    every = next(s for s in found if s.source == ALL)
    rows = ["| seeds varied (the others at 0) | test top-1 % per seed | sd, points "
            f"({100 * CONFIDENCE:.0f} % interval) | share of the variance of all three |",
            "|---|---|---|---|"]
    for s in found:
        what = ("all three (`seed`)" if s.source == ALL
                else f"`seeds.{s.source}`: {SOURCES[s.source]}")
        per_seed = ", ".join(f"{seed}: {e:.2f}" for seed, e in s.errors.items()) or "no runs"
        sd = "-" if s.sd is None else "{:.2f} [{:.2f}, {:.2f}]".format(s.sd, *s.sd_interval())
        share = ("-" if s.sd is None or not every.sd or s.source == ALL
                 else f"{100 * s.sd**2 / every.sd**2:.0f} %")
        rows.append(f"| {what} | {per_seed} | {sd} | {share} |")
    runs = {r.path: r for s in found for r in s.runs.values()}.values()
    shas = sorted({str(r.summary.get("git_sha", "?"))[:7] for r in runs})
    wall = sum(r.summary.get("wall_time_s") or 0 for r in runs)
    rows.append(f"\n{len(runs)} runs of the paper's arm (code {', '.join(shas)}), "
                f"{wall / 3600:.1f} h of wall time in all.")
    return "\n".join(rows) + "\n"
