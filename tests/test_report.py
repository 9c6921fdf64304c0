"""The comparison report from synthetic run records, checked against hand computations."""

import json
import math
import re
import statistics

import pytest

from alexnet import paper
from alexnet.report import build_report, find_runs, render
from alexnet.report.collect import Run
from alexnet.report.content import analyse_runs
from alexnet.report.curves import Speed, epochs_to_threshold, log_speed_ratio, speed
from alexnet.report.sequential import Plan
from alexnet.report.stats import (
    Estimate,
    group_arms,
    mcnemar,
    mean_ci,
    paired,
    paired_bootstrap,
    t_quantile,
    welch,
)
from alexnet.report.verdict import (
    LARGER,
    NO_EFFECT,
    NOT_REPRODUCED,
    OPPOSITE,
    REPRODUCED,
    SMALLER,
    UNDECIDED,
    judge,
)


def job(root, name, arm, seed, top1, top5, status="completed", ablation="lrn", train_curve=None,
        best1=None, extra=None):
    """A job directory as train.py leaves it: summary.json, config.yaml, optional metrics.csv.
    `top1`/`top5` are the test errors; the held-out val error is set a little higher."""
    d = root / name
    d.mkdir(parents=True)
    summary = {"arm": arm, "seed": seed, "status": status, "ablation": ablation, "epochs": 3,
               "test/top1_err": top1, "test/top5_err": top5,
               "final_val/top1_err": top1 + 0.01, "final_val/top5_err": top5,
               "best_val/top1_err": top1 if best1 is None else best1, "best_val/top5_err": top5,
               "final_train_eval/top1_err": top1 - 0.1, "wall_time_s": 10.0, "parameters": 1000,
               "data": {"root": "/d", "test_images": 1000}, "machine": {}, "group": root.name}
    if status != "completed":
        summary = {"arm": arm, "seed": seed, "status": status, "ablation": ablation,
                   "error": "RuntimeError: boom"}
    (d / "summary.json").write_text(json.dumps(summary | (extra or {})))
    (d / "config.yaml").write_text(f"seed: {seed}\nablation:\n  claim: {ablation}\n")
    if train_curve is not None:
        lines = ["epoch,step,train_eval/top1_err,val/top1_err"]
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
    assert on.mean("test/top1_err") == pytest.approx(41.0)
    assert on.std("test/top1_err") == pytest.approx(2**0.5)
    assert off.std("test/top1_err") == pytest.approx(8**0.5)
    # Welch: var/n = 1 and 4 → se = √5, dof = 25 / (1/1 + 16/1) = 25/17
    w = welch(on.values("test/top1_err"), off.values("test/top1_err"))
    assert w.delta == pytest.approx(6.0) and w.se == pytest.approx(5**0.5, rel=1e-9) or w.sd
    assert w.df == pytest.approx(25 / 17)
    half = t_quantile(0.975, 25 / 17) * 5**0.5
    assert w.ci == pytest.approx((6.0 - half, 6.0 + half))
    assert welch([40.0], [45.0, 47.0]).ci is None


# -- paired intervals, bootstrap, McNemar by hand -------------------------------------------------
def test_paired_t_interval_by_hand():
    # differences 1 and 3: mean 2, sd √2, se 1, t(1) = 12.7062
    est = paired({0: 40.0, 1: 50.0}, {0: 41.0, 1: 53.0})
    assert est.delta == pytest.approx(2.0) and est.n == 2 and est.df == 1
    assert est.ci == pytest.approx((2 - 12.7062, 2 + 12.7062), abs=1e-3)
    assert est.method == "paired t" and not est.floored
    # the pairing removes the seed offset (40 vs 50) that Welch sees as noise
    assert welch([40.0, 50.0], [41.0, 53.0]).ci[1] - welch([40.0, 50.0], [41.0, 53.0]).ci[0] > est.ci[1] - est.ci[0]
    assert paired({0: 40.0}, {0: 41.0}).ci is None  # one pair: no interval
    assert paired({0: 40.0, 1: 41.0}, {2: 45.0}) is None  # no seed in common


