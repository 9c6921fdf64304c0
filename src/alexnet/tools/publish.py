"""Copy a sweep's run records into experiments/: what a published result is made of.

For every job whose summary.json says completed: its config.yaml, metrics.csv, summary.json and
test_outcomes.csv; for the sweep: multirun.yaml (the grid asked for) and sequential.json (when
seeds were added until decided). Never checkpoints, caches or logger folders. Copying again
adds the jobs finished since — a long study is published job by job, across sessions — and
never touches a job already published. A record trained from uncommitted code (its git_sha ends
in -dirty) is refused, and then nothing is copied: a published number names the code behind it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from alexnet.record import CONFIG_FILE, METRICS_FILE, OUTCOMES_FILE, SUMMARY_FILE
from alexnet.report.collect import SWEEP_FILE
from alexnet.resume import completed_summary
from alexnet.sequential import SEQUENTIAL_FILE

JOB_FILES = (CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, OUTCOMES_FILE)


class UncommittedRecord(ValueError):
    """A completed job trained from a working tree with uncommitted changes."""


def publish_records(sweep: Path, dest: Path) -> tuple[list[str], list[str]]:
    """Copies the completed jobs of `sweep` not yet in `dest`; returns (copied, left) job names —
    left: jobs not completed (running, failed, killed), for the next call."""
    sweep, dest = Path(sweep), Path(dest)
    if not (sweep / SWEEP_FILE).is_file():
        raise FileNotFoundError(f"{sweep} holds no {SWEEP_FILE}: pass a sweep directory "
                                "(hydra.sweep.dir)")
    new, left = [], []
    for job in sorted(p for p in sweep.iterdir() if (p / CONFIG_FILE).is_file()):
        if (dest / job.name / SUMMARY_FILE).is_file():
            continue  # published earlier: records never change once completed
        if (summary := completed_summary(job)) is None:
            left.append(job.name)
        else:
            new.append((job, str(summary.get("git_sha"))))
    if dirty := [(job, sha) for job, sha in new if sha.endswith("-dirty")]:
        (job, sha), more = dirty[0], f" (and {len(dirty) - 1} more)" if len(dirty) > 1 else ""
        raise UncommittedRecord(f"{job}{more} was trained from uncommitted code (git_sha {sha}): "
                                "commit, re-run it from a clean checkout, then publish; nothing "
                                "was copied")
    dest.mkdir(parents=True, exist_ok=True)
    for name in (SWEEP_FILE, SEQUENTIAL_FILE):
        if (sweep / name).is_file():
            shutil.copy2(sweep / name, dest / name)
    copied = []
    for job, _ in new:
        staging = dest / f".{job.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name in JOB_FILES:
            if (job / name).is_file():
                shutil.copy2(job / name, staging / name)
        staging.rename(dest / job.name)  # a job appears whole or not at all
        copied.append(job.name)
    return copied, left
