"""The sweeper's question after each batch of seeds: is every claim's verdict decided yet, at the
plan's level (sequential.Plan), on the records the sweep has written so far?"""

from __future__ import annotations

from pathlib import Path

from alexnet.report.collect import find_runs
from alexnet.report.content import analyse_runs
from alexnet.report.curves import DEFAULT_THRESHOLD
from alexnet.report.sequential import CONTINUE, STOP_CENSORED, STOP_DECIDED, STOP_FAILED, Plan


def look(sweep_dir: Path, plan: Plan, seeds: list | None = None, threshold: float | None = None) -> tuple[str, list[dict]]:
    """Judges every claim on the sweep's records of `seeds` (default: all) at the plan's level.
    Returns (STOP_DECIDED | STOP_CENSORED | STOP_FAILED | CONTINUE, verdicts)."""
    runs = [r for r in find_runs([sweep_dir]) if seeds is None or r.seed in seeds]
    ablations = analyse_runs(runs, threshold or DEFAULT_THRESHOLD, plan.confidence)
    verdicts = [{"claim": ab.name, "outcome": ab.verdict.outcome, "reason": ab.verdict.reason}
                for ab in ablations if ab.claim is not None and ab.verdict is not None]
    open_ = [v for v in verdicts if v["outcome"] == "undecided"]
    if all(v["reason"].startswith("no completed pair") for v in verdicts):  # also: no verdict at all
        return STOP_FAILED, verdicts
    if not open_:
        return STOP_DECIDED, verdicts
    if all(v["reason"].startswith("censored") for v in open_):
        return STOP_CENSORED, verdicts
    return CONTINUE, verdicts
