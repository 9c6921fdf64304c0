"""report.md from synthetic run records, checked against hand computations."""

import json

import pytest

from alexnet.report import find_runs
from alexnet.report.markdown import render
from alexnet.report.stats import difference, group_arms


def job(root, name, arm, seed, top1, top5, status="completed"):
    d = root / name
    d.mkdir(parents=True)
    summary = {"arm": arm, "seed": seed, "status": status, "ablation": "lrn", "epochs": 3,
               "final_val/top1_err": top1, "final_val/top5_err": top5,
               "best_val/top1_err": top1, "best_val/top5_err": top5, "wall_time_s": 10.0,
               "parameters": 1000, "data": {"root": "/d"}, "machine": {}}
    if status != "completed":
        summary = {"arm": arm, "seed": seed, "status": status, "error": "RuntimeError: boom"}
    (d / "summary.json").write_text(json.dumps(summary))
    (d / "config.yaml").write_text("seed: 0\n")


@pytest.fixture
def sweep(tmp_path):
    job(tmp_path, "0", {"model.lrn": True}, 0, 0.40, 0.20)
    job(tmp_path, "1", {"model.lrn": False}, 0, 0.45, 0.21)
    job(tmp_path, "2", {"model.lrn": True}, 1, 0.42, 0.22)
    job(tmp_path, "3", {"model.lrn": False}, 1, 0.49, 0.25)
    job(tmp_path, "4", {"model.lrn": False}, 2, 0.0, 0.0, status="failed")
    return tmp_path


def test_arms_mean_std_and_difference_by_hand(sweep):
    arms = {a.name: a for a in group_arms(find_runs([sweep]))}
    on, off = arms["model.lrn=True"], arms["model.lrn=False"]
    assert on.n == 2 and off.n == 2 and len(off.failed) == 1
    # top-1 in %: on = 40, 42 → mean 41, sample std √2; off = 45, 49 → mean 47, std √8
    assert on.mean("final_val/top1_err") == pytest.approx(41.0)
    assert on.std("final_val/top1_err") == pytest.approx(2**0.5)
    assert off.std("final_val/top1_err") == pytest.approx(8**0.5)
    d, se = difference(on, off, "final_val/top1_err")
    assert d == pytest.approx(6.0)
    assert se == pytest.approx((2 / 2 + 8 / 2) ** 0.5)


def test_report_lists_failed_jobs_and_the_papers_claim(sweep):
    text = render([sweep])
    assert "| model.lrn=True | 2 | 41.00 ± 1.41" in text
    assert "+6.00 ± 2.24" in text and "+1.4 / +1.2" in text
    assert "did not complete" in text and "boom" in text
    assert text.index("model.lrn=True |") < text.index("model.lrn=False |")  # paper arm first


def test_one_seed_arm_says_no_std(tmp_path):
    job(tmp_path, "0", {"model.pool": "overlapping"}, 0, 0.40, 0.20)
    job(tmp_path, "1", {"model.pool": "non_overlapping"}, 0, 0.41, 0.20)
    text = render([tmp_path])
    assert "40.00 (1 seed, no std)" in text and "(no std: one seed)" in text


def test_merging_two_sweeps_pools_their_seeds(tmp_path):
    job(tmp_path / "a", "0", {"model.lrn": True}, 0, 0.40, 0.20)
    job(tmp_path / "b", "0", {"model.lrn": True}, 1, 0.44, 0.20)
    arms = group_arms(find_runs([tmp_path / "a", tmp_path / "b"]))
    assert len(arms) == 1 and arms[0].n == 2 and arms[0].mean("final_val/top1_err") == pytest.approx(42.0)


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        find_runs([tmp_path / "nope"])
