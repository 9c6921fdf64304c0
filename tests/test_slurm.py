"""Sweeps through hydra-submitit-launcher (`hydra/launcher=slurm`, `slurm_local`): a SLURM job is
one task per GPU on every node, and on this machine a sweep of 2-process DDP jobs runs, is
pre-empted, requeued into the same job directories and resumed to completion."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from alexnet.sweep_callbacks import SubmititResourcesCheck
from conftest import CONF, REPO, make_config, run_main, write_image_folder

pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the slurm extra: pip install -e '.[slurm]'")

ENV = {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": str(REPO / "src")}
# a tiny net on a tiny image folder (write_image_folder: train/ and val/), one worker-less loader.
# lr 0.001: at the CIFAR default 0.003, 30 epochs of 3 images a step reached a train loss of 67
# (2 ranks) and 8e6 (one); whether it turns non-finite is the CPU's rounding, and a job that
# fails by itself must not pass for a failed requeue
SMALL = ["debug=tiny", "callbacks.progress_bar=none", "data=folder", "data.holdout=null", "data.stored_size=40",
         "data.crop_size=32", "data.num_workers=0", "recipe.lr=0.001"]
# the pre-empted sweep's epochs (0.13–0.31 s each on the 2-core VM, idle): enough that both jobs are signalled mid-run
# (after the first epoch of the later one), few enough to leave the sweep's time to its restarts
EPOCHS = 20


def composed(tmp_path, *overrides, group="slurm"):
    """The config `python src/train.py -m hydra/launcher=GROUP OVERRIDES` composes."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", return_hydra_config=True,
                       overrides=[f"hydra/launcher={group}", *overrides, f"hydra.sweep.dir={tmp_path}"])


def test_a_slurm_job_is_one_task_per_gpu_on_every_node(tmp_path, monkeypatch):
    # no cluster here: an srun to be found, an sbatch that refuses after submitit wrote its script
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, status in (("srun", 0), ("sbatch", 1)):
        (bin_dir / name).write_text(f"#!/bin/sh\necho {name}: no cluster here >&2\nexit {status}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cfg = composed(tmp_path, "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2", "hydra.launcher.partition=gpu",
                   "data.num_workers=6")
    SubmititResourcesCheck().on_multirun_start(cfg)  # passes
    plugin = instantiate(cfg.hydra.launcher)
    plugin.setup(hydra_context=None, task_function=None, config=cfg)
    with pytest.raises(Exception, match="sbatch: no cluster here"):
        plugin.launch([["seed=0"]], initial_job_idx=0)
    (script,) = (tmp_path / ".submitit").rglob(".submission_file_*.sh")
    sbatch = [line for line in script.read_text().splitlines() if line.startswith("#SBATCH")]
    for flag in ("--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4", "--partition=gpu",
                 "--signal=USR2@120", "--time=1440",  # USR2 before the time limit: submitit requeues
                 "--cpus-per-task=8"):  # each rank's 6 loader workers, the rank itself, one spare
        assert f"#SBATCH {flag}" in sbatch, sbatch
    assert not any("gpus-per-task" in line for line in sbatch)


@pytest.mark.parametrize("group, overrides, said", [
    ("slurm", ["trainer.devices=auto"], "trainer.devices='auto': a submitit launcher starts one task per device"),
    ("slurm", ["trainer=ddp", "hydra.launcher.tasks_per_node=8"],
     "hydra.launcher.tasks_per_node=8 but trainer.devices=2: the launcher follows the trainer"),
    ("slurm", ["trainer=ddp", "hydra.launcher.gpus_per_task=1"], "hydra.launcher.gpus_per_task=1: one task per GPU"),
    ("slurm_local", ["trainer=ddp", "trainer.num_nodes=2"], "trainer.num_nodes=2: submitit's local executor"),
])
def test_resources_that_cannot_run_the_trainer_are_refused_before_any_job(tmp_path, capsys, group, overrides, said):
    with pytest.raises(SystemExit) as e:
        SubmititResourcesCheck().on_multirun_start(composed(tmp_path, *overrides, group=group))
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and err[0].startswith(f"error: {said}"), err


def test_the_command_line_says_it_in_one_line_before_any_job(tmp_path):
    out = run_main("train.py", "-m", "hydra/launcher=slurm", "trainer.devices=auto", f"hydra.sweep.dir={tmp_path}/sweep")
    err = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(err) == 1 and err[0].startswith("error: trainer.devices='auto'"), out.stderr
    assert not (tmp_path / "sweep" / ".submitit").exists()


