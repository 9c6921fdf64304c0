"""train(cfg) end to end on the bundled sample: the run record, resume, and the CLI's errors."""

import csv
import json
import subprocess
import sys

import lightning as L
import pytest
import torch
import yaml

from alexnet import training
from alexnet.training import ConfigError, train
from conftest import REPO, make_config, run_main

TINY = ["debug=tiny", "callbacks.progress_bar=none"]


def run(tmp_path, *overrides, name="job"):
    cfg = make_config(*TINY, *overrides)
    return train(cfg, tmp_path / name, arm={"model.lrn": True}), tmp_path / name


def test_a_job_writes_its_record(tmp_path):
    summary, job = run(tmp_path, "trainer.max_epochs=3", "trainer.limit_test_batches=null")  # all 1,000
    config_text = (job / "config.yaml").read_text()
    assert "${" not in config_text
    config = yaml.safe_load(config_text)
    assert config["model"]["input_size"] == config["data"]["crop_size"] == 28
    with open(job / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(float(r["epoch"])) for r in rows] == [0, 1, 2]
    for key in ("train/loss", "train/running_top1_err", "val/loss", "val/top1_err", "val/top5_err",
                "train_eval/top1_err", "train_eval/top5_err", "train/lr", "train/images_per_sec"):
        assert all(r[key] != "" for r in rows), key
    assert not any("dataloader_idx" in k or k == "train/top1_err" for k in rows[0])
    on_disk = json.loads((job / "summary.json").read_text())
    assert on_disk == summary
    assert summary["status"] == "completed" and summary["epochs"] == 3 and summary["steps"] == 9
    assert summary["arm"] == {"model.lrn": True} and summary["seed"] == 0
    assert summary["final_val/top1_err"] == pytest.approx(float(rows[-1]["val/top1_err"]))
    assert summary["best_val/top1_err"] == pytest.approx(min(float(r["val/top1_err"]) for r in rows))
    assert summary["final_train/running_top1_err"] == pytest.approx(float(rows[-1]["train/running_top1_err"]))
    assert summary["final_train_eval/top1_err"] == pytest.approx(float(rows[-1]["train_eval/top1_err"]))
    # the sample: 10 % of 4,000 training images held out for validation, its 1,000 test images tested once
    data = summary["data"]
    assert (data["train_images"], data["val_images"], data["test_images"]) == (3600, 400, 1000)
    assert data["val_is_test"] is False and data["train_eval_images"] == 1000
    assert 0 <= summary["test/top1_err"] <= 1 and summary["test/tencrop_top1_err"] is None
    assert len((job / "test_outcomes.csv").read_text().splitlines()) == 1 + 1000
    assert summary["parameters"] > 0 and summary["wall_time_s"] > 0
    assert 100 < summary["peak_rss_mb"] < 24 * 1024  # the process's peak memory, in MB (torch alone is >100)
    assert "git_sha" in summary and summary["machine"]["cpus"] >= 1
    assert (job / "checkpoints" / "last.ckpt").is_file()


