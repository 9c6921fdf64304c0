"""The W&B Report is a spec built in code: checked here with no network and no key."""

import time

import pytest

from alexnet.report import find_runs
from alexnet.report import wandb_report as wbr
from test_report import job

wr = pytest.importorskip("wandb_workspaces.reports.v2", reason="wandb-workspaces is not installed")


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "lrn-sweep"
    for s in range(2):
        for on in (True, False):
            d = job(root, f"{s}_{on}", {"model.lrn": on}, s, 0.4, 0.2)
            (d / "config.yaml").write_text(
                f"seed: {s}\nablation: lrn\nlogger:\n  wandb:\n    project: proj\n    entity: team\n")
            (d / "wandb" / f"offline-run-2026_{s}{on}").mkdir(parents=True)
    return root


def test_spec_groups_runs_by_arm_with_curve_panels_and_the_table(sweep):
    runs = find_runs([sweep])
    assert wbr.wandb_target(runs) == ("proj", "team")
    report = wbr.report_spec(runs, "| arm | Δ |\n|---|---|\n| x | +1 |", "proj", "team")
    assert isinstance(report, wr.Report) and report.project == "proj" and report.entity == "team"
    grids = [b for b in report.blocks if isinstance(b, wr.PanelGrid)]
    assert len(grids) == 1
    runset = grids[0].runsets[0]
    assert runset.groupby == ["config.model.lrn"]
    assert runset.filters == "Metric(\"Group\") in ['lrn-sweep']"  # the expression form
    bars = [p for p in grids[0].panels if isinstance(p, wr.BarPlot)]
    assert bars[0].metrics == ["test/top1_err", "test/top5_err"] and bars[0].groupby_rangefunc == "stderr"
    lines = {tuple(p.y): p for p in grids[0].panels if isinstance(p, wr.LinePlot)}
    assert {("train_eval/top1_err",), ("val/top1_err",), ("val/top5_err",)} <= set(lines)
    assert all(p.x == "epoch" and p.groupby_aggfunc == "mean" for p in lines.values())
    tables = [b for b in report.blocks if isinstance(b, wr.MarkdownBlock)]
    assert tables and "| x | +1 |" in tables[0].text


def test_offline_says_how_to_sync_and_rebuild(sweep):
    line = wbr.publish(find_runs([sweep]), [sweep], "table", requested="offline")
    assert "\n" not in line
    assert "wandb sync" in line and "offline-run-*" in line and f"{sweep} --wandb online" in line


def test_no_wandb_runs_no_report(tmp_path):
    job(tmp_path, "0", {"model.lrn": True}, 0, 0.4, 0.2)
    assert "no W&B report" in wbr.publish(find_runs([tmp_path]), [tmp_path], "t", requested="online")


def test_online_save_is_time_limited_and_never_raises(sweep, monkeypatch):
    monkeypatch.setattr(wbr, "decide_wandb_mode", lambda requested: "online")
    monkeypatch.setattr(wr.Report, "save", lambda self, **kw: time.sleep(30))
    start = time.perf_counter()
    line = wbr.publish(find_runs([sweep]), [sweep], "t", requested="auto", timeout_s=0.5)
    assert time.perf_counter() - start < 5
    assert "not saved (timed out" in line and "--wandb online" in line

    def refuse(self, **kw):
        raise RuntimeError("permission denied")

    monkeypatch.setattr(wr.Report, "save", refuse)
    line = wbr.publish(find_runs([sweep]), [sweep], "t", requested="auto", timeout_s=5)
    assert "RuntimeError: permission denied" in line