@pytest.mark.parametrize("submitit", [True, False])
def test_under_submitit_on_slurm_lightning_leaves_requeue_to_submitit(tmp_path, monkeypatch, submitit):
    import lightning as L

    from alexnet import training

    # a one-task SLURM job as srun starts it, by submitit or by the user's own sbatch script
    for key, value in {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "train", "SLURM_JOB_ID": "7", "SLURM_PROCID": "0",
                       "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NODELIST": "localhost"}.items():
        monkeypatch.setenv(key, value)
    if submitit:
        monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    seen = {}

    class Probe(L.Callback):
        def on_train_start(self, trainer, pl_module):
            seen["environment"] = trainer._accelerator_connector.cluster_environment
            seen["usr1"] = signal.getsignal(signal.SIGUSR1)

    build = training.build_callbacks
    monkeypatch.setattr(training, "build_callbacks", lambda *a: [*build(*a), Probe()])
    cfg = make_config(*SMALL, f"data.root={write_image_folder(tmp_path / 'folder')}", "trainer.max_epochs=1")
    assert training.train(cfg, tmp_path / "job")["status"] == "completed"
    assert type(seen["environment"]).__name__ == "SLURMEnvironment"
    # Lightning's requeue on USR1: off under submitit (it requeues on USR2), left alone otherwise
    assert seen["environment"].auto_requeue is not submitit
    assert (seen["usr1"] in (signal.SIG_DFL, None)) is submitit


