"""A killed sweep is resumed by re-running its command into its directory; job names are safe."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from alexnet.arms import job_arm, job_dirname
from conftest import REPO, run_main


@pytest.mark.parametrize("overrides, name", [
    (["model.lrn=true", "seed=0"], "model.lrn-true+seed-0"),
    (["model.dropout=0.5", "seed=3", "debug=tiny", "trainer.max_epochs=3", "data=folder", "data.root=/d/x y"],
     "model.dropout-0.5+seed-3"),
    (["model.pool=non_overlapping", "seed=1", "ckpt_path=/a/b,c=d", "resume=true", "logger.wandb.mode=offline"],
     "model.pool-non_overlapping+seed-1"),
    (["+model.extra='a b,c'", "seed=0"], "model.extra-_a_b_c_+seed-0"),
    (["debug=tiny"], "default"),
])
def test_job_directory_names_are_safe_on_a_command_line_and_in_yaml(overrides, name):
    assert job_dirname(overrides) == name
    path = f"/logs/multiruns/x/0_{name}/checkpoints/last.ckpt"
    parsed = OverridesParser.create().parse_override(f"ckpt_path={path}")
    assert parsed.value() == path and not parsed.is_sweep_override()
    assert yaml.safe_load(f"- ckpt_path={path}") == [f"ckpt_path={path}"]


def test_the_arm_leaves_out_the_dataset_and_the_plumbing():
    assert job_arm(["data=folder", "data.root=/x", "data.pca_lighting=false", "model.lrn=false", "seed=0",
                    "resume=true", "trainer.max_epochs=3", "hydra.sweep.dir=/s", "preset=cifar_cpu"]) == {
        "data.pca_lighting": False, "model.lrn": False}


def sweep_command(sweep_dir):
    return [sys.executable, str(REPO / "src" / "train.py"), "experiment=ablate_lrn", "seed=0", "debug=tiny",
            "trainer.max_epochs=3", "callbacks.progress_bar=none", f"hydra.sweep.dir={sweep_dir}"]


def test_a_sweep_killed_in_its_second_job_resumes_by_rerunning_its_command(tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "WANDB_MODE": "disabled"}
    # Hydra's sweeper writes the values of `model.lrn: true,false` as True and False
    first, second = sweep / "0_model.lrn-True+seed-0", sweep / "1_model.lrn-False+seed-0"
    with open(tmp_path / "killed.log", "w") as log:
        proc = subprocess.Popen(sweep_command(sweep), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + 600
        while not (second / "checkpoints" / "last.ckpt").is_file():  # job 2 has saved an epoch
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "killed.log").read_text()[-3000:]
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (second / "summary.json").exists()
    done_before = (first / "summary.json").read_text()
    mtime_before = (first / "summary.json").stat().st_mtime_ns

    out = run_main("train.py", *sweep_command(sweep)[2:])  # the same command, in this process
    assert out.returncode == 0, out.stderr[-3000:]
    # job 1 was not run again
    assert (first / "summary.json").read_text() == done_before
    assert (first / "summary.json").stat().st_mtime_ns == mtime_before
    assert "already completed (summary.json); not run again" in out.stdout
    # job 2 continued from its checkpoint: one record over two attempts, every epoch once
    s = json.loads((second / "summary.json").read_text())
    assert s["status"] == "completed" and s["attempts"] == 2 and s["epochs"] == 3
    assert f"resuming {second} from {second}/checkpoints/" in out.stdout
    rows = (second / "metrics.csv").read_text().splitlines()
    assert [float(r.split(",")[0]) for r in rows[1:]] == [0.0, 1.0, 2.0]
    # one report over all: every job once, nothing superseded or missing
    report = (sweep / "report.md").read_text()
    for job in (first, second):
        assert report.count(f"| `{job.name}` |") == 1, report
    assert "Jobs that did not complete or were replaced" not in report
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [first.name, second.name]


def test_a_checkpoint_path_with_commas_in_a_sweeps_overrides_is_no_grid(tmp_path):
    """Resuming by hand from an old-style job directory (`1_model.lrn=False,seed=0`) once crashed
    the report: the quoted path was split at its commas and read as YAML."""
    from alexnet.report.collect import read_sweep

    (tmp_path / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {
        "sweeper": {"params": {"seed": "0,1", "model.lrn": "true,false"}},
        "overrides": {"task": ["ckpt_path='/s/1_model.lrn=False,seed=0/checkpoints/last.ckpt'", "seed=0"]}}}))
    assert read_sweep(tmp_path).params == {"seed": [0], "model.lrn": [True, False]}


def test_a_launcher_that_raises_does_not_end_the_sweep(monkeypatch):
    """Hydra itself can fail a job outside our code (writing its .hydra/ files on a full disk):
    the batch is launched again one job at a time, and only the failing job is lost, counted."""
    from hydra.core.utils import JobReturn, JobStatus

    from alexnet import sweep_callbacks
    from hydra_plugins.alexnet_seeds import SeedsSweeper

    ran = []

    class FullDiskOnJob1:
        def launch(self, batch, initial_job_idx):
            if any("seed=1" in job for job in batch):
                if len(batch) > 1:
                    raise OSError(28, "No space left on device")
                raise OSError(28, "No space left on device: .hydra/config.yaml")
            ran.extend(batch)
            return [JobReturn(status=JobStatus.COMPLETED, _return_value={}) for _ in batch]

    monkeypatch.setattr(sweep_callbacks, "SWEEP", sweep_callbacks.SweepState())
    sweeper = SeedsSweeper(max_batch_size=None)
    sweeper.launcher = FullDiskOnJob1()
    results = sweeper.launch([["seed=0"], ["seed=1"], ["seed=2"]], initial_job_idx=0)
    assert ran == [["seed=0"], ["seed=2"]] and len(results) == 2
    assert sweep_callbacks.SWEEP.failed_jobs == ["job 1 (seed=1): OSError: [Errno 28] No space left on device: .hydra/config.yaml"]
    assert sweep_callbacks.sweep_exit_status() == 1
