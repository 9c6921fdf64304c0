"""runs.py lists what real runs left on disk: a sweep with its jobs counted by status, single
runs (a killed one too), arms, seeds and the report."""

import json
import runpy
import sys
from html.parser import HTMLParser
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
from conftest import REPO, make_config, run_main, write_image_folder
from test_evaluate import SMALL


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """logs/ as the platform leaves it: a sweep with a completed and a failed job (and its
    report), two completed runs of the same seed, and a run killed after its first epoch."""
    tmp = tmp_path_factory.mktemp("runs")
    data = ["data=folder", f"data.root={write_image_folder(tmp / 'data')}"]
    logs = tmp / "logs"
    out = run_main("train.py", "-m", "model.dropout=0.5,1.5", "seed=0", *SMALL, *data, f"hydra.sweep.dir={logs}/train/multiruns/sweep")
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


class Cells(HTMLParser):
    """The rows of a page's tables, as text: {table id: [[cell, ...], ...]}."""

    def __init__(self):
        super().__init__()
        self.tables, self.table, self.row = {}, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.table = self.tables.setdefault(dict(attrs)["id"], [])
        elif tag == "tr" and self.table is not None:
            self.row = []
            self.table.append(self.row)
        elif tag in ("td", "th") and self.row is not None:
            self.row.append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = self.row = None

    def handle_data(self, data):
        if self.row:
            self.row[-1] += data.strip()


def test_the_page_of_every_run_holds_each_runs_arm_seed_and_test_error(logs, monkeypatch, capsys):
    page = logs / "runs.html"
    code, lines, _ = listing(monkeypatch, capsys, logs, "--html", page)
    assert code == 0 and lines[-1] == f"every run in one page: {page}"
    parser = Cells()
    parser.feed(page.read_text())
    head, *rows = parser.tables["runs"]
    by_run = {r[head.index("run")]: dict(zip(head, r, strict=True)) for r in rows}
    summaries = {p.parent.name: json.loads(p.read_text()) for p in logs.rglob("summary.json")}
    assert set(by_run) == set(summaries) | {"killed"}  # the killed run has no summary, still listed
    for name, s in summaries.items():
        row = by_run[name]
        arm = [f"{k}={v}" for k, v in s["arm"].items()]
        assert all(a in row["arm"] for a in arm) and (arm or row["arm"] == "default")
        assert row["seed"] == str(s["seed"])
        assert row["status"] == s["status"]
        shown = "-" if s.get("test/top1_err") is None else f"{100 * s['test/top1_err']:.2f}"
        assert row["test top-1 %"] == shown
    assert {r["sweep"] for r in by_run.values()} == {"logs/train/multiruns/sweep", "-"}
    assert by_run["killed"]["status"] == "running or interrupted"
    (sweep_head, *sweeps) = parser.tables["sweeps"]
    assert [dict(zip(sweep_head, r, strict=True))["report"] for r in sweeps] == ["report"]
