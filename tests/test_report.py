"""The comparison report from synthetic run records, checked against hand computations."""

import json
import math
import re

import pytest

from alexnet import paper
from alexnet.report import build_report, find_runs, render
from alexnet.report.collect import Run
from alexnet.report.curves import epochs_to_threshold, ratio, speed
from alexnet.report.stats import difference, group_arms, mean_ci, t_quantile, welch
from alexnet.report.verdict import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, judge, judge_censored


def job(root, name, arm, seed, top1, top5, status="completed", ablation="lrn", train_curve=None, best1=None):
    """A job directory as train.py leaves it: summary.json, config.yaml, optional metrics.csv."""
    d = root / name
    d.mkdir(parents=True)
    summary = {"arm": arm, "seed": seed, "status": status, "ablation": ablation, "epochs": 3,
               "final_val/top1_err": top1, "final_val/top5_err": top5,
               "best_val/top1_err": top1 if best1 is None else best1, "best_val/top5_err": top5,
               "final_train/top1_err": top1 - 0.1, "wall_time_s": 10.0, "parameters": 1000,
               "data": {"root": "/d"}, "machine": {}, "group": root.name}
    if status != "completed":
        summary = {"arm": arm, "seed": seed, "status": status, "ablation": ablation,
                   "error": "RuntimeError: boom"}
    (d / "summary.json").write_text(json.dumps(summary))
    (d / "config.yaml").write_text(f"seed: {seed}\nablation: {ablation}\n")
    if train_curve is not None:
        lines = ["epoch,step,train/top1_err,val/top1_err"]
        lines += [f"{e}.0,{10 * (e + 1)}.0,{v},{v + 0.05}" for e, v in enumerate(train_curve)]
        (d / "metrics.csv").write_text("\n".join(lines) + "\n")
    return d


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "sweep"
    job(root, "0", {"model.lrn": True}, 0, 0.40, 0.20)
    job(root, "1", {"model.lrn": False}, 0, 0.45, 0.21)
    job(root, "2", {"model.lrn": True}, 1, 0.42, 0.22)
    job(root, "3", {"model.lrn": False}, 1, 0.49, 0.25)
    job(root, "4", {"model.lrn": False}, 2, 0.0, 0.0, status="failed")
    return root


# -- statistics by hand ---------------------------------------------------------------------------
@pytest.mark.parametrize("df, expected", [(1, 12.7062), (2, 4.3027), (4, 2.7764), (10, 2.2281), (30, 2.0423)])
def test_t_quantile_matches_the_printed_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=1e-4)


def _t_cdf_by_integration(t, df, steps=20000):
    """An independent check: Simpson's rule on the t density from 0 to t."""
    c = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
    h = t / steps
    f = [c * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(steps + 1)]
    return 0.5 + h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))


def test_t_quantile_at_fractional_dof_against_integration():
    q = t_quantile(0.975, 25 / 17)
    assert _t_cdf_by_integration(q, 25 / 17) == pytest.approx(0.975, abs=1e-6)


def test_mean_ci_by_hand():
    lo, hi = mean_ci([40.0, 42.0])  # mean 41, s = √2, se = 1, t(1) = 12.7062
    assert (lo + hi) / 2 == pytest.approx(41.0)
    assert (hi - lo) / 2 == pytest.approx(12.7062, abs=1e-4)
    assert mean_ci([40.0]) is None


def test_arms_mean_std_and_welch_difference_by_hand(sweep):
    arms = {a.name: a for a in group_arms(find_runs([sweep]))}
    on, off = arms["model.lrn=True"], arms["model.lrn=False"]
    assert on.n == 2 and off.n == 2 and len(off.failed) == 1 and off.n_jobs == 3
    # top-1 in %: on = 40, 42 → mean 41, sample std √2; off = 45, 49 → mean 47, std √8
    assert on.mean("final_val/top1_err") == pytest.approx(41.0)
    assert on.std("final_val/top1_err") == pytest.approx(2**0.5)
    assert off.std("final_val/top1_err") == pytest.approx(8**0.5)
    d, se = difference(on, off, "final_val/top1_err")
    assert d == pytest.approx(6.0) and se == pytest.approx(5**0.5)
    # Welch: var/n = 1 and 4 → dof = 25 / (1/1 + 16/1) = 25/17
    w = welch(on.values("final_val/top1_err"), off.values("final_val/top1_err"))
    assert w.df == pytest.approx(25 / 17)
    half = t_quantile(0.975, 25 / 17) * 5**0.5
    assert w.ci == pytest.approx((6.0 - half, 6.0 + half))
    assert welch([40.0], [45.0, 47.0]).ci is None


