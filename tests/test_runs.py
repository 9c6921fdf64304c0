"""runs.py lists what real runs left on disk: a sweep with its jobs counted by status, single
runs (a killed one too), arms, seeds and the report."""

import runpy
import sys
from pathlib import Path

import pytest

from alexnet.tools.listing import (
    COMPLETED,
    FAILED,
    INTERRUPTED,
    NOT_STARTED,
    UNFINISHED,
    Entry,
    describe_status,
)
from alexnet.training import train
from conftest import REPO, make_config, write_image_folder
from test_evaluate import SMALL
from test_train import cli


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """logs/ as the platform leaves it: a sweep with a completed and a failed job (and its
    report), two completed runs of the same seed, and a run killed after its first epoch."""
    tmp = tmp_path_factory.mktemp("runs")
    data = ["data=folder", f"data.root={write_image_folder(tmp / 'data')}"]
    logs = tmp / "logs"
    out = cli("-m", "model.dropout=0.5,1.5", "seed=0", *SMALL, *data, f"hydra.sweep.dir={logs}/train/multiruns/sweep")
    assert out.returncode == 1, out.stderr[-2000:]  # the job with model.dropout=1.5 failed
    for name in ("a", "b", "killed"):
        assert train(make_config(*SMALL, *data), logs / "train" / "runs" / name)["status"] == "completed"
    # what a SIGKILL during training leaves: the config, metrics and checkpoints, no summary.json
    (logs / "train" / "runs" / "killed" / "summary.json").unlink()
    return logs


def listing(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["runs.py", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(REPO / "src" / "runs.py"), run_name="__main__")
    out = capsys.readouterr()
    return exit_.value.code, out.out.splitlines(), out.err.splitlines()


def test_the_sweeps_and_runs_on_disk_one_line_each(logs, monkeypatch, capsys):
    monkeypatch.chdir(logs)  # paths are shown relative to the working directory
    code, lines, err = listing(monkeypatch, capsys, logs)
    assert code == 0 and err == []
    assert lines[0].split() == ["path", "task", "status", "arms", "seeds", "report"]
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in lines[1:]}
    assert sorted(rows) == ["train/multiruns/sweep", "train/runs/a", "train/runs/b", "train/runs/killed"]
    assert rows["train/multiruns/sweep"] == "train failed: 1 completed, 1 failed model.dropout=0.5,1.5 0 train/multiruns/sweep/report.md"
    assert rows["train/runs/a"] == rows["train/runs/b"] == "train completed default 0 -"
    assert rows["train/runs/killed"].startswith("train running or interrupted; last write 0 min ago")


def test_a_folder_that_is_not_there_gets_one_line(tmp_path, monkeypatch, capsys):
    assert listing(monkeypatch, capsys, tmp_path / "nope") == (
        2, [], [f"error: {tmp_path / 'nope'} does not exist: pass sweep or run directories"])


def test_a_sweep_still_running_says_what_is_left():
    sweep = Entry(Path("s"), "sweep", "ablate_all", {COMPLETED: 3, UNFINISHED: 1, NOT_STARTED: 20}, "", "", None, 0.0)
    assert describe_status(sweep, now=120.0) == "running or interrupted: 3 completed, 1 running or interrupted, 20 not started; last write 2 min ago"
    done = Entry(Path("s"), "sweep", "ablate_lrn", {COMPLETED: 8}, "", "", None)
    assert describe_status(done) == "completed (8 jobs)"
    assert Entry(Path("s"), "sweep", "x", {COMPLETED: 1, FAILED: 1}, "", "", None).status == FAILED
    # Ctrl+C: its record says interrupted and how to resume; the sweep is not called failed
    stopped = Entry(Path("s"), "sweep", "x", {COMPLETED: 1, INTERRUPTED: 1, NOT_STARTED: 2}, "", "", None)
    assert describe_status(stopped) == "interrupted: 1 completed, 1 interrupted, 2 not started"
