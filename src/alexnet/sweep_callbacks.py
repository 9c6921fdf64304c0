"""Hydra callbacks of a run or sweep: its output directory checked before any job, the failures
of its jobs counted for the exit status, and the report written when the sweep ends."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

# The failures of this process's sweep, for its exit status: jobs that raised (even when their
# record could not be written) and, at the end, every job of the sweep whose record is not completed.
FAILED_JOBS: list[str] = []


def note_failed_job(line: str) -> None:
    """Says a failure in the sweep's log (stderr: a full disk may refuse files) and counts it."""
    FAILED_JOBS.append(line)
    log.error("failed: %s", line)


def sweep_exit_status() -> int:
    """0 when every job of this process's sweep completed, 1 when any failed or is missing."""
    return 1 if FAILED_JOBS else 0


def _check_writable(directory: str, key: str) -> None:
    """One line and exit status 2 when the output directory cannot be written, before Hydra
    tries (its own attempt ends in chained tracebacks)."""
    import sys
    import tempfile

    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-check-"):
            pass
    except OSError as e:
        print(f"error: cannot write to {directory} ({type(e).__name__}: {e.strerror or e}); set "
              f"paths.log_dir (or {key}) to a writable folder", file=sys.stderr)
        raise SystemExit(2) from None


class WritableOutputCheck(Callback):
    """Checks that the run or sweep directory can be written before any job starts."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_writable(str(config.hydra.run.dir), "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check_writable(str(config.hydra.sweep.dir), "hydra.sweep.dir")


class SweepReportCallback(Callback):
    """Writes the sweep's report (report.md, index.html, figures) into the sweep directory when
    a multirun ends; with W&B logging on, also the W&B report (or how to build it later).
    Jobs the records show as not completed are counted for the exit status."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from alexnet.report import build_report
        from alexnet.report.collect import find_runs

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            unfinished = [r for r in find_runs([sweep_dir]) if not r.completed]
        except Exception as e:  # noqa: BLE001
            unfinished = []
            log.error("could not read the sweep's records: %s", e)
        if unfinished and not FAILED_JOBS:  # failures this process did not see (an earlier run)
            FAILED_JOBS.extend(f"{r.path.name}: {r.summary.get('status')}" for r in unfinished)
        wb = OmegaConf.select(config, "logger.wandb", default=None) or {}
        wandb_mode = wb.get("mode", "auto") if wb.get("enabled", False) else None
        try:
            report = build_report([sweep_dir], sweep_dir, wandb=wandb_mode)
            log.info("report: %s", report.markdown)
            print(f"report: {report.markdown} (and {report.html.name})")
            if report.wandb:
                print(report.wandb)
        except Exception as e:  # noqa: BLE001 - a report failure must not hide the runs
            log.exception("could not write the sweep report: %s", e)
        if unfinished:
            print(f"{len(unfinished)} job(s) did not complete: " + ", ".join(r.path.name for r in unfinished)
                  + f"; re-run the same command with hydra.sweep.dir={sweep_dir} to resume them")
