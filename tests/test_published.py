"""What experiments/ publishes is what our tools make of the records committed beside it: the
scorecard regenerates, byte for byte, from the committed run records."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from alexnet.report.scorecard import build_scorecard

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SCORECARDS = sorted(p.parent for p in EXPERIMENTS.rglob("scorecard.md"))


@pytest.mark.parametrize("study", SCORECARDS, ids=[str(p.relative_to(EXPERIMENTS)) for p in SCORECARDS])
def test_committed_scorecard_regenerates_from_the_committed_records(study, tmp_path, monkeypatch):
    relative = study.relative_to(EXPERIMENTS.parent)  # the scorecard names its sources as given
    shutil.copytree(study, tmp_path / relative, ignore=shutil.ignore_patterns("*.png", "scorecard.*"))
    monkeypatch.chdir(tmp_path)
    card = build_scorecard([relative], relative)
    assert card.html.read_text() == (study / "scorecard.html").read_text()
    assert card.markdown.read_text() == (study / "scorecard.md").read_text(), (
        f"{relative}/scorecard.md is stale: regenerate it with python src/scorecard.py {relative} --out {relative}")


def test_there_is_a_published_scorecard():
    assert SCORECARDS, "experiments/ holds no scorecard.md"
