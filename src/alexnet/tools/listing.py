"""What is on disk: every sweep and single run under a folder (logs/), one line each, read from
the run records alone (`collect.find_runs`, `collect.find_sweeps`), so it lists another
machine's logs as well as a sweep still running.

A job directory without summary.json is running, or was killed (a crash that Python saw writes a
failed summary): the records cannot tell which, so the line says when it last wrote.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from alexnet.record import CONFIG_FILE
from alexnet.report.collect import SWEEP_FILE, Run, Sweep, find_runs, find_sweeps
from alexnet.report.document import REPORT_MD
from alexnet.resume import CHECKPOINT_DIR

COMPLETED, FAILED, NOT_STARTED = "completed", "failed", "not started"
INTERRUPTED = "interrupted"  # stopped by Ctrl+C or SIGTERM: its summary says how to resume
UNFINISHED = "running or interrupted"
STATUSES = (COMPLETED, FAILED, INTERRUPTED, UNFINISHED, NOT_STARTED)
# collect.py's word for a job without summary.json; a job submitit requeued (alexnet.submitit_task)
STATUS = {"missing": UNFINISHED, "requeued": UNFINISHED}


@dataclass
class Entry:
    """One line: a sweep (its jobs counted by status) or a single run."""

    path: Path
    kind: str  # "sweep" | "run"
    task: str
    counts: dict[str, int]  # jobs per status (a single run: one)
    arms: str
    seeds: str
    report: Path | None
    last_write: float | None = None  # newest file of its unfinished jobs (seconds since the epoch)

    @property
    def status(self) -> str:
        for status in (UNFINISHED, INTERRUPTED, NOT_STARTED, FAILED):
            if self.counts.get(status):
                return UNFINISHED if status == NOT_STARTED else status
        return COMPLETED if self.counts else NOT_STARTED


def _status(run: Run) -> str:
    status = run.summary.get("status") or "missing"
    return STATUS.get(status, status)


def _task(config: Path, fallback: str) -> str:
    try:
        return str((yaml.safe_load(config.read_text()) or {}).get("task_name") or fallback)
    except (OSError, yaml.YAMLError):
        return fallback


def _last_write(jobs: list[Run]) -> float | None:
    files = [p for r in jobs for p in (*r.path.iterdir(), *(r.path / CHECKPOINT_DIR).glob("*"))
             if p.is_file()]
    return max((p.stat().st_mtime for p in files), default=None)


def _report(folder: Path) -> Path | None:
    return folder / REPORT_MD if (folder / REPORT_MD).is_file() else None


def expected_jobs(sweep: Sweep) -> int:
    """The jobs the sweep's grid asks for; seeds added until decided: those its plan ran."""
    if sweep.arm_seeds:  # ablate_all: a claim decided early stopped its own arm
        return sum(map(len, sweep.arm_seeds.values()))
    return math.prod(map(len, sweep.params.values())) if sweep.params else 0


def _sweep_entry(sweep: Sweep, jobs: list[Run]) -> Entry:
    counts = Counter(_status(r) for r in jobs)
    if expected_jobs(sweep) > len(jobs):
        counts[NOT_STARTED] = expected_jobs(sweep) - len(jobs)
    arms = " x ".join(f"{k}={','.join(map(str, v))}" for k, v in sweep.params.items()
                      if k != "seed")
    seeds = sweep.seeds or tuple(dict.fromkeys(r.seed for r in jobs))
    unfinished = [r for r in jobs if _status(r) == UNFINISHED]
    task = _task(sweep.path / SWEEP_FILE, sweep.path.parent.parent.name)
    return Entry(sweep.path, "sweep", task, dict(counts), arms or "default",
                 ",".join(map(str, seeds)) or "-", _report(sweep.path),
                 _last_write(unfinished) if unfinished else None)


def _run_entry(run: Run) -> Entry:
    arm = run.summary.get("arm") or {}
    status = _status(run)
    task = _task(run.path / CONFIG_FILE, run.path.parent.parent.name)
    name = run.summary.get("arm_name") or ",".join(f"{k}={v}" for k, v in arm.items()) or "default"
    return Entry(run.path, "run", task, {status: 1}, name,
                 "-" if run.seed is None else str(run.seed), _report(run.path),
                 _last_write([run]) if status == UNFINISHED else None)


def list_runs(dirs: list[str | Path]) -> list[Entry]:
    """The sweeps (a folder with multirun.yaml) and the single runs outside them under `dirs`,
    sorted by path."""
    for d in map(Path, dirs):
        if d.is_file():
            raise FileNotFoundError(f"{d} is a file: pass a folder (logs/, a sweep or a run "
                                    "directory)")
    runs = find_runs(dirs, pooled=False)  # many sweeps, any protocols: listed, not analysed
    sweeps = find_sweeps(dirs)

    def in_a_sweep(run: Run) -> bool:
        return any(s.path.resolve() in run.path.resolve().parents for s in sweeps)

    # each sweep's jobs as its report counts them (a re-run of an arm and seed replaces the
    # earlier job); single runs all listed, also those find_runs merged as repeats of another
    entries = [_sweep_entry(s, find_runs([s.path], pooled=False)) for s in sweeps]
    alone = [r for r in runs + [old for r in runs for old in r.replaces] if not in_a_sweep(r)]
    entries += [_run_entry(r) for r in alone]
    return sorted(entries, key=lambda e: str(e.path))


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def describe_status(entry: Entry, now: float | None = None) -> str:
    """`completed (2 jobs)`, `failed: 1 completed, 1 failed`, `running or interrupted: 3 completed,
    1 running or interrupted, 20 not started; last write 2 min ago`."""
    status = entry.status
    if entry.kind == "sweep":
        counts = [f"{entry.counts[s]} {s}" for s in STATUSES if entry.counts.get(s)]
        counts += [f"{n} {s}" for s, n in entry.counts.items() if s not in STATUSES]
        total = sum(entry.counts.values())
        status += (f" ({total} jobs)" if status == COMPLETED
                   else f": {', '.join(counts) or 'no jobs'}")
    if entry.last_write is not None:
        minutes = max(0.0, ((now or time.time()) - entry.last_write) / 60)
        status += f"; last write {minutes:.0f} min ago"
    return status


def table(entries: list[Entry], now: float | None = None) -> str:
    """One line per entry, columns aligned: path, task, status, arms, seeds, report."""
    rows = [("path", "task", "status", "arms", "seeds", "report")]
    rows += [(_shown(e.path), e.task, describe_status(e, now), e.arms, e.seeds,
              _shown(e.report) if e.report else "-") for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]])
                     for r in rows)
