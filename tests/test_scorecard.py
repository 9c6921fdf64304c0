"""The scorecard: one row per claim over several sweeps, judged as each sweep's report judges it."""

import importlib.util
import re

from alexnet.report import build_report
from alexnet.report.scorecard import build_scorecard
from conftest import REPO
from test_report import job


def two_sweeps(tmp_path):
    lrn, pool = tmp_path / "lrn", tmp_path / "pool"
    for s, base in enumerate([0.40, 0.45, 0.35]):
        job(lrn, f"on{s}", {"model.lrn": True}, s, base, 0.2, train_curve=[0.8, 0.5])
        job(lrn, f"off{s}", {"model.lrn": False}, s, base + 0.014 + 0.001 * (s % 2), 0.2, train_curve=[0.8, 0.6])
        job(pool, f"o{s}", {"model.pool": "overlapping"}, s, base, 0.2, ablation="pool")
        job(pool, f"n{s}", {"model.pool": "non_overlapping"}, s, base + 0.03 * (s - 1), 0.2, ablation="pool")
    build_report([lrn], lrn)
    return lrn, pool


def test_scorecard_has_one_row_per_claim_as_the_reports_judge_it(tmp_path):
    lrn, pool = two_sweeps(tmp_path)
    card = build_scorecard([lrn, pool], tmp_path / "out")
    text = card.markdown.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == 2 and rows[0].startswith("| `lrn`") and rows[1].startswith("| `pool`")
    build_report([pool], pool)
    for sweep, name in ((lrn, "lrn"), (pool, "pool")):  # the verdict each sweep's own report gives
        report = (sweep / "report.md").read_text()
        verdict = re.search(r"\*\*Verdict: ([a-z ]+)\*\*", report)[1]
        row = next(r for r in rows if r.startswith(f"| `{name}`"))
        assert f"**{verdict}**" in row and "| 3 |" in row
    assert "[lrn](../lrn/report.md)" in rows[0] and "[pool](../pool/report.md)" not in rows[1]  # built after
    assert "`columns`" in text.split("Not measured")[1]  # claims without runs are named
    assert card.figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "<table>" in card.html.read_text()


def test_scorecard_cli(tmp_path, capsys):
    lrn, pool = two_sweeps(tmp_path)
    spec = importlib.util.spec_from_file_location("scorecard_main", REPO / "src" / "scorecard.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.main([str(lrn), str(pool), "--out", str(tmp_path / "o")]) == 0
    assert "2 claims" in capsys.readouterr().out
    assert cli.main([str(tmp_path / "nope"), "--out", str(tmp_path / "o2")]) == 2
    assert "nope" in capsys.readouterr().err and not (tmp_path / "o2").exists()