def assert_same_run(straight, resumed, epochs):
    """Bit-identical ends: every weight, and every metrics.csv column but the wall-clock one."""
    a = torch.load(straight / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    with open(straight / "metrics.csv") as f1, open(resumed / "metrics.csv") as f2:
        rows1, rows2 = list(csv.DictReader(f1)), list(csv.DictReader(f2))
    assert len(rows1) == len(rows2) == epochs
    for key in rows1[0]:
        if key != "train/images_per_sec":
            assert [r[key] for r in rows1] == [r[key] for r in rows2], key


def test_resume_gives_identical_results(tmp_path):
    # patience 0: the learning rate drops on every epoch that does not improve, so the
    # scheduler's state matters as much as the weights, the RNG and the data order.
    fast = ["recipe.plateau_patience=0", "trainer.limit_train_batches=4"]
    _, straight = run(tmp_path, *fast, "trainer.max_epochs=4", name="straight")
    _, first = run(tmp_path, *fast, "trainer.max_epochs=2", name="resumed")
    ckpt = first / "checkpoints" / "last.ckpt"
    run(tmp_path, *fast, "trainer.max_epochs=4", f"ckpt_path={ckpt}", name="resumed")
    assert_same_run(straight, first, epochs=4)


class Killed(Exception):
    pass


class KillAt(L.Callback):
    """A kill inside an epoch: before training step `step`, or as epoch `validation`'s validation
    starts (after its last step's checkpoint): the job dies with its last.ckpt written."""

    def __init__(self, step=None, validation=None):
        self.step, self.validation = step, validation

    def on_train_batch_start(self, trainer, *_):
        if trainer.global_step == self.step:
            raise Killed

    def on_validation_start(self, trainer, *_):
        if trainer.current_epoch == self.validation and not trainer.sanity_checking:
            raise Killed


@pytest.mark.parametrize("kill, at, resumed_with", [({"step": 6}, (1, 6), []), ({"validation": 1}, (1, 7), []),
                                                   ({"step": 6}, (1, 6), ["data.num_workers=1"])],
                         ids=["mid-epoch", "before-validation", "mid-epoch-resumed-with-a-loader-worker"])
def test_resume_in_mid_epoch_gives_identical_results(tmp_path, monkeypatch, kill, at, resumed_with):
    # 4 batches per epoch, last.ckpt after every step but an epoch's last (a resume from there
    # would skip the epoch's validation); the kill lands in epoch 1: after step 6, or after its
    # last step (8) and before its validation, when last.ckpt is step 7's. The loader's place is
    # (epoch, batches taken): a resume on another machine, with other loader workers, goes on the same
    fast = ["recipe.plateau_patience=0", "trainer.limit_train_batches=4", "trainer.max_epochs=3",
            "callbacks.checkpoint.every_n_steps=1"]
    _, straight = run(tmp_path, *fast, name="straight")
    build = training.build_callbacks
    monkeypatch.setattr(training, "build_callbacks", lambda *a: [*build(*a), KillAt(**kill)])
    with pytest.raises(Killed):
        run(tmp_path, *fast, name="killed")
    monkeypatch.undo()
    ckpt = torch.load(tmp_path / "killed" / "checkpoints" / "last.ckpt", weights_only=False)
    assert (ckpt["epoch"], ckpt["global_step"]) == at  # within epoch 1
    summary, killed = run(tmp_path, *fast, *resumed_with, name="killed")  # re-run in its own directory: resume=auto
    assert summary["status"] == "completed" and summary["attempts"] == 2 and summary["steps"] == 12
    assert_same_run(straight, killed, epochs=3)


def test_seeds_change_results_and_repeat_them(tmp_path):
    """On one machine a run repeats bit for bit (docs/guide.md, "Reproducibility"): every weight, every
    metric of every epoch, every test image's outcome; another seed differs."""
    a, job_a = run(tmp_path, "seed=1", name="a")
    b, job_b = run(tmp_path, "seed=1", name="b")
    c, _ = run(tmp_path, "seed=2", name="c")
    assert_same_run(job_a, job_b, epochs=2)
    assert (job_a / "test_outcomes.csv").read_text() == (job_b / "test_outcomes.csv").read_text()
    assert a["test/top1_err"] == b["test/top1_err"] and a["final_train/loss"] == b["final_train/loss"]
    assert a["final_train/loss"] != c["final_train/loss"]


def test_bad_values_fail_before_any_file_is_written(tmp_path):
    with pytest.raises(ConfigError, match="model.activation='sigmoid'"):
        run(tmp_path, "model.activation=sigmoid")
    with pytest.raises(ConfigError, match="/nonexistent"):
        run(tmp_path, "data.root=/nonexistent")
    assert not (tmp_path / "job").exists()


def cli(*args, timeout=600):
    return subprocess.run(
        [sys.executable, str(REPO / "src" / "train.py"), *args], capture_output=True, text=True,
        timeout=timeout, cwd=REPO, env={**__import__("os").environ, "WANDB_MODE": "disabled"},
    )


def test_a_bad_job_does_not_end_its_sweep(tmp_path):
    out = run_main("train.py", "-m", "model.dropout=0.5,1.5", "seed=0", *TINY, f"hydra.sweep.dir={tmp_path}/sweep")
    assert out.returncode == 1, out.stderr[-2000:]  # the sweep ran on, and its exit status says one failed
    assert "1 job(s) did not complete: 1_model.dropout-1.5+seed-0" in out.stdout
    summaries = {p.parent.name: json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/summary.json")}
    status = sorted((s["arm"]["model.dropout"], s["status"]) for s in summaries.values())
    assert status == [(0.5, "completed"), (1.5, "failed")]
    assert "model.dropout=1.5 must be in [0, 1)" in (tmp_path / "sweep" / "report.md").read_text()


def test_wandb_offline_run_completes_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    summary, job = run(tmp_path, "logger.wandb.enabled=true", "logger.wandb.mode=auto")
    assert summary["status"] == "completed"
    assert list((job / "wandb").glob("offline-run-*/run-*.wandb"))


def test_any_grid_runs_with_m_and_ends_with_a_report(tmp_path):
    out = run_main("train.py", "-m", "model.pool=overlapping,non_overlapping", "seed=0", *TINY,
              f"hydra.sweep.dir={tmp_path}/sweep")
    assert out.returncode == 0, out.stderr[-2000:]
    jobs = sorted(p.parent.name for p in (tmp_path / "sweep").glob("*/summary.json"))
    assert len(jobs) == 2
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert "model.pool=overlapping" in report and "model.pool=non_overlapping" in report


def test_ddp_in_a_sweep_runs_each_job_once_on_two_processes(tmp_path):
    # Lightning's ddp re-runs sys.argv for rank 1; inside a sweep that would restart the sweep.
    out = cli("-m", "trainer=ddp", "trainer.accelerator=cpu", "model.lrn=true,false", *TINY,
              f"hydra.sweep.dir={tmp_path}/sweep")
    assert out.returncode == 0, out.stderr[-2000:]
    jobs = sorted((tmp_path / "sweep").glob("*/summary.json"))
    assert len(jobs) == 2
    for summary in jobs:
        s = json.loads(summary.read_text())
        assert s["status"] == "completed" and s["epochs"] == 2
        assert (summary.parent / "train_ddp_rank1.log").is_file()  # rank 1 ran this job only
    assert len([d for d in (tmp_path / "sweep").iterdir() if d.is_dir()]) == 2  # no stray runs
    assert (tmp_path / "sweep" / "report.md").is_file()


@pytest.mark.parametrize("kind", ["rich", "tqdm"])
def test_the_progress_bar_counts_epochs_from_one_as_the_epoch_lines_do(kind, capsys):
    """Lightning's bars say `Epoch 0` in the first epoch while the epoch lines say `epoch 1/2`."""
    from types import SimpleNamespace

    from alexnet.console import epoch_text, progress_bar

    trainer = SimpleNamespace(current_epoch=0, max_epochs=2)
    assert epoch_text(trainer) == "Epoch 1/2" and epoch_text(SimpleNamespace(current_epoch=4, max_epochs=-1)) == "Epoch 5/?"
    bar = progress_bar(kind, terminal=True)
    if kind == "rich":
        bar._trainer = trainer
        assert bar._get_train_description(0).strip() == "Epoch 1/2"
    else:
        bar._trainer = SimpleNamespace(**vars(trainer), num_training_batches=3)
        bar.train_progress_bar = bar.init_train_tqdm()
        bar.on_train_epoch_start(bar._trainer)
        assert bar.train_progress_bar.desc.startswith("Epoch 1/2")  # tqdm adds ": "


@pytest.mark.parametrize("kind", ["rich", "tqdm"])
def test_on_a_terminal_the_epoch_lines_print_above_the_bar_not_on_its_line(kind, tmp_path):
    """A real terminal (a pty): each epoch's log line starts a line of its own; written to the
    terminal directly, it used to land after the bar's text on the bar's line."""
    import fcntl
    import os
    import pty
    import re
    import struct
    import termios

    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 40 × 120
    env = {**os.environ, "WANDB_MODE": "disabled", "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, str(REPO / "src" / "train.py"), "debug=tiny", "trainer.max_epochs=2",
                             f"callbacks.progress_bar={kind}", f"hydra.run.dir={tmp_path}/run"],
                            stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary, cwd=REPO, env=env)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=300) == 0
    text = b"".join(chunks).decode(errors="replace")
    starts = [m.start() for m in re.finditer(r"\[alexnet\.progress\]\[INFO\] - epoch \d/2 · step", text)]
    assert len(starts) == 2, text[-3000:]
    bar = "━" if kind == "rich" else "█"
    assert bar in text  # a bar was drawn
    for start in starts:
        line = text[text.rfind("\n", 0, start) + 1:text.rfind("[", 0, start)]
        shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line).split("\r")[-1]
        assert shown.strip() == "", repr(line)  # nothing of the bar before the log line