def test_zero_variance_pairs_never_give_certainty():
    # both seeds differ by exactly 1.4: the spread is floored at one test image (0.1 points)
    est = paired({0: 40.0, 1: 41.0}, {0: 41.4, 1: 42.4}, resolution=0.1)
    assert est.floored and est.sd == pytest.approx(0.1)
    half = t_quantile(0.975, 1) * 0.1 / 2**0.5
    assert est.ci == pytest.approx((1.4 - half, 1.4 + half))
    v = judge(est, 1.4)
    assert "floored" in v.reason
    # identical arms: an exact zero difference is "not reproduced" against +1.4, not "no effect
    # with certainty": the floored interval ±0.9 is wider than the ±0.7 margin
    same = paired({0: 40.0, 1: 41.0}, {0: 40.0, 1: 41.0}, resolution=0.1)
    assert same.ci[0] < 0 < same.ci[1] and judge(same, 1.4).outcome == NOT_REPRODUCED
    assert welch([40.0, 40.0], [41.4, 41.4]).ci is None  # Welch has no dof without spread


def test_mcnemar_exact_by_hand():
    # 10 discordant images split 1:9 → p = 2 · (C(10,0) + C(10,1)) / 2^10
    assert mcnemar(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar(9, 1) == pytest.approx(2 * 11 / 1024)
    assert mcnemar(5, 5) == 1.0 and mcnemar(0, 0) == 1.0
    assert mcnemar(0, 3000) < 1e-300 or mcnemar(0, 3000) == 0.0  # large counts do not overflow


def test_paired_bootstrap_matches_the_normal_interval():
    # 1,000 images, 30 of them +100 points (only the other evaluation wrong): mean 3.0,
    # se = 100·√(0.03·0.97 / 999) ≈ 0.540 → 95 % ≈ ±1.06
    diffs = [[100.0] * 30 + [0.0] * 970]
    est = paired_bootstrap(diffs)
    assert est.delta == pytest.approx(3.0) and est.n == 1000
    assert est.ci[0] == pytest.approx(3.0 - 1.06, abs=0.2) and est.ci[1] == pytest.approx(3.0 + 1.06, abs=0.2)
    assert paired_bootstrap(diffs).ci == est.ci  # deterministic
    flat = paired_bootstrap([[0.0] * 1000, [0.0] * 1000], resolution=0.1)
    assert flat.floored and flat.ci == pytest.approx((-0.1, 0.1))  # no changed image: no certainty


# -- the verdict rule -----------------------------------------------------------------------------
def ci(lo, hi, n=5):
    return Estimate((lo + hi) / 2, (lo, hi), n, 1.0, n - 1.0, 0.95, "paired t")


@pytest.mark.parametrize("interval, claimed, at_least, outcome", [
    ((0.1, 0.5), 1.4, False, SMALLER),         # real, but the claimed size is ruled out
    ((-0.1, 0.5), 1.4, False, NO_EFFECT),      # inside ±0.7: no effect of practical size
    ((0.9, 2.0), 1.4, False, REPRODUCED),      # excludes 0, holds +1.4
    ((-2.0, -0.5), 1.4, False, OPPOSITE),      # the idea hurts
    ((-3.0, 4.0), 1.4, False, UNDECIDED),      # holds 0 and +1.4
    ((1.6, 3.0), 1.4, False, LARGER),
    ((-3.0, 1.0), 1.4, False, NOT_REPRODUCED),  # rules out +1.4, sign unknown
    ((1.6, 3.0), 1.0, True, REPRODUCED),       # "1 or more": above is consistent
    ((0.2, 0.8), 1.0, True, SMALLER),
    ((-3.0, -0.5), -1.0, False, REPRODUCED),   # a claimed improvement (negative size)
    ((0.5, 3.0), -1.0, False, OPPOSITE),
])
def test_verdict_rule_table(interval, claimed, at_least, outcome):
    v = judge(ci(*interval), claimed, at_least)
    assert v.outcome == outcome, v
    assert v.decided == (outcome != UNDECIDED)


def test_undecided_says_how_many_seeds_would_decide():
    est = paired({s: 40.0 for s in range(3)}, {0: 40.0, 1: 42.0, 2: 41.5})  # mean 1.17, sd 1.04
    v = judge(est, 1.4)
    assert v.outcome == UNDECIDED and v.seeds_needed is not None
    n = v.seeds_needed  # the smallest n with (t + z(0.8)) · sd / √n under the distance to decide
    target, z = max(abs(est.delta), abs(1.4 - est.delta)), 0.8416
    assert (t_quantile(0.975, n - 1) + z) * est.sd / n**0.5 < target <= (t_quantile(0.975, n - 2) + z) * est.sd / (n - 1) ** 0.5
    assert f"~{n} seeds per arm" in v.reason and "80 % power" in v.reason
    assert judge(paired({0: 40.0}, {0: 41.0}), 1.4).outcome == UNDECIDED  # one seed


RANK = {OPPOSITE: 0, NOT_REPRODUCED: 1, NO_EFFECT: 1, UNDECIDED: 2, SMALLER: 2, REPRODUCED: 3, LARGER: 4}


@pytest.mark.parametrize("width", [0.3, 1.0, 2.0, 5.0])
def test_verdict_is_monotone_in_the_evidence(width):
    ranks = [RANK[judge(ci(c - width / 2, c + width / 2), 1.4).outcome] for c in [x / 20 for x in range(-80, 120)]]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == 4


# -- Figure 1: the epochs ratio, censored seeds as bounds -------------------------------------------
def _speed(epochs, trained):
    return Speed(list(range(len(epochs))), list(epochs), list(trained))


def test_speed_ratio_uncensored_by_hand():
    # at 10-20 epochs the spread (0.10) is above one epoch's resolution (log 1.1 = 0.095)
    est = log_speed_ratio(_speed([10, 10, 20], [30] * 3), _speed([60, 50, 120], [150] * 3))
    logs = [math.log(6), math.log(5), math.log(6)]
    assert est.delta == pytest.approx(sum(logs) / 3)
    half = t_quantile(0.975, 2) * statistics.stdev(logs) / 3**0.5
    assert est.ci == pytest.approx((est.delta - half, est.delta + half))
    assert judge(est, math.log(6)).outcome == REPRODUCED


def test_speed_ratio_equal_seeds_floor_the_spread():
    est = log_speed_ratio(_speed([2, 2, 2], [10] * 3), _speed([12, 12, 12], [20] * 3))
    assert est.floored and est.ci[0] < math.log(6) < est.ci[1]


@pytest.mark.parametrize("relu, tanh, outcome, open_side", [
    # tanh never reached 25 % in 20 epochs: ≥ 21 epochs, a lower bound on the ratio; ≥ 5.2×
    # holds 6× → reproduced, the upper end open
    (([2, 2, 3], [20] * 3), ([None] * 3, [20] * 3), REPRODUCED, 1),
    # ReLU never reached it in 20 epochs, tanh did in 2-3: the ratio is below 1 → opposite
    (([None] * 3, [20] * 3), ([2, 3, 2], [20] * 3), OPPOSITE, 0),
    # neither reached it: nothing is known → undecided, "train longer"
    (([None] * 3, [5] * 3), ([None] * 3, [5] * 3), UNDECIDED, 0),
    # ReLU at the last of 5 epochs, tanh never: ≥ 1.2× only — open above, inside the margin:
    # the claim "fits" but so does almost nothing → undecided, train longer (not "reproduced")
    (([5] * 8, [5] * 8), ([None] * 8, [5] * 8), UNDECIDED, 1),
    # ReLU never in 5 epochs, tanh at 10-12 of 20: the ratio is below 12/6 = 2× < 6× → ruled out
    (([None] * 3, [5] * 3), ([10, 12, 11], [20] * 3), NOT_REPRODUCED, 0),
])
def test_censored_figure1_cases(relu, tanh, outcome, open_side):
    est = log_speed_ratio(_speed(*relu), _speed(*tanh))
    v = judge(est, math.log(6), show=lambda x: f"{math.exp(x):.3g}×")
    assert v.outcome == outcome, (est, v)
    assert math.isinf(est.ci[open_side])
    assert ("train longer" in v.reason) == (outcome == UNDECIDED)


def test_censored_lower_bound_by_hand():
    est = log_speed_ratio(_speed([20, 20, 30], [200] * 3), _speed([None] * 3, [200] * 3))
    bounds = [math.log(201 / 20), math.log(201 / 20), math.log(201 / 30)]
    lo = statistics.fmean(bounds) - t_quantile(0.975, 2) * statistics.stdev(bounds) / 3**0.5
    assert est.ci[0] == pytest.approx(lo) and est.ci[1] == math.inf


# -- epochs to threshold --------------------------------------------------------------------------
def test_epochs_to_threshold_reads_the_eval_mode_training_error(tmp_path):
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
    assert fast.mean == pytest.approx(2.5) and speed([runs[p.name] for p in tanh], 0.25).mean is None
    text = render([tmp_path], threshold=0.25)
    assert "Figure 1 measure" in text and "never (≤4 ep.)" in text
    assert "epochs to 25 % train_eval error, ratio" in text


# -- the report -----------------------------------------------------------------------------------
def test_report_headline_is_the_paired_test_difference(sweep):
    text = render([sweep])
    assert "| `model.lrn=True` | 2 of 2 jobs completed |" in text and "| `model.lrn=False` | 2 of 3 jobs completed |" in text
    assert "41.00 ± 1.41" in text  # test top-1 of the paper's arm over seeds 0, 1
    # paired: seed 0 +5, seed 1 +7 → mean 6, sd √2, se 1 → 6 ± 12.71
    half = t_quantile(0.975, 1)
    row = next(line for line in text.splitlines() if line.startswith("| `model.lrn=False` | test top-1 |"))
    assert f"+6.00 | [{6 - half:+.2f}, {6 + half:+.2f}] | 2 |" in row and "| +1.4 |" in row
    assert "undecided" in row and "seeds per arm would decide" in row
    assert "| 0 | +5.00 |" in text and "| 1 | +7.00 |" in text  # the per-seed pairs
    assert "**Verdict: undecided**" in text
    assert "did not complete" in text and "boom" in text
    assert text.index("`model.lrn=True` |") < text.index("`model.lrn=False` |")  # paper arm first
    assert paper.CLAIMS["lrn"].text in text and "Figure 1" not in text  # nor the rule's censored case
    # what the per-seed count counts is said: seed 0 +5 / +1, seed 1 +7 / +3 points
    assert ("Seeds where `model.lrn=False` had a higher error than the paper's arm: "
            "2 of 2 (test top-1), 2 of 2 (test top-5).") in text


def test_pairing_decides_where_welch_cannot(tmp_path):
    # seeds differ by ±5 points, the arms by a steady 1.4–1.6: paired decides, Welch does not
    for s, base in enumerate([0.40, 0.45, 0.35, 0.42]):
        job(tmp_path, f"on{s}", {"model.lrn": True}, s, base, 0.2)
        job(tmp_path, f"off{s}", {"model.lrn": False}, s, base + 0.014 + 0.001 * (s % 2), 0.2)
    ab = analyse_runs(find_runs([tmp_path]))[0]
    head = ab.primary
    assert head.paired.ci[0] > 0 and head.unpaired.ci[0] < 0
    assert ab.verdict.outcome == REPRODUCED


def test_one_seed_gives_no_interval_and_no_verdict(tmp_path):
    job(tmp_path, "0", {"model.pool": "overlapping"}, 0, 0.40, 0.20, ablation="pool")
    job(tmp_path, "1", {"model.pool": "non_overlapping"}, 0, 0.41, 0.20, ablation="pool")
    job(tmp_path, "2", {"model.pool": "non_overlapping"}, 1, 0.0, 0.0, status="failed", ablation="pool")
    text = render([tmp_path])
    assert "no CI (1 seed)" in text
    assert "**Verdict: undecided** (1 paired seed(s): no interval is possible; run at least 2)" in text
    assert "| `model.pool=non_overlapping` | 1 of 2 jobs completed |" in text
    assert "With 1 paired seed, " in text and "no interval: one pair cannot show its spread" in text
    arm_rows = [line for line in text.splitlines() if line.startswith("| `model.pool=")]
    assert arm_rows and not any("±" in line for line in arm_rows)  # no std is invented


def test_records_without_a_test_split_say_so(tmp_path):
    for s in range(2):
        for name, arm, err in (("on", True, 0.40), ("off", False, 0.42)):
            d = job(tmp_path, f"{name}{s}", {"model.lrn": arm}, s, err + s / 100, 0.2)
            summary = json.loads((d / "summary.json").read_text())
            summary.pop("test/top1_err"), summary.pop("test/top5_err")
            (d / "summary.json").write_text(json.dumps(summary))
    text = render([tmp_path])
    assert "| final val top-1 |" in text and "no test split" in text


def test_merging_two_sweeps_pools_their_seeds(tmp_path):
    job(tmp_path / "a", "0", {"model.lrn": True}, 0, 0.40, 0.20)
    job(tmp_path / "b", "0", {"model.lrn": True}, 1, 0.44, 0.20)
    arms = group_arms(find_runs([tmp_path / "a", tmp_path / "b"]))
    assert len(arms) == 1 and arms[0].n == 2 and arms[0].mean("test/top1_err") == pytest.approx(42.0)


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
    assert "| `model.lrn=True` | 1 of 3 jobs completed |" in text
    assert "seed 2: missing" in text and "2 jobs present" in text
    (root / "multirun.yaml").write_text(
        "hydra:\n  sweeper:\n    params:\n      seed: 0,1\n      model.lrn: true,false\n"
        "  overrides:\n    task:\n    - seed=0\n")  # one seed on the command line replaces the grid's
    assert "| `model.lrn=True` | 1 of 1 jobs completed |" in render([root])


def test_a_job_without_summary_is_listed_under_its_arm(tmp_path):
    job(tmp_path, "0", {"model.lrn": True}, 0, 0.40, 0.20)
    job(tmp_path, "1", {"model.lrn": False}, 0, 0.45, 0.20)
    crashed = tmp_path / "2"
    (crashed / ".hydra").mkdir(parents=True)
    (crashed / ".hydra" / "overrides.yaml").write_text("- seed=1\n- model.lrn=False\n- debug=tiny\n")
    (crashed / "config.yaml").write_text("seed: 1\nablation:\n  claim: lrn\n")
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
    assert "paired t" in html and "<table>" in html


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
    run = Run(tmp_path, {"final_val/top1_err": 0.4, "final_train_eval/top1_err": 0.1})
    assert run.value("gap/top1_err") == pytest.approx(0.3)


def test_dropout_claim_is_judged_on_the_eval_mode_gap_and_the_test_error(tmp_path):
    # with dropout: val 40/41/40.5 %, train_eval 30/30.5/30 (gap 10, 10.5, 10.5);
    # without: val 42/42.5/42, train_eval 20/21/20.5 (gap 22, 21.5, 21.5) → Δgap 12, 11, 11
    for s, (val, train) in enumerate([(0.40, 0.30), (0.41, 0.305), (0.405, 0.30)]):
        job(tmp_path, f"d{s}", {"model.dropout": 0.5}, s, val - 0.01, 0.2, ablation="dropout",
            extra={"final_val/top1_err": val, "final_train_eval/top1_err": train})
    for s, (val, train) in enumerate([(0.42, 0.20), (0.425, 0.21), (0.42, 0.205)]):
        job(tmp_path, f"n{s}", {"model.dropout": 0.0}, s, val - 0.01, 0.2, ablation="dropout",
            extra={"final_val/top1_err": val, "final_train_eval/top1_err": train})
    ab = analyse_runs(find_runs([tmp_path]))[0]
    gap = ab.primary
    assert gap.label == "val − train_eval top-1 gap"
    assert gap.paired.delta == pytest.approx(34 / 3) and gap.verdict.outcome == REPRODUCED
    test_row = next(c for c in ab.comparisons if c.label == "test top-1")
    assert test_row.verdict is not None and test_row.claimed_text == "≥ +1.0"
    assert "Our reading" in render([tmp_path])


def test_ten_crop_is_a_paired_per_image_comparison_of_one_training(tmp_path):
    # one arm; per seed, ten crops fix 30 images the centre crop gets wrong and break 10
    rng_rows = []
    for s in range(2):
        d = job(tmp_path, f"t{s}", {}, s, 0.40, 0.20, ablation="ten_crop",
                extra={"test/tencrop_top1_err": 0.38, "test/tencrop_top5_err": 0.19})
        centre = [1] * 600 + [0] * 30 + [1] * 10 + [0] * 360
        ten = [1] * 600 + [1] * 30 + [0] * 10 + [0] * 360
        lines = ["label,center_top1,center_top5,tencrop_top1,tencrop_top5"]
        lines += [f"{i % 10},{c},1,{t},1" for i, (c, t) in enumerate(zip(centre, ten, strict=True))]
        (d / "test_outcomes.csv").write_text("\n".join(lines) + "\n")
        rng_rows.append(centre)
    ab = analyse_runs(find_runs([tmp_path]))[0]
    head = ab.primary
    assert "bootstrap over images" in head.paired.method and head.paired.n == 1000
    assert head.paired.delta == pytest.approx(2.0)  # (30 − 10) / 1000 images, in points
    assert head.unpaired.method == "paired t" and head.unpaired.n == 2
    # McNemar counts images, not image × seed pairs: 10 images favour the centre, 30 ten crops
    assert "McNemar exact p" in head.note and "than ten crops: 10, the reverse: 30 (of 1000, over 2 seeds)" in head.note
    assert head.note.endswith(f"p = {mcnemar(10, 30):.2g}")
    assert head.verdict.seeds_needed is None or head.verdict.seeds_needed < 1000  # seeds, never images
    text = render([tmp_path])
    assert "test top-1, ten crops %" in text and "centre − ten crops" in text


def test_ablate_all_judges_every_claim_against_the_shared_baseline_of_its_seed(tmp_path):
    """One baseline per seed serves every claim: each claim pairs its own arm with the baseline
    of the same seed, and only with it."""
    for s, base in enumerate([0.40, 0.45, 0.35]):
        job(tmp_path, f"base{s}", {}, s, base, 0.2, ablation="all")
        job(tmp_path, f"lrn{s}", {"model.lrn": False}, s, base + 0.02, 0.2, ablation="all")
        job(tmp_path, f"pool{s}", {"model.pool": "non_overlapping"}, s, base - 0.01 * (s + 1), 0.2, ablation="all")
    ablations = {ab.name: ab for ab in analyse_runs(find_runs([tmp_path]))}
    assert set(ablations) == {"lrn", "pool", "ten_crop"}  # ten-crop: the baselines' own test pass
    lrn, pool = ablations["lrn"].primary, ablations["pool"].primary
    assert lrn.per_seed == pytest.approx({0: 2.0, 1: 2.0, 2: 2.0})
    assert pool.per_seed == pytest.approx({0: -1.0, 1: -2.0, 2: -3.0})
    assert [a.name for a in ablations["lrn"].arms] == ["model.lrn=True", "model.lrn=False"]  # paper arm first
    text = render([tmp_path])
    assert "Ablation `lrn`" in text and "Ablation `pool`" in text and "Ablation `columns`" not in text


def test_ablation_arm_flips_one_claims_switch_and_records_it():
    from alexnet.training import ConfigError, claim_arm
    from conftest import make_config

    cfg = make_config("experiment=ablate_all", "ablation.arm=depth")
    assert claim_arm(cfg) == {"model.remove": "conv4"} and cfg.model.remove == "conv4"
    cfg = make_config("experiment=ablate_all", "ablation.arm=baseline")
    assert claim_arm(cfg) == {} and cfg.model.lrn is True and cfg.model.remove is None
    with pytest.raises(ConfigError, match=r"ablation.arm='ten_crop' is not one of \['baseline', 'lrn'"):
        claim_arm(make_config("experiment=ablate_all", "ablation.arm=ten_crop"))


# -- the headline in words, the sections that apply, what report.py says --------------------------
@pytest.mark.parametrize("offsets, outcome, says", [
    ([0.05, 0.07], UNDECIDED, "this sample cannot tell the paper's 1.4 points from no effect"),
    ([0.014, 0.015, 0.014, 0.015], REPRODUCED, "consistent with the paper's 1.4 points"),
    ([0.001, -0.001, 0.0, 0.001], NO_EFFECT, "between -0.7 points and 0.7 points"),
    ([-0.02, -0.03, -0.025], OPPOSITE, "did measurably worse"),
])
def test_the_plain_reading_gives_the_verdicts_numbers_and_what_they_resolve(tmp_path, offsets, outcome, says):
    for s, off in enumerate(offsets):
        job(tmp_path, f"on{s}", {"model.lrn": True}, s, 0.40 + 0.03 * s, 0.2)
        job(tmp_path, f"off{s}", {"model.lrn": False}, s, 0.40 + 0.03 * s + off, 0.2)
    ab = analyse_runs(find_runs([tmp_path]))[0]
    est, verdict = ab.primary.paired, ab.verdict
    assert verdict.outcome == outcome
    line = next(x for x in render([tmp_path]).splitlines() if x.startswith("**In words:**"))
    numbers = re.search(r"With (\d+) paired seeds, the test top-1 difference .* is ([-+][\d.]+) points, "
                        r"95 % CI \[([-+][\d.]+), ([-+][\d.]+)\]: ", line)
    assert int(numbers[1]) == est.n == len(offsets)
    assert [float(x) for x in numbers.groups()[1:]] == pytest.approx([est.delta, *est.ci], abs=0.005)
    assert says in line
    needed = re.search(r"about (\d+) paired seeds would decide", line)
    assert (int(needed[1]) if needed else None) == verdict.seeds_needed  # only when undecided
    assert (needed is None) == (outcome != UNDECIDED)


def test_figure1_section_and_its_threshold_line_only_for_the_activation_claim(tmp_path, monkeypatch):
    from alexnet.report import plots

    lines, draw = {}, plots.curves

    def curves(arms, path, threshold=None, title=""):
        lines[title] = threshold
        return draw(arms, path, threshold, title)

    monkeypatch.setattr(plots, "curves", curves)
    for s in range(2):  # ablate_all: one baseline per seed, LRN off, tanh
        job(tmp_path, f"base{s}", {}, s, 0.40, 0.2, ablation="all", train_curve=[0.5, 0.3, 0.2])
        job(tmp_path, f"lrn{s}", {"model.lrn": False}, s, 0.42 + s / 100, 0.2, ablation="all",
            train_curve=[0.5, 0.35, 0.3])
        job(tmp_path, f"tanh{s}", {"model.activation": "tanh"}, s, 0.45, 0.2, ablation="all",
            train_curve=[0.6, 0.5, 0.4])
    text = build_report([tmp_path], tmp_path / "out").markdown.read_text()
    sections = dict(re.findall(r"^## Ablation `(\w+)`\n(.*?)(?=^## )", text, re.S | re.M))
    assert {"activation", "lrn"} <= set(sections)
    assert "### Figure 1 measure" in sections["activation"]
    assert not any("Figure 1" in body for name, body in sections.items() if name != "activation")
    assert lines["activation"] == 0.25 and all(v is None for k, v in lines.items() if k != "activation")
    assert "censored runs (Figure 1)" in text.split("## How the verdict is reached")[1]
    # one plain reading per claim under the headline; the count says what it counts (ties apart)
    headline = text.split("## Ablation")[0]
    assert "`lrn`: With 2 paired seeds, the test top-1 difference" in headline
    assert "`activation`: With 2 paired seeds, the ratio of epochs to 25 % train_eval error" in headline
    assert "had a higher error than the paper's arm: 2 of 2 (test top-1), 0 of 2 (test top-5; 2 tied)." in sections["lrn"]


def test_curves_mark_the_epochs_whose_mean_lacks_the_seeds_that_had_stopped(tmp_path, monkeypatch):
    """Figure 1's runs stop at 25 %: past a seed's stop the arm's mean is of fewer seeds, which the
    plot must show (hollow points, a legend entry), not pass off as the mean of all of them."""
    from alexnet.report import plots

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path, layout=True: figures.append(fig) or path)
    for s, tanh in enumerate(([0.6, 0.24], [0.6, 0.4, 0.3, 0.2])):  # tanh seed 0 stops after 2 epochs
        job(tmp_path, f"relu{s}", {"model.activation": "relu"}, s, 0.40, 0.2, ablation="activation",
            train_curve=[0.5, 0.2])
        job(tmp_path, f"tanh{s}", {"model.activation": "tanh"}, s, 0.45, 0.2, ablation="activation",
            train_curve=tanh)
    arms = analyse_runs(find_runs([tmp_path]))[0].arms
    plots.curves(arms, tmp_path / "c.png", 0.25)
    train_panel = figures[-1].axes[0]
    hollow = {line.get_color(): list(line.get_xdata()) for line in train_panel.lines
              if line.get_linestyle() == "None" and line.get_markerfacecolor() == "white" and len(line.get_xdata())}
    colours = {arm.name: f"C{i}" for i, arm in enumerate(arms)}
    tanh_arm = next(a for a in arms if "tanh" in a.name)
    assert hollow == {colours[tanh_arm.name]: [3, 4]}  # epochs 3 and 4: seed 1 alone
    tanh_line = next(line for line in train_panel.lines if line.get_label() == f"{tanh_arm.name} (n=2)")
    assert tanh_line.get_markevery() == [0, 1]  # filled only where both seeds logged
    assert "mean of the seeds not yet stopped" in [t.get_text() for t in figures[-1].legends[0].get_texts()]

    plots.curves([a for a in arms if a is not tanh_arm], tmp_path / "c.png", 0.25)  # every seed ran on
    assert "mean of the seeds not yet stopped" not in [t.get_text() for t in figures[-1].legends[0].get_texts()]