# -- the verdict rule -----------------------------------------------------------------------------
def diff(lo, hi):
    return welch([0.0, 0.0], [0.0, 0.0]).__class__((lo + hi) / 2, 1.0, 3.0, (lo, hi))


@pytest.mark.parametrize("ci, claimed, outcome", [
    ((0.5, 3.0), 1.4, REPRODUCED),        # excludes 0 with the paper's sign
    ((-3.0, -0.5), 1.4, NOT_REPRODUCED),  # excludes 0, opposite sign
    ((-0.5, 0.8), 1.4, NOT_REPRODUCED),   # contains 0, rules out +1.4
    ((-0.5, 2.0), 1.4, INCONCLUSIVE),     # contains 0 and the claim
    ((-3.0, -0.5), -1.0, REPRODUCED),     # a claim of an improvement
])
def test_verdict_rule(ci, claimed, outcome):
    assert judge(diff(*ci), claimed).outcome == outcome


def test_verdict_with_one_seed_is_inconclusive_not_faked():
    v = judge(welch([40.0], [45.0, 46.0]), 1.4)
    assert v.outcome == INCONCLUSIVE and "no CI possible" in v.reason


def test_censored_speed_verdicts():
    assert judge_censored([True, True], [True, True]) is None
    assert judge_censored([True, True], [False, False]).outcome == REPRODUCED
    assert judge_censored([False, False], [True, True]).outcome == NOT_REPRODUCED
    assert judge_censored([False, False], [False, False]).outcome == INCONCLUSIVE
    assert judge_censored([True], [False]).outcome == INCONCLUSIVE


# -- epochs to threshold --------------------------------------------------------------------------
def test_epochs_to_threshold_and_ratio(tmp_path):
    relu = [job(tmp_path, f"r{s}", {"model.activation": "relu"}, s, 0.3, 0.1, ablation="activation",
                train_curve=c) for s, c in enumerate([[0.5, 0.3, 0.25, 0.2], [0.5, 0.24, 0.2, 0.1]])]
    tanh = [job(tmp_path, f"t{s}", {"model.activation": "tanh"}, s, 0.3, 0.1, ablation="activation",
                train_curve=c) for s, c in enumerate([[0.6, 0.5, 0.4, 0.3], [0.6, 0.5, 0.3, 0.26]])]
    runs = {r.path.name: r for r in find_runs([tmp_path])}
    assert epochs_to_threshold(runs["r0"], 0.25) == 3  # ≤ counts: 0.25 at the 3rd epoch
    assert epochs_to_threshold(runs["r1"], 0.25) == 2
    assert epochs_to_threshold(runs["t0"], 0.25) is None
    assert epochs_to_threshold(runs["t0"], 0.4) == 3
    fast = speed([runs[p.name] for p in relu], 0.25)
    slow = speed([runs[p.name] for p in tanh], 0.25)
    assert fast.mean == pytest.approx(2.5) and slow.mean is None
    assert ratio(slow, fast) == (">", pytest.approx(4 / 2.5))  # needs more than all 4 epochs
    assert ratio(speed([runs[p.name] for p in tanh], 0.4), speed([runs[p.name] for p in relu], 0.4)) == (
        "=", pytest.approx(3.0 / 2.0))  # relu: 2, 2; tanh: 3, 3
    text = render([tmp_path], threshold=0.25)
    assert "reproduced** (only the paper's arm reached the threshold, in every seed)" in text
    assert "> 1.60× (never reached)" in text and "never (≤4 ep.)" in text