def rank0_tasks(sweep: Path) -> list[int]:
    """The pids of the global-rank-0 submitit tasks of this sweep's jobs (Linux /proc)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().decode()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if "submitit.core._submit" in cmdline and str(sweep) in cmdline and b"SUBMITIT_LOCAL_GLOBALID=0" in environ:
            pids.append(int(proc.name))
    return pids


@pytest.fixture(scope="module")
def preempted_sweep(tmp_path_factory):
    """`-m hydra/launcher=slurm_local trainer=ddp model.lrn=true,false`: two jobs of 2 CPU ranks
    each; once both have a checkpoint, rank 0 of each gets USR2, submitit's pre-emption signal."""
    tmp = tmp_path_factory.mktemp("slurm")
    # 9 training images per rank: 3 steps of 3 (a global batch of 6)
    root = write_image_folder(tmp / "folder", per_class=(6, 3))
    sweep = tmp / "sweep"
    command = [sys.executable, str(REPO / "src" / "train.py"), "-m", "hydra/launcher=slurm_local", "trainer=ddp",
               "trainer.accelerator=cpu", "model.lrn=true,false", *SMALL, f"trainer.max_epochs={EPOCHS}", f"data.root={root}",
               "data.batch_size=6", f"hydra.sweep.dir={sweep}"]
    began = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=ENV)
    seen = {}  # job dir -> the statuses its summary.json showed after the signal
    try:
        deadline = time.monotonic() + 300
        while len(list(sweep.glob("*/checkpoints/last.ckpt"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        pids = rank0_tasks(sweep)
        for pid in pids:
            os.kill(pid, signal.SIGUSR2)
        while proc.poll() is None and time.monotonic() < deadline:
            for summary in sweep.glob("*/summary.json"):
                status = json.loads(summary.read_text()).get("status")
                seen.setdefault(summary.parent.name, []).append(status)
            time.sleep(0.2)
        out, err = proc.communicate(timeout=max(1, deadline - time.monotonic()))
    finally:
        proc.kill()
    print(f"slurm_local sweep: {time.monotonic() - began:.0f} s")  # pytest -s shows it
    return sweep, proc.returncode, out, err, pids, seen


def jobs(sweep: Path) -> dict[bool, Path]:
    """The sweep's job directories by their arm (model.lrn)."""
    return {json.loads((d / "summary.json").read_text())["arm"]["model.lrn"]: d for d in sweep.glob("[0-9]_*")}


def what_happened(sweep: Path, out: str, err: str) -> str:
    """A failed sweep's story for the assertion: its own output, then each job's record, the end
    of its train.log and of every submitit task's log (a job's error lives there, not in `out`)."""
    def tail(log: Path) -> str:
        return f"-- {log.relative_to(sweep)}\n" + "\n".join(log.read_text().splitlines()[-15:])

    parts = [out[-2000:], err[-2000:]]
    for job in sorted(sweep.glob("[0-9]_*")):
        summary = job / "summary.json"
        record = json.loads(summary.read_text()) if summary.is_file() else {}
        parts.append(f"== {job.name}: {record.get('status')} {record.get('error')}")
        parts += [tail(log) for log in (job / "train.log", job / "train_rank1.log") if log.is_file()]
    parts += [tail(log) for log in sorted((sweep / ".submitit").rglob("*_log.err"))]
    return "\n".join(parts)


def test_a_sweep_of_ddp_jobs_runs_one_job_per_directory_and_reports(preempted_sweep):
    sweep, returncode, out, err, _, _ = preempted_sweep
    assert returncode == 0, what_happened(sweep, out, err)
    by_arm = jobs(sweep)
    assert sorted(by_arm) == [False, True] and len(list(sweep.glob("[0-9]_*"))) == 2  # rank 1 ran its job only
    for job in by_arm.values():
        summary = json.loads((job / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["epochs"] == EPOCHS
        assert summary["steps"] == EPOCHS * 3  # each rank its half of 18 images, 3 a step: two ranks, one job
        assert (job / "train_rank1.log").is_file() and (job / ".hydra").is_dir()
    report = (sweep / "report.md").read_text()
    assert "model.lrn=True" in report and "model.lrn=False" in report


def test_a_preempted_job_is_requeued_into_its_directory_and_resumes(preempted_sweep):
    sweep, returncode, out, err, pids, seen = preempted_sweep
    assert len(pids) == 2 and returncode == 0, what_happened(sweep, out, err)
    for job in jobs(sweep).values():
        assert "requeued" in seen[job.name]  # its record while it waited, not "failed"
        summary = json.loads((job / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["attempts"] == 2  # resumed, not restarted
        epochs = [line.split(",")[0] for line in (job / "metrics.csv").read_text().splitlines()[1:]]
        assert epochs == [repr(float(e)) for e in range(EPOCHS)]  # every epoch once
        assert f"resuming {job} from {job}/checkpoints/last.ckpt" in (job / "train.log").read_text()


def test_a_job_stopped_by_sigterm_fails_alone_and_the_sweep_says_so(tmp_path):
    # scancel's SIGTERM (here: to submitit's local controller, which passes it to the task) ends
    # one job, not the sweep: its record says failed and how to resume, the command exits 1.
    # One device: a SIGTERM to DDP ranks can hang in Lightning's own handler (its issue #20806).
    root = write_image_folder(tmp_path / "folder", per_class=(6, 3))
    sweep = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, str(REPO / "src" / "train.py"), "-m", "hydra/launcher=slurm_local",
                             "trainer.accelerator=cpu", *SMALL, "trainer.max_epochs=200", f"data.root={root}",
                             f"hydra.sweep.dir={sweep}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=ENV)
    try:
        deadline = time.monotonic() + 200
        while not list(sweep.glob("*/checkpoints/last.ckpt")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        (task,) = rank0_tasks(sweep)
        controller = int(Path(f"/proc/{task}/stat").read_text().split(") ")[1].split()[1])  # its parent
        os.kill(controller, signal.SIGTERM)
        out, err = proc.communicate(timeout=200)
    finally:
        proc.kill()
    assert proc.returncode == 1, err[-3000:]
    (summary,) = sweep.glob("*/summary.json")
    record = json.loads(summary.read_text())
    assert record["status"] == "interrupted" and record["error"].startswith("stopped by SIGTERM")
    assert record["error"].endswith(f"the sweep's command with hydra.sweep.dir={sweep}")
    assert f"did not complete: {summary.parent.name}; re-run the same command with hydra.sweep.dir={sweep}" in out


def test_a_requeued_job_is_listed_as_unfinished(preempted_sweep, tmp_path):
    import shutil

    from alexnet.tools.listing import UNFINISHED, list_runs

    job = shutil.copytree(next(iter(jobs(preempted_sweep[0]).values())), tmp_path / "runs" / "job")
    summary = json.loads((job / "summary.json").read_text()) | {"status": "requeued"}
    (job / "summary.json").write_text(json.dumps(summary))
    (entry,) = list_runs([tmp_path])  # src/runs.py's line: waiting in the queue is not completed
    assert entry.status == UNFINISHED
