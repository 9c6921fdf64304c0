"""Comparison reports: run records on disk → per-arm statistics → report.md."""

from alexnet.report.collect import Run, find_runs
from alexnet.report.markdown import write_sweep_report

__all__ = ["Run", "find_runs", "write_sweep_report"]