# -- the report -----------------------------------------------------------------------------------
def test_report_lists_failed_jobs_the_claim_and_ci(sweep):
    text = render([sweep])
    assert "| `model.lrn=True` | 2 of 2 |" in text and "| `model.lrn=False` | 2 of 3 |" in text
    half = t_quantile(0.975, 1) * 1.0
    assert f"41.00 ± 1.41 [{41 - half:.2f}, {41 + half:.2f}]" in text
    assert "+6.00" in text and "| +1.4 |" in text and "| +1.2 |" in text
    assert "did not complete" in text and "boom" in text
    assert text.index("`model.lrn=True` |") < text.index("`model.lrn=False` |")  # paper arm first
    assert paper.CLAIMS["lrn"].text in text


def test_one_seed_arm_says_no_ci_possible(tmp_path):
    job(tmp_path, "0", {"model.pool": "overlapping"}, 0, 0.40, 0.20, ablation="pool")
    job(tmp_path, "1", {"model.pool": "non_overlapping"}, 0, 0.41, 0.20, ablation="pool")
    job(tmp_path, "2", {"model.pool": "non_overlapping"}, 1, 0.0, 0.0, status="failed", ablation="pool")
    text = render([tmp_path])
    assert "40.00 (1 seed: no CI possible)" in text and "no CI possible (one seed)" in text
    assert "**Verdict: inconclusive** (one seed in an arm: no CI possible)" in text
    assert "| `model.pool=non_overlapping` | 1 of 2 |" in text
    arm_rows = [line for line in text.splitlines() if line.startswith("| `model.pool=")]
    assert arm_rows and not any("±" in line for line in arm_rows)  # no std is invented


def test_merging_two_sweeps_pools_their_seeds(tmp_path):
    job(tmp_path / "a", "0", {"model.lrn": True}, 0, 0.40, 0.20)
    job(tmp_path / "b", "0", {"model.lrn": True}, 1, 0.44, 0.20)
    arms = group_arms(find_runs([tmp_path / "a", tmp_path / "b"]))
    assert len(arms) == 1 and arms[0].n == 2 and arms[0].mean("final_val/top1_err") == pytest.approx(42.0)


def test_a_rerun_replaces_the_failed_job_of_the_same_seed(tmp_path):
    job(tmp_path / "a", "0", {"model.lrn": True}, 0, 0.0, 0.0, status="failed")
    job(tmp_path / "a", "1", {"model.lrn": True}, 1, 0.44, 0.20)
    job(tmp_path / "b", "0", {"model.lrn": True}, 0, 0.40, 0.20)
    runs = find_runs([tmp_path / "a", tmp_path / "b"])
    assert sorted(r.seed for r in runs) == [0, 1] and all(r.completed for r in runs)
    assert "superseded" in render([tmp_path / "a", tmp_path / "b"])


def test_seeds_of_the_grid_that_never_started_are_missing(tmp_path):
    root = tmp_path / "sweep"
    job(root, "0", {"model.lrn": True}, 0, 0.40, 0.20)
    job(root, "1", {"model.lrn": False}, 0, 0.45, 0.20)
    (root / "multirun.yaml").write_text(
        "hydra:\n  sweeper:\n    params:\n      seed: 0,1\n      model.lrn: true,false\n"
        "  overrides:\n    task:\n    - seed=0,1,2\n")
    text = render([root])
    assert "| `model.lrn=True` | 1 of 3 |" in text
    assert "seed 2: missing" in text and "2 of 6 jobs present" in text
    (root / "multirun.yaml").write_text(
        "hydra:\n  sweeper:\n    params:\n      seed: 0,1\n      model.lrn: true,false\n"
        "  overrides:\n    task:\n    - seed=0\n")  # one seed on the command line replaces the grid's
    assert "| `model.lrn=True` | 1 of 1 |" in render([root])


