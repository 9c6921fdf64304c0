"""The scorecard: one row per claim over several sweeps, judged as each sweep's report judges it."""

import importlib.util
import re

from alexnet import paper
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
    card = build_scorecard([lrn, pool], tmp_path / "out", conf_dir=REPO / "conf")
    text = card.markdown.read_text()
    rows = [line for line in text.split("## What differs")[0].splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == list(paper.CLAIMS)  # every claim, measured or not
    rows = rows[:2]
    build_report([pool], pool)
    for sweep, name in ((lrn, "lrn"), (pool, "pool")):  # the verdict each sweep's own report gives
        report = (sweep / "report.md").read_text()
        verdict = re.search(r"\*\*Verdict: ([a-z ,]+)\*\*", report)[1]
        row = next(r for r in rows if r.startswith(f"| `{name}`"))
        assert f"**{verdict}**" in row and "| 3 |" in row
    assert "[lrn](../lrn/report.md)" in rows[0] and "[pool](../pool/report.md)" not in rows[1]  # built after
    columns = next(line for line in text.splitlines() if line.startswith("| `columns`"))
    assert "**not measured yet**" in columns and "`python src/train.py experiment=ablate_columns " in columns
    assert card.figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "<table>" in card.html.read_text()


def test_a_claim_judged_on_the_other_net_points_to_that_row(tmp_path):
    relu = tmp_path / "relu"  # Figure 1 on the four-layer net only, as the paper measured it
    for s in range(3):
        job(relu, f"r{s}", {"model.activation": "relu"}, s, 0.30, 0.1, ablation="cifar_relu",
            train_curve=[0.5, 0.2, 0.1])
        job(relu, f"t{s}", {"model.activation": "tanh"}, s, 0.35, 0.1, ablation="cifar_relu",
            train_curve=[0.6, 0.4, 0.2])
    text = build_scorecard([relu], tmp_path / "out").markdown.read_text()
    rows = {line.split("`")[1]: line for line in text.splitlines() if line.startswith("| `")}
    assert "| 3 |" in rows["cifar_relu"] and "not measured" not in rows["cifar_relu"]
    assert "**not measured on this net**: measured on convnet4 (row `cifar_relu`)" in rows["activation"]
    assert "**not measured yet**" in rows["lrn"]  # cifar_lrn is unmeasured too: no twin to point to


def test_scorecard_cli(tmp_path, capsys):
    lrn, pool = two_sweeps(tmp_path)
    spec = importlib.util.spec_from_file_location("scorecard_main", REPO / "src" / "scorecard.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.main([str(lrn), str(pool), "--out", str(tmp_path / "o")]) == 0
    assert "2 claims" in capsys.readouterr().out
    assert cli.main([str(tmp_path / "nope"), "--out", str(tmp_path / "o2")]) == 2
    assert "nope" in capsys.readouterr().err and not (tmp_path / "o2").exists()


def test_readme_mode_and_check_say_when_the_committed_page_is_stale(tmp_path, capsys):
    lrn, pool = two_sweeps(tmp_path)
    spec = importlib.util.spec_from_file_location("scorecard_main", REPO / "src" / "scorecard.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = tmp_path / "pages"
    (out / "study").mkdir(parents=True)
    (out / "study" / "README.md").write_text("# A study of ours\n\ntext\n")
    args = [str(lrn), str(pool), "--out", str(out), "--readme"]
    assert cli.main(args + ["--check"]) == 1  # nothing written yet
    assert "regenerate it with python src/scorecard.py" in capsys.readouterr().err
    assert cli.main(args) == 0 and not (out / "scorecard.md").exists() and not (out / "scorecard.html").exists()
    page = (out / "README.md").read_text()
    assert "[study/](study/README.md) | A study of ours |" in page  # the folders beside it, by their titles
    assert "## The same studies on GPUs" in page and "| the paper (alexnet) |" in page
    assert cli.main(args + ["--check"]) == 0
    (out / "README.md").write_text(page.replace("**undecided**", "**reproduced**", 1))  # typed by hand
    assert cli.main(args + ["--check"]) == 1


def test_a_sweeps_command_is_printed_shell_quoted_with_this_machines_paths_left_out(tmp_path):
    import shlex

    import yaml

    from alexnet.report.collect import sweep_command
    from conftest import make_config

    task = ["experiment=ablate_cifar_relu", "data=cifar10", "data.root=/home/me/cifar", "paths.log_dir=/home/me/logs",
            "recipe.lr_by_activation={relu: 0.002, tanh: 0.004}", "ablation.max_seeds=5"]
    (tmp_path / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": task, "hydra": ["hydra.sweep.dir=/x"]}}}))
    command = sweep_command(tmp_path)
    assert "/home/me" not in command and "hydra.sweep.dir" not in command
    python, script, *args = shlex.split(command)  # as a shell reads it
    assert (python, script) == ("python", "src/train.py")
    assert args == [task[0], task[1], "data.root=DIR", "paths.log_dir=PATH", task[4], task[5]]
    assert make_config(*args).recipe.lr_by_activation.tanh == 0.004
    assert sweep_command(tmp_path / "no-sweep-here") is None
    # what a preset or default may change later is pinned as the jobs ran it
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "config.yaml").write_text("trainer:\n  max_epochs: 6\nrecipe:\n  schedule: plateau\n")
    assert shlex.split(sweep_command(tmp_path))[-2:] == ["trainer.max_epochs=6", "recipe.schedule=plateau"]


def test_a_claim_with_one_arm_finished_shows_the_papers_number_and_no_measurement(tmp_path):
    lrn = tmp_path / "lrn"
    job(lrn, "on0", {"model.lrn": True}, 0, 0.40, 0.20)  # the paper's arm of seed 0; its pair still to run
    text = build_scorecard([lrn], tmp_path / "out", conf_dir=REPO / "conf").markdown.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `lrn`")).split(" | ")
    assert row[1:7] == ["+1.4", "test top-1", "-", "-", "**undecided**", "-"]


def test_the_scorecard_comes_as_csv_and_as_a_booktabs_table(tmp_path):
    import csv

    lrn, pool = two_sweeps(tmp_path)
    card = build_scorecard([lrn, pool], tmp_path / "out", conf_dir=REPO / "conf")
    rows = list(csv.reader((tmp_path / "out" / "scorecard.csv").open()))
    assert rows[0][:3] == ["claim", "the paper", "measure"] and len(rows) == 1 + len(paper.CLAIMS)
    lrn_row = next(r for r in rows if r[0].startswith("lrn: "))  # Markdown gone: no ** or `
    assert "**" not in "".join(lrn_row) and "`" not in "".join(lrn_row)
    assert lrn_row[5] in {v for v in ("undecided", "reproduced", "not reproduced", "no effect",
                                      "smaller than claimed", "larger than claimed", "opposite",
                                      "direction confirmed, size unresolved")}
    tex = (tmp_path / "out" / "scorecard.tex").read_text()
    assert tex.startswith(r"\begin{tabular}{llllll}") and r"\toprule" in tex and r"\bottomrule" in tex
    body = tex.split(r"\midrule")[1]
    assert body.count(r" \\") == len(paper.CLAIMS) and r"\S{}3.3" in body and "§" not in body
    assert card.tables == (tmp_path / "out" / "scorecard.csv", tmp_path / "out" / "scorecard.tex")
    assert card.figure.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
