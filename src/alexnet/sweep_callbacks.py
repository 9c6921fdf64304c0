"""Hydra callbacks of a run or sweep: its output directory (and a submitit launcher's resources)
checked before any job, a progress line before each job, the failures of its jobs counted for the
exit status, and the report written when the sweep ends."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


@dataclass
class SweepState:
    """This process's sweep as its parts share it: Hydra builds the sweeper, the launcher and the
    callbacks and calls each job apart, with no object in common but the process (hence `SWEEP`)."""

    # jobs that raised (even when their record could not be written) and, at the end, every job
    # of the sweep whose record is not completed: the exit status counts them
    failed_jobs: list[str] = field(default_factory=list)
    failed_report: str | None = None  # why the sweep report could not be written, if it could not
    # the jobs the sweeper plans (alexnet_seeds.SeedsSweeper), whether that is an upper bound
    # (seeds added until decided may stop sooner), and how many run at once (hydra/launcher=parallel
    # passes these to its workers with the slot count): the progress line's ETA
    planned_jobs: int | None = None
    at_most: bool = False
    at_once: int = 1


SWEEP = SweepState()  # the one per process


def plan_jobs(jobs: int | None, at_most: bool = False, at_once: int = 1) -> None:
    SWEEP.planned_jobs, SWEEP.at_most, SWEEP.at_once = jobs, at_most, at_once


def note_failed_job(line: str) -> None:
    """Says a failure in the sweep's log (stderr: a full disk may refuse files) and counts it."""
    SWEEP.failed_jobs.append(line)
    log.error("failed: %s", line)


def sweep_exit_status() -> int:
    """0 when every job of this process's sweep completed and its report was written, 1 when a
    job failed or is missing or the report failed."""
    return 1 if SWEEP.failed_jobs or SWEEP.failed_report else 0


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


class SubmititResourcesCheck(Callback):
    """Before the launcher is built or any job queued: `hydra/launcher=slurm` (or `slurm_local`)
    with resources that cannot run the trainer's DDP job gets one line and exit status 2."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        import sys

        from alexnet.submitit_task import resources_problem

        if problem := resources_problem(config.hydra.launcher, config.trainer):
            print(f"error: {problem}", file=sys.stderr)
            raise SystemExit(2)


def jobs_left(total: int, num: int, completed: Iterable[str]) -> int:
    """Jobs still to train from job `num` (0-based) on: the rest of the plan, less the later
    jobs an earlier attempt of the sweep completed (their directories start `<n>_`)."""
    later_done = sum(1 for name in completed
                     if name.split("_", 1)[0].isdigit() and int(name.split("_", 1)[0]) >= num)
    return max(0, total - num - later_done)


class SweepProgress(Callback):
    """Before each job of a sweep: `[sweep] job 10/24 · 9 completed · 1 h 02 min elapsed · ~8 min
    30 s per job → ~2 h 07 min left · <job dir>`. The time per job is the median wall time of
    the sweep's completed records (earlier attempts of a resumed sweep included)."""

    def __init__(self) -> None:
        self._start: float | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._start = time.monotonic()
        plan_jobs(None)  # the sweeper plans this sweep's jobs after this
        print(f"sweep directory: {config.hydra.sweep.dir}", flush=True)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        from alexnet.console import duration
        from alexnet.resume import completed_summary

        if self._start is None:  # a single run
            return
        sweep_dir, num = Path(config.hydra.sweep.dir), config.hydra.job.num
        done = {d.name: s for d in sweep_dir.iterdir()
                if d.is_dir() and (s := completed_summary(d))}
        total, at_most = SWEEP.planned_jobs, SWEEP.at_most
        parts = [f"job {num + 1}/{'≤' if at_most else ''}{total or '?'}", f"{len(done)} completed",
                 f"{duration(time.monotonic() - self._start)} elapsed"]
        walls = [s["wall_time_s"] for s in done.values() if s.get("wall_time_s")]
        if walls and total:
            per_job = statistics.median(walls)
            left = jobs_left(total, num, done)
            at_once = max(1, int(SWEEP.at_once or 1))  # jobs run side by side
            rest = duration(per_job * -(-left // at_once))
            at_most_text = " at most" if at_most else ""
            parts.append(f"~{duration(per_job)} per job → ~{rest} left{at_most_text}")
        parts.append(Path(config.hydra.runtime.output_dir).name)
        line = "[sweep] " + " · ".join(parts)
        print(line, flush=True)


class SweepReportCallback(Callback):
    """Writes the sweep's report (report.md, index.html, figures) into the sweep directory when
    a multirun ends; with W&B logging on, also the W&B report (or how to build it later).
    Jobs the records show as not completed are counted for the exit status."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            from alexnet.report.collect import find_runs

            unfinished = [r for r in find_runs([sweep_dir]) if not r.completed]
        except Exception as e:  # noqa: BLE001
            unfinished = []
            log.error("could not read the sweep's records: %s", e)
        # failures this process did not see (an earlier run)
        if unfinished and not SWEEP.failed_jobs:
            SWEEP.failed_jobs.extend(f"{r.path.name}: {r.summary.get('status')}"
                                     for r in unfinished)
        wb = OmegaConf.select(config, "logger.wandb", default=None) or {}
        wandb_mode = wb.get("mode", "auto") if wb.get("enabled", False) else None
        try:
            from alexnet.report import build_report

            report = build_report([sweep_dir], sweep_dir, wandb=wandb_mode)
            log.info("report: %s", report.markdown)
            for line in report.headlines:  # the answer, not only where it is
                print(line)
            print(f"report: {report.describe()}")
            if report.wandb:
                print(report.wandb)
        except Exception as e:  # noqa: BLE001 - a report failure must not hide the runs
            import sys
            import traceback

            line = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            SWEEP.failed_report = line
            trace = sweep_dir / "report-error.txt"  # the traceback, for whoever mends it
            try:
                trace.write_text(traceback.format_exc())
            except OSError:
                trace = None
            print(f"error: the sweep report could not be written ({line}"
                  + (f"; traceback in {trace}" if trace else "") + "); the runs are kept: "
                  f"python src/report.py {sweep_dir} rebuilds it", file=sys.stderr)
        if unfinished:
            print(f"{len(unfinished)} job(s) did not complete: "
                  + ", ".join(r.path.name for r in unfinished)
                  + f"; re-run the same command with hydra.sweep.dir={sweep_dir} to resume them")