def test_a_job_without_summary_is_listed_under_its_arm(tmp_path):
    job(tmp_path, "0", {"model.lrn": True}, 0, 0.40, 0.20)
    job(tmp_path, "1", {"model.lrn": False}, 0, 0.45, 0.20)
    crashed = tmp_path / "2"
    (crashed / ".hydra").mkdir(parents=True)
    (crashed / ".hydra" / "overrides.yaml").write_text("- seed=1\n- model.lrn=False\n- debug=tiny\n")
    (crashed / "config.yaml").write_text("seed: 1\nablation: lrn\n")
    arms = {a.name: a for a in group_arms(find_runs([tmp_path]))}
    assert [r.summary["status"] for r in arms["model.lrn=False"].failed] == ["missing"]


def test_build_report_writes_markdown_html_and_every_figure(tmp_path):
    root = tmp_path / "sweep"
    for s in range(2):
        job(root, f"on{s}", {"model.lrn": True}, s, 0.40 + s / 100, 0.2, train_curve=[0.8, 0.5, 0.2])
        job(root, f"off{s}", {"model.lrn": False}, s, 0.45 + s / 50, 0.2, train_curve=[0.9, 0.6, 0.3])
    report = build_report([root], tmp_path / "out", wandb=None)
    html = report.html.read_text()
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert sources and sorted(sources) == sorted(p.name for p in report.figures)
    for src in sources:
        assert (tmp_path / "out" / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({src})" in report.markdown.read_text()
    assert "Student t" in html and "<table>" in html


def test_report_cli_merges_and_names_a_wrong_directory(tmp_path, capsys):
    import importlib.util

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("report_main", REPO / "src" / "report.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    job(tmp_path / "a", "0", {"model.lrn": True}, 0, 0.40, 0.20)
    job(tmp_path / "b", "0", {"model.lrn": False}, 0, 0.45, 0.20)
    assert cli.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "r"),
                     "--wandb", "disabled"]) == 0
    text = (tmp_path / "r" / "report.md").read_text()
    assert "`model.lrn=True`" in text and "`model.lrn=False`" in text
    assert cli.main([str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err and not (tmp_path / "nope").exists()


def test_claims_cover_the_papers_ablations():
    assert {"lrn", "pool", "columns", "activation", "dropout", "pca_lighting", "ten_crop"} <= set(paper.CLAIMS)
    ten = paper.CLAIMS["ten_crop"]
    assert (ten.top1_delta, ten.top5_delta) == pytest.approx((39.0 - 37.5, 18.3 - 17.0))
    assert paper.CLAIMS["activation"].speedup == 6 and paper.CLAIMS["activation"].threshold == 0.25


def test_run_value_derives_the_generalisation_gap(tmp_path):
    run = Run(tmp_path, {"final_val/top1_err": 0.4, "final_train/top1_err": 0.1})
    assert run.value("gap/top1_err") == pytest.approx(0.3)


def test_dropout_claim_is_judged_on_the_generalisation_gap(tmp_path):
    # with dropout: val 40/41 %, train 30/30.5 % (gap 10, 10.5); without: val 42/42.5, train 20/21
    for s, (val, train) in enumerate([(0.40, 0.30), (0.41, 0.305)]):
        d = job(tmp_path, f"d{s}", {"model.dropout": 0.5}, s, val, 0.2, ablation="dropout")
        summary = json.loads((d / "summary.json").read_text()) | {"final_train/top1_err": train}
        (d / "summary.json").write_text(json.dumps(summary))
    for s, (val, train) in enumerate([(0.42, 0.20), (0.425, 0.21)]):
        d = job(tmp_path, f"n{s}", {"model.dropout": 0.0}, s, val, 0.2, ablation="dropout")
        summary = json.loads((d / "summary.json").read_text()) | {"final_train/top1_err": train}
        (d / "summary.json").write_text(json.dumps(summary))
    text = render([tmp_path])
    gap_row = next(line for line in text.splitlines() if "val − train top-1 gap" in line and "| +" in line)
    assert "+11.50" in gap_row  # gaps: with dropout 10, 10.5 (mean 10.25); without 22, 21.5 (21.75)
    assert "**Verdict: reproduced**" in text
