"""Comparison reports: run records on disk → per-arm statistics and verdicts → report.md,
index.html, figures, and optionally a W&B Report."""

from alexnet.report.collect import Run, find_runs
from alexnet.report.document import Report, build_report, render

__all__ = ["Report", "Run", "build_report", "find_runs", "render"]
