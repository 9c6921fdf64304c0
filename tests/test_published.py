"""What experiments/ publishes is what our tools make of the records committed beside it: every
scorecard, experiments/README.md among them, regenerates byte for byte from the committed run
records, and every command it prints is one the platform accepts."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
from pathlib import Path

import pytest

from alexnet import paper
from alexnet.config_checks import config_problem
from alexnet.report.scorecard import build_scorecard
from conftest import make_config

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SCORECARDS = sorted(p.parent for p in EXPERIMENTS.rglob("scorecard.md"))
_spec = importlib.util.spec_from_file_location("scorecard_main", EXPERIMENTS.parent / "src" / "scorecard.py")
_cli = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cli)
scorecard_main = _cli.main


@pytest.mark.parametrize("study", SCORECARDS, ids=[str(p.relative_to(EXPERIMENTS)) for p in SCORECARDS])
def test_committed_scorecard_regenerates_from_the_committed_records(study, tmp_path, monkeypatch):
    relative = study.relative_to(EXPERIMENTS.parent)  # the scorecard names its sources as given
    shutil.copytree(study, tmp_path / relative, ignore=shutil.ignore_patterns("*.png", "scorecard.*"))
    monkeypatch.chdir(tmp_path)
    card = build_scorecard([relative], relative, conf_dir=EXPERIMENTS.parent / "conf")
    assert card.html.read_text() == (study / "scorecard.html").read_text()
    assert card.markdown.read_text() == (study / "scorecard.md").read_text(), (
        f"{relative}/scorecard.md is stale: regenerate it with python src/scorecard.py {relative} --out {relative}")


def test_there_is_a_published_scorecard():
    assert SCORECARDS, "experiments/ holds no scorecard.md"


VARIANCE = sorted(EXPERIMENTS.rglob("variance.md"))


@pytest.mark.parametrize("table", VARIANCE, ids=[str(p.relative_to(EXPERIMENTS)) for p in VARIANCE])
def test_a_committed_variance_budget_is_what_its_command_gives(table, monkeypatch):
    """variance.md is generated: the command it names, run on the committed records, writes it
    again byte for byte."""
    from alexnet.tools.variance import spreads
    from alexnet.tools.variance import table as budget

    text = table.read_text()
    (command,) = _commands(text, "variance.py")
    args = shlex.split(command)
    dirs = args[: args.index("--out")]
    assert Path(args[args.index("--out") + 1]) == table.relative_to(EXPERIMENTS.parent)
    monkeypatch.chdir(EXPERIMENTS.parent)
    assert text.split("\n\n", 1)[1] == budget(spreads(dirs)), (
        f"{table} is stale: regenerate it with python src/variance.py {command}")


README = EXPERIMENTS / "README.md"


def _commands(text: str, script: str) -> list[str]:
    return re.findall(rf"`python src/{script} ([^`]+)`", text)


def test_experiments_readme_is_the_scorecard_its_own_command_regenerates(monkeypatch, capsys):
    """experiments/README.md is generated, never typed: the command printed in it, run from the
    repository on the committed records, gives it back unchanged (--check writes nothing)."""
    text = README.read_text()
    (command,) = set(_commands(text, "scorecard.py"))
    assert "--readme" in command.split()
    monkeypatch.chdir(EXPERIMENTS.parent)
    assert scorecard_main(shlex.split(command) + ["--check"]) == 0, capsys.readouterr().err
    claims = [line for line in text.split("**What the table as a whole")[0].splitlines() if line.startswith("| `")]
    assert [c.split("`")[1] for c in claims] == list(paper.CLAIMS), "one row per claim, in the paper's order"


@pytest.mark.parametrize("command", sorted(set(_commands(README.read_text(), "train.py"))))
def test_every_training_command_in_experiments_readme_composes_and_passes_the_checks(command):
    """The README's re-run and GPU commands are commands the platform accepts as printed (DIR
    standing for the data); a sweep's values (seed=0,1,2) composed at their first value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    args = shlex.split(command)
    parsed = OverridesParser.create().parse_overrides(args)
    cfg = make_config(*(f"{o.key_or_group}={next(iter(o.sweep_iterator()))}" if o.is_sweep_override()
                        else a for o, a in zip(parsed, args, strict=True)))
    assert config_problem(cfg) is None
    assert cfg.ablation.claim in {*paper.CLAIMS, "all"}