def test_report_cli_says_in_one_line_what_it_wrote_or_overwrote(tmp_path, capsys):
    import importlib.util

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("report_main", REPO / "src" / "report.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    for s in range(2):
        job(tmp_path / "sweep", f"on{s}", {"model.lrn": True}, s, 0.40, 0.2, train_curve=[0.8, 0.5])
        job(tmp_path / "sweep", f"off{s}", {"model.lrn": False}, s, 0.42 + s / 100, 0.2, train_curve=[0.8, 0.6])
    out, args = tmp_path / "sweep", [str(tmp_path / "sweep"), "--wandb", "disabled"]
    assert cli.main(args) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"wrote {out / 'report.md'}, index.html and 2 figures (new report)"
    (out / "curves-pool.png").write_bytes(b"an earlier report's figure")
    assert cli.main(args) == 0
    again = capsys.readouterr().out.splitlines()[0]
    assert again == (f"rewrote {out / 'report.md'}, index.html and 2 figures (previous report replaced); "
                     "left from before, no longer in the report: curves-pool.png")


def test_a_seeds_until_decided_sweep_before_its_first_look_expects_its_first_seeds_only(tmp_path):
    root = tmp_path / "sweep"
    job(root, "0", {"model.lrn": True}, 5, 0.40, 0.20)
    job(root, "1", {"model.lrn": False}, 5, 0.42, 0.20)
    grid = "hydra:\n  sweeper:\n    params:\n      seed: 5,6,7,8\n      model.lrn: true,false\n"
    (root / "multirun.yaml").write_text(grid)
    assert "| `model.lrn=True` | 1 of 4 jobs completed |" in render([root])  # a plain grid: all four
    Plan(min_seeds=2, max_seeds=6, seeds=[5, 6]).save(root)  # the sweeper's plan, saved before its first batch
    text = render([root])  # the sweeper runs seeds 5 and 6 first; 7 and 8 are not missing
    assert "| `model.lrn=True` | 1 of 2 jobs completed |" in text
    assert "seed 6: missing" in text and "seed 7" not in text
    assert "99 % interval" in text and "the first look comes after 2 seeds per arm" in text
    # plans saved before `seeds` existed (experiments/ holds some) name the seeds in each look
    old = Plan(min_seeds=2, max_seeds=6, looks=[{"seeds": 2, "seed_values": [5, 6]}], stopped="decided")
    old.save(root)
    (root / "sequential.json").write_text(re.sub(r'\s*"seeds": \[\],?', "", (root / "sequential.json").read_text()))
    assert "seeds" not in json.loads((root / "sequential.json").read_text())
    assert "seed 6: missing" in render([root]) and "seed 7" not in render([root])
