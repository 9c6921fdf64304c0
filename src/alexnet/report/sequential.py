"""Seeds until the answer is known: the plan of a sweep that adds seeds and its stopping rule
(each look itself is report/stopping.py).

A sweep with `ablation.max_seeds=N` runs `min_seeds` seeds per arm, then one more seed at a
time, and after each looks at the paired interval. Looking repeatedly would inflate the error
rate of a plain 95 % interval, so every look uses the Bonferroni level 1 − 0.05 / L, where
L = N − min_seeds + 1 is the most looks the plan can take: the chance that any look's interval
misses the true effect stays ≤ 5 %, whichever look stops the sweep. The sweep stops at the
first look where every claim's verdict is decided, when N seeds are done, or when the
wall-clock budget is spent. The plan, the seeds of each batch (before it is launched) and each
look are written to `sequential.json` in the sweep directory, which the report reads (so it
expects those seeds, uses the same level from the first job on, and states why it stopped).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from alexnet.report.collect import SEQUENTIAL_FILE
from alexnet.report.stats import CONFIDENCE

STOP_DECIDED, STOP_MAX, STOP_BUDGET = "decided", "max_seeds", "budget"
STOP_CENSORED, STOP_FAILED = "censored", "failed"  # more seeds of the same cannot decide
CONTINUE = "continue"


@dataclass
class Plan:
    min_seeds: int
    max_seeds: int
    budget_minutes: float | None = None
    alpha: float = round(1.0 - CONFIDENCE, 12)
    seeds: list[int] = field(default_factory=list)  # seed values launched so far, saved before each batch
    looks: list[dict] = field(default_factory=list)  # one entry per look: seeds, verdicts
    stopped: str | None = None  # STOP_DECIDED | STOP_MAX | STOP_BUDGET, None while running

    def __post_init__(self) -> None:
        for name in ("min_seeds", "max_seeds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"ablation.{name}={value!r} must be a whole number of seeds per arm")
        if self.min_seeds < 2:
            raise ValueError(f"ablation.min_seeds={self.min_seeds} must be at least 2 (an interval needs 2 seeds)")
        if self.max_seeds < self.min_seeds:
            raise ValueError(f"ablation.max_seeds={self.max_seeds} must be at least ablation.min_seeds={self.min_seeds}")
        if self.budget_minutes is not None and self.budget_minutes <= 0:
            raise ValueError(f"ablation.budget_minutes={self.budget_minutes} must be positive (or null: no budget)")

    @property
    def planned_looks(self) -> int:
        return self.max_seeds - self.min_seeds + 1

    @property
    def confidence(self) -> float:
        """Each look's level: Bonferroni over every look the plan may take."""
        return 1.0 - self.alpha / self.planned_looks

    def describe(self) -> str:
        budget = f", a budget of {self.budget_minutes:g} min" if self.budget_minutes else ""
        return (f"seeds added until decided: {self.min_seeds} seeds per arm, then one at a time up to "
                f"{self.max_seeds}{budget}; each of the ≤ {self.planned_looks} looks uses a "
                f"{100 * self.confidence:.3g} % interval (Bonferroni: 5 % over all looks)")

    def stop_reason(self) -> str:
        n = self.looks[-1].get("seeds", 0) if self.looks else 0
        if self.stopped == STOP_DECIDED:
            return f"stopped after {n} seeds per arm: every verdict was decided"
        if self.stopped == STOP_MAX:
            return f"stopped at the maximum of {self.max_seeds} seeds per arm, still undecided"
        if self.stopped == STOP_BUDGET:
            return f"stopped after {n} seeds per arm: the {self.budget_minutes:g}-minute budget was spent"
        if self.stopped == STOP_CENSORED:
            return (f"stopped after {n} seeds per arm: censored runs leave the interval open, and more "
                    "seeds of the same length cannot close it — train longer")
        if self.stopped == STOP_FAILED:
            return f"stopped after {n} seeds per arm: no completed pair of runs (see the failed jobs)"
        if not self.looks:
            return f"running: the first look comes after {self.min_seeds} seeds per arm"
        return f"running: {n} seeds per arm so far"

    def save(self, sweep_dir: Path) -> None:
        path = Path(sweep_dir) / SEQUENTIAL_FILE
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)


def plan_of(job_dirs: list[Path]) -> Plan | None:
    """The plan of the sweep these jobs ran in (the strictest, if they come from several)."""
    plans = [Plan(**json.loads(f.read_text())) for f in {Path(j).parent / SEQUENTIAL_FILE for j in job_dirs}
             if f.is_file()]
    return min(plans, key=lambda p: p.confidence, default=None)

