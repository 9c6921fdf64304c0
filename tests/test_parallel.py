"""`hydra/launcher=parallel`: a sweep's jobs several at a time, each pinned to its GPU(s) — the
device assignment on faked device lists, and a real sweep on the CPU with two faked GPUs:
jobs overlap in time, overlapping jobs never share a GPU, every job completes, one report; the
same command again skips the completed jobs and resumes an unfinished one from its checkpoint."""

import json
import os
import subprocess
import sys
from datetime import datetime

import pytest

from conftest import REPO
from hydra_plugins.alexnet_parallel import (
    ParallelLauncher,
    job_slots,
    slot_env,
    thread_share,
    visible_gpus,
)


@pytest.mark.parametrize(
    "gpus, jobs, per_job, slots",
    [
        (["0", "1", "2", "3"], None, 1, ["0", "1", "2", "3"]),  # default: one job per GPU
        (["0", "1"], 4, 1, ["0", "1", "0", "1"]),  # more jobs than GPUs: two per GPU
        (["0", "1", "2", "3"], 3, 1, ["0", "1", "2"]),  # fewer: the first GPUs
        (
            ["0", "1", "2", "3", "4"],
            None,
            2,
            ["0,1", "2,3"],
        ),  # DDP jobs of 2 GPUs; the odd one idle
        (["4", "6"], None, 1, ["4", "6"]),  # the ids as given
        ([], None, 1, [None]),  # no GPU: one job at a time by default
        ([], 3, 1, [None, None, None]),
    ],
)
def test_each_slot_gets_its_own_gpus_round_robin(gpus, jobs, per_job, slots):
    assert job_slots(gpus, jobs, per_job) == slots


def test_a_job_wider_than_the_machine_gets_one_line():
    # ValueError, LauncherError's base: Hydra's plugin scan re-executes plugin modules, so the
    # class imported here need not be the one the module raises later in a test session
    with pytest.raises(
        ValueError, match=r"each job uses trainer.devices=4 GPUs but only 2 are visible \(0,1\)"
    ):
        job_slots(["0", "1"], None, 4)
    with pytest.raises(ValueError, match="hydra.launcher.jobs=0 cannot work"):
        ParallelLauncher(jobs=0, devices=["0"]).slots()


def test_the_visible_gpus_come_from_the_setting_then_the_environment(monkeypatch):
    assert visible_gpus([0, 2]) == ["0", "2"] and visible_gpus("1,3") == ["1", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")  # a machine share the sweep was given
    assert visible_gpus() == ["2", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus() == []


def test_the_cores_are_split_between_the_jobs_and_a_gpu_slot_sees_only_its_gpus():
    assert thread_share(3, cores=16) == 5 and thread_share(4, cores=2) == 1
    assert slot_env("2,3", 4) == {"CUDA_VISIBLE_DEVICES": "2,3", "OMP_NUM_THREADS": "4"}
    assert slot_env(None, 2) == {"OMP_NUM_THREADS": "2"}  # a CPU-only machine: left as it is


def test_a_job_whose_process_dies_fails_alone_and_its_slot_gets_a_new_worker():
    from hydra.core.utils import JobStatus
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    class Died:
        def result(self):
            raise TerminatedWorkerError("a worker was killed by signal SIGKILL (out of memory?)")

    launcher = ParallelLauncher(jobs=1)
    launcher._pool(0, {})
    ret = launcher._result(Died(), 3, ["seed=1"], slot=0)
    assert ret.status == JobStatus.FAILED and ret.overrides == ["seed=1"]
    assert str(ret._return_value).startswith("its process died (TerminatedWorkerError: a worker")
    assert 0 not in launcher._pools  # the next job of the slot starts a new worker


def sweep(sweep_dir, *extra, status=0):
    command = [
        sys.executable,
        str(REPO / "src" / "train.py"),
        "experiment=ablate_lrn",
        "hydra/launcher=parallel",
        "hydra.launcher.jobs=2",
        "hydra.launcher.devices=[0,1]",
        "debug=tiny",
        "seed=0,1",
        "callbacks.progress_bar=none",
        f"hydra.sweep.dir={sweep_dir}",
        *extra,
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
        env={**os.environ, "WANDB_MODE": "disabled"},
    )
    assert done.returncode == status, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def records(sweep_dir):
    return {
        d.name: json.loads((d / "summary.json").read_text())
        for d in sorted(sweep_dir.glob("[0-9]_*"))
    }


@pytest.fixture(scope="module")
def parallel_sweep(tmp_path_factory):
    sweep_dir = tmp_path_factory.mktemp("parallel") / "sweep"
    return sweep_dir, sweep(sweep_dir), records(sweep_dir)


def test_two_jobs_at_once_each_on_its_own_gpu_all_completed_one_report(parallel_sweep):
    """4 jobs (2 arms × 2 seeds), 2 at a time on two faked GPUs (this CPU trains them)."""
    sweep_dir, done, jobs = parallel_sweep
    assert len(jobs) == 4 and all(s["status"] == "completed" for s in jobs.values())
    spans = {
        name: (
            datetime.fromisoformat(s["started_at"]),
            datetime.fromisoformat(s["ended_at"]),
            s["machine"]["cuda_visible_devices"],
        )
        for name, s in jobs.items()
    }
    assert {gpu for _, _, gpu in spans.values()} == {"0", "1"}
    overlapping = [
        (a, b)
        for a in spans
        for b in spans
        if a < b and spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]
    ]
    assert overlapping  # jobs ran side by side ...
    assert all(spans[a][2] != spans[b][2] for a, b in overlapping)  # ... never two on one GPU
    assert all(s["machine"]["threads"] == thread_share(2) for s in jobs.values())
    assert (sweep_dir / "report.md").is_file() and done.stdout.count("report: wrote") == 1
    assert not [n for n in ("GPU available", "Tip:", "LeafSpec") if n in done.stdout + done.stderr]
    assert "model.lrn=True" in (sweep_dir / "report.md").read_text()


def test_the_same_command_skips_completed_jobs_and_resumes_an_unfinished_one(parallel_sweep):
    sweep_dir, _, before = parallel_sweep
    unfinished = next(
        name for name in before if name.startswith("0_")
    )  # seed 0 keeps its last.ckpt
    (sweep_dir / unfinished / "summary.json").unlink()
    done = sweep(sweep_dir)
    after = records(sweep_dir)
    assert all(s["status"] == "completed" for s in after.values()) and len(after) == 4
    for name, summary in after.items():
        if name == unfinished:
            assert summary["attempts"] == 2  # continued from its checkpoint, one record
        else:
            assert summary["started_at"] == before[name]["started_at"]  # not run again
    assert "already completed" in done.stdout + done.stderr


def test_a_failed_job_is_counted_by_the_sweep_and_the_others_complete(tmp_path):
    """A job that fails in its worker (recipe.lr=-1: a config error) fails alone; the sweep's
    process counts it for its exit status (1) and the report lists it."""
    done = sweep(tmp_path / "sweep", "recipe.lr=0.003,-1", "seed=0", status=1)
    jobs = records(tmp_path / "sweep")
    statuses = sorted(s["status"] for s in jobs.values())
    assert statuses == ["completed", "completed", "failed", "failed"]
    assert "recipe.lr=-1 cannot work" in done.stdout + done.stderr
    assert "2 job(s) did not complete" in done.stdout
    assert (tmp_path / "sweep" / "report.md").is_file()
