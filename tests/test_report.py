"""The comparison report from synthetic run records, checked against hand computations."""

import json
import math
import re
import statistics

import numpy as np
import pytest
from scipy import stats as sps

from alexnet import paper
from alexnet.report import build_report, find_runs, render
from alexnet.report.collect import read_sweep
from alexnet.report.measures import analyse_runs, epochs_to_threshold, group_arms
from alexnet.report.stats import (
    Crossings,
    Estimate,
    holm,
    log_speed_ratio,
    mcnemar,
    paired,
    seeds_by_images,
    sign_test_bounds,
    welch,
)
from alexnet.report.verdict import (
    DIRECTION,
    LARGER,
    NO_EFFECT,
    NOT_MEASURABLE,
    NOT_REPRODUCED,
    OPPOSITE,
    REPRODUCED,
    SMALLER,
    UNDECIDED,
    judge,
    outcome_index,
    rules_for,
)
from alexnet.tools.listing import expected_jobs


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
def test_arms_and_welch_by_hand(sweep):
    arms = {a.name: a for a in group_arms(find_runs([sweep]))}
    on, off = arms["model.lrn=True"], arms["model.lrn=False"]
    assert on.n == 2 and off.n == 2 and len(off.failed) == 1 and not off.missing_seeds
    assert on.cell("test/top1_err") == "41.00 ± 1.41"  # 40, 42: mean 41, sample std √2
    # Welch: var/n = 1 and 4 → se = √5, df = 25 / (1/1 + 16/1) = 25/17, t(0.975, 25/17) = 6.1 odd
    w = welch(list(on.by_seed("test/top1_err").values()), list(off.by_seed("test/top1_err").values()))
    assert w.delta == pytest.approx(6.0) and w.se == pytest.approx(5**0.5) and w.df == pytest.approx(25 / 17)
    half = sps.t.ppf(0.975, 25 / 17) * 5**0.5
    assert w.ci == pytest.approx((6.0 - half, 6.0 + half))
    assert welch([40.0], [45.0, 47.0]).ci is None


def test_paired_t_interval_by_hand():
    est = paired({0: 40.0, 1: 50.0}, {0: 41.0, 1: 53.0})  # differences 1, 3: sd √2, se 1
    assert est.delta == pytest.approx(2.0) and est.n == 2 and est.df == 1 and est.kind == "paired t"
    assert est.ci == pytest.approx((2 - 12.7062, 2 + 12.7062), abs=1e-3)  # the printed t(1)
    assert est.p_value == pytest.approx(2 * sps.t.sf(2.0, 1))
    w = welch([40.0, 50.0], [41.0, 53.0])  # the pairing removes the seed offset Welch sees as noise
    assert w.ci[1] - w.ci[0] > est.ci[1] - est.ci[0]
    assert paired({0: 40.0}, {0: 41.0}).ci is None and paired({0: 40.0}, {2: 45.0}) is None


def test_zero_variance_pairs_never_give_certainty():
    est = paired({0: 40.0, 1: 41.0}, {0: 41.4, 1: 42.4}, resolution=0.1)
    assert est.floored and est.sd == pytest.approx(0.1)
    assert "floored" in judge(est, 1.4).reason
    same = paired({0: 40.0, 1: 41.0}, {0: 40.0, 1: 41.0}, resolution=0.1)  # ±0.9 > the ±0.7 margin
    assert judge(same, 1.4).outcome == NOT_REPRODUCED


def test_mcnemar_and_holm_by_hand():
    assert mcnemar(1, 9) == pytest.approx(2 * 11 / 1024)  # 2 · (C(10,0) + C(10,1)) / 2^10
    assert mcnemar(5, 5) == 1.0 and mcnemar(0, 0) == 1.0
    # Holm at 5 % over 4 p-values: 0.001 ≤ 0.05/4, 0.01 ≤ 0.05/3, then 0.03 > 0.05/2 stops it
    assert holm({"a": 0.01, "b": 0.03, "c": 0.001, "d": 0.5, "e": None}) == {
        "a": True, "b": False, "c": True, "d": False, "e": False}
    assert holm({"a": 0.012, "b": 0.02}) == {"a": True, "b": True}  # 0.012 ≤ 0.025, 0.02 ≤ 0.05


def test_seeds_by_images_by_hand():
    # 2 seeds × 4 images: seed means 1 and 3, image means 0, 2, 2, 4; residuals ±1 → MS_s = 4·2 = 8,
    # MS_i = 2·(8/3) = 16/3, MS_e = 8/3 ... computed from the definitions
    d = np.array([[0.0, 2.0, 0.0, 2.0], [0.0, 2.0, 4.0, 6.0]])
    est = seeds_by_images(d)
    s, i = d.shape
    rows, cols = d.mean(1), d.mean(0)
    ms_s, ms_i = i * rows.var(ddof=1), s * cols.var(ddof=1)
    ms_e = ((d - rows[:, None] - cols[None, :] + d.mean()) ** 2).sum() / ((s - 1) * (i - 1))
    assert est.se == pytest.approx(math.sqrt((ms_s + ms_i - ms_e) / (s * i)))
    assert est.delta == pytest.approx(2.0) and est.n == 2 and est.kind == "seeds × images"


def test_ten_crop_interval_over_disagreeing_seeds_is_about_the_paired_t_over_seeds():
    """Seeds that disagree (per-seed Δ 0.3 to 1.4 points): the two-level interval is about as
    wide as the paired t over those seeds, where an interval over images alone is far narrower."""
    rng = np.random.default_rng(0)
    shared = 100.0 * ((rng.random(10_000) < 0.015).astype(float) - (rng.random(10_000) < 0.01))
    d = np.stack([shared] * 5)
    for s, k in enumerate([135, 137, 144, 81, 33]):  # per-seed Δ 1.35 … 0.33 points above shared
        d[s, rng.choice(np.flatnonzero(shared == 0), k, replace=False)] = 100.0
    two = seeds_by_images(d)
    t = paired({s: 0.0 for s in range(5)}, dict(enumerate(d.mean(1))))
    width = lambda e: e.ci[1] - e.ci[0]  # noqa: E731
    images_only = 2 * 1.96 * d.mean(0).std(ddof=1) / math.sqrt(d.shape[1])
    assert 0.95 * width(t) <= width(two) <= 1.3 * width(t) and width(two) > 1.2 * images_only
    # seeds that agree: the images' own error stays in, where the paired t over seeds has none
    same = np.stack([shared] * 5)
    same[np.arange(5), np.arange(5)] += 1e-3
    assert width(seeds_by_images(same)) > 0.9 * images_only


# -- the verdict rule -----------------------------------------------------------------------------
def ci(lo, hi, n=5):
    return Estimate((lo + hi) / 2, (lo, hi), n, 0.95, "paired t", sd=1.0, se=0.5, df=n - 1.0)


@pytest.mark.parametrize("interval, claimed, at_least, outcome", [
    ((0.1, 0.5), 1.4, False, SMALLER),          # real, but the claimed size is ruled out
    ((-0.1, 0.5), 1.4, False, NO_EFFECT),       # inside ±0.7
    ((0.9, 2.0), 1.4, False, REPRODUCED),       # excludes under half the claim, holds +1.4
    ((0.25, 5.49), 1.4, False, DIRECTION),      # excludes 0 only: the size is unresolved
    ((-2.0, -0.5), 1.4, False, OPPOSITE),
    ((-3.0, 4.0), 1.4, False, UNDECIDED),
    ((1.6, 3.0), 1.4, False, LARGER),
    ((-3.0, 1.0), 1.4, False, NOT_REPRODUCED),  # rules out +1.4, sign unknown
    ((1.6, 3.0), 1.0, True, REPRODUCED),        # "1 or more": above is consistent
    ((0.2, 0.8), 1.0, True, SMALLER),
    ((-3.0, -0.8), -1.0, False, REPRODUCED),    # a claimed improvement (negative size)
    ((0.5, 3.0), -1.0, False, OPPOSITE),
    ((0.9, math.inf), 1.4, False, REPRODUCED),  # censored above: the closed end decides
    ((0.3, math.inf), 1.4, False, DIRECTION),
    ((-math.inf, 1.0), 1.4, False, NOT_REPRODUCED),
    ((-math.inf, math.inf), 1.4, False, UNDECIDED),
])
def test_verdict_rule_table(interval, claimed, at_least, outcome):
    v = judge(ci(*interval), claimed, at_least)
    assert v.outcome == outcome, v
    assert v.final == (outcome not in (UNDECIDED, DIRECTION))


def test_a_direction_only_interval_and_one_tight_around_the_claim_get_different_verdicts(tmp_path):
    """Records built for the purpose: the same mean Δ ≈ +1.4, seeds that disagree (a wide
    interval that excludes 0 only) and seeds that agree (tight around the claim)."""
    for name, offsets in (("wide", [0.5, 2.4, 0.6, 2.3, 1.2]), ("tight", [1.3, 1.5, 1.4, 1.35, 1.45])):
        for s, off in enumerate(offsets):
            job(tmp_path / name, f"on{s}", {"model.lrn": True}, s, 0.40 + 0.03 * s, 0.2)
            job(tmp_path / name, f"off{s}", {"model.lrn": False}, s, 0.40 + 0.03 * s + off / 100, 0.2)
    wide, tight = (analyse_runs(find_runs([tmp_path / n]))[0] for n in ("wide", "tight"))
    assert 0 < wide.estimate.ci[0] < 0.7 and wide.verdict.outcome == DIRECTION
    assert not wide.verdict.final and wide.verdict.seeds_needed is not None
    assert tight.verdict.outcome == REPRODUCED and tight.verdict.final


@pytest.mark.parametrize("width", [0.3, 1.0, 2.0, 5.0])
def test_verdict_is_monotone_in_the_evidence(width):
    rank = {OPPOSITE: 0, NOT_REPRODUCED: 1, NO_EFFECT: 1, UNDECIDED: 2, SMALLER: 2, DIRECTION: 2,
            REPRODUCED: 3, LARGER: 4}
    ranks = [rank[judge(ci(c - width / 2, c + width / 2), 1.4).outcome]
             for c in [x / 20 for x in range(-80, 120)]]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == 4


def test_vectorised_rule_is_the_rule():
    rng = np.random.default_rng(1)
    lo = rng.normal(0.5, 1.5, 2000)
    hi = lo + rng.exponential(2.0, 2000)
    for at_least in (False, True):
        index = outcome_index(lo, hi, 1.4, at_least)
        rules = rules_for(at_least)
        assert [rules[k].outcome for k in index] == [judge(ci(a, b), 1.4, at_least).outcome
                                                    for a, b in zip(lo, hi, strict=True)]


# -- Figure 1: the crossing interpolated, censored seeds by a sign test ---------------------------
def _speed(epochs, trained):
    return Crossings(list(range(len(epochs))), list(epochs), list(trained))


def test_speed_ratio_uncensored_by_hand():
    est = log_speed_ratio(_speed([10, 10, 20], [30] * 3), _speed([60, 50, 120], [150] * 3))
    logs = [math.log(6), math.log(5), math.log(6)]
    half = sps.t.ppf(0.975, 2) * statistics.stdev(logs) / 3**0.5
    assert est.delta == pytest.approx(sum(logs) / 3)
    assert est.ci == pytest.approx((est.delta - half, est.delta + half))
    assert judge(est, math.log(6)).outcome == REPRODUCED


def test_sign_test_bounds_by_hand():
    # 8 seeds: P(Bin(8, ½) ≤ 0) = 1/256 ≤ 0.025 < P(≤ 1) = 9/256 → k = 1: the extreme bounds
    lower, upper = list(range(8)), [x + 10 for x in range(8)]
    assert sign_test_bounds(lower, upper, 0.95) == (0, 17)
    # 10 seeds: P(≤ 1) = 11/1024 ≤ 0.025 < P(≤ 2) = 56/1024 → k = 2
    assert sign_test_bounds(list(range(10)), list(range(10)), 0.95) == (1, 8)
    assert sign_test_bounds([1, 2, 3], [4, 5, 6], 0.95) == (-math.inf, math.inf)  # 3 seeds: too few


@pytest.mark.parametrize("relu, tanh, outcome", [
    # tanh never reached 25 % in 20 epochs (crossing > 20): each seed's ratio ≥ 20/2.x
    # 12 epochs (crossing > 12): each seed's ratio ≥ 12/3 = 4× > 6×/2 → reproduced (sign test, k = 1)
    (([2, 2, 2.5, 2, 2, 3, 2, 2], [12] * 8), ([None] * 8, [12] * 8), REPRODUCED),
    (([2, 2, 2.5, 2, 2, 3, 2, 2], [20] * 8), ([None] * 8, [20] * 8), LARGER),  # ≥ 20/3 > 6×
    (([None] * 3, [5] * 3), ([None] * 3, [5] * 3), NOT_MEASURABLE),  # nothing reached it
    (([2, 2, 3], [20] * 3), ([None] * 3, [20] * 3), UNDECIDED),  # 3 seeds: a sign test cannot close
])
def test_censored_figure1_cases(relu, tanh, outcome):
    est = log_speed_ratio(_speed(*relu), _speed(*tanh))
    v = judge(est, math.log(6), show=lambda x: f"{math.exp(x):.3g}×")
    assert est.censored and v.outcome == outcome, (est, v)
    assert v.final == (outcome != UNDECIDED)


def test_epochs_to_threshold_interpolates_the_crossing(tmp_path):
    for s, curve in enumerate([[0.5, 0.3, 0.2, 0.1], [0.2, 0.1], [0.6, 0.5, 0.4, 0.3]]):
        job(tmp_path, f"r{s}", {"model.activation": "relu"}, s, 0.3, 0.1, ablation="activation",
            train_curve=curve)
    runs = {r.path.name: r for r in find_runs([tmp_path])}
    # 0.30 after epoch 2, 0.20 after epoch 3: 25 % is crossed half-way, at 2.5 epochs
    assert epochs_to_threshold(runs["r0"], 0.25) == pytest.approx(2.5)
    assert epochs_to_threshold(runs["r1"], 0.25) == 1.0  # already below at the first evaluation
    assert epochs_to_threshold(runs["r2"], 0.25) is None
    assert epochs_to_threshold(runs["r2"], 0.45) == pytest.approx(2.5)
    text = render([tmp_path], threshold=0.25)
    assert "never (> 4 ep.)" in text and "2.50" in text


# -- the report -----------------------------------------------------------------------------------
def test_report_headline_is_the_paired_test_difference(sweep):
    text = render([sweep])
    assert "| `model.lrn=True` | 2 of 2 jobs completed |" in text
    assert "| `model.lrn=False` | 2 of 3 jobs completed |" in text
    half = sps.t.ppf(0.975, 1)  # seed 0 +5, seed 1 +7 → mean 6, se 1
    row = next(line for line in text.splitlines() if line.startswith("| `model.lrn=False` | test top-1 |"))
    assert f"+6.00 | [{6 - half:+.2f}, {6 + half:+.2f}] (paired t) | 2 |" in row and "| +1.4 |" in row
    assert "undecided" in row
    assert "| 0 | +5.00 |" in text and "| 1 | +7.00 |" in text
    assert re.search(r"\*\*Verdict: undecided\*\* \(\[.*; a plan of \d+–\d+ seeds per arm", text)
    assert "did not complete" in text and "boom" in text
    assert paper.CLAIMS["lrn"].text in text and "Figure 1" not in text


def test_pairing_decides_where_welch_cannot(tmp_path):
    for s, base in enumerate([0.40, 0.45, 0.35, 0.42, 0.38]):
        job(tmp_path, f"on{s}", {"model.lrn": True}, s, base, 0.2)
        job(tmp_path, f"off{s}", {"model.lrn": False}, s, base + 0.014 + 0.001 * (s % 2), 0.2)
    head = analyse_runs(find_runs([tmp_path]))[0].primary
    assert head.estimate.ci[0] > 0.7 and head.beside.ci[0] < 0
    assert head.verdict.outcome == REPRODUCED


def test_one_seed_gives_no_interval_and_no_verdict(tmp_path):
    job(tmp_path, "0", {"model.pool": "overlapping"}, 0, 0.40, 0.20, ablation="pool")
    job(tmp_path, "1", {"model.pool": "non_overlapping"}, 0, 0.41, 0.20, ablation="pool")
    ab = analyse_runs(find_runs([tmp_path]))[0]
    assert ab.verdict.no_pair and ab.verdict.outcome == UNDECIDED
    text = render([tmp_path])
    assert "no CI" in text and "With 1 paired seed, " in text
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


def test_a_list_valued_override_in_a_sweep_is_read_as_hydra_reads_it(tmp_path):
    """`'recipe.step_milestones=[4,5]'` once split on its commas and ended the report in a YAML
    traceback after every job had trained."""
    root = tmp_path / "sweep"
    job(root, "0", {"model.lrn": True}, 0, 0.40, 0.20)
    (root / "multirun.yaml").write_text(
        "hydra:\n  sweeper:\n    params:\n      model.lrn: true,false\n  overrides:\n    task:\n"
        "    - seed=range(0,3)\n    - recipe.step_milestones=[4,5]\n    - model.lrn=true,false\n")
    sweep = read_sweep(root)
    assert sweep.seeds == (0, 1, 2) and sweep.params["model.lrn"] == [True, False]
    assert "seed 2: missing" in render([root])


# -- the measures ---------------------------------------------------------------------------------
def _dropout_runs(tmp_path, curve_on, full=True):
    """Gap with dropout 10 points, without 21-22: Δgap ≈ +11.3."""
    for s, (test, train) in enumerate([(0.40, 0.30), (0.41, 0.305), (0.405, 0.30)]):
        extra = {"final_train_all/top1_err": train} if full else {"final_train_eval/top1_err": train,
                                                                  "final_val/top1_err": test}
        job(tmp_path, f"d{s}", {"model.dropout": 0.5}, s, test, 0.2, ablation="dropout", extra=extra,
            train_curve=curve_on)
    for s, (test, train) in enumerate([(0.42, 0.20), (0.425, 0.21), (0.42, 0.205)]):
        extra = {"final_train_all/top1_err": train} if full else {"final_train_eval/top1_err": train,
                                                                  "final_val/top1_err": test}
        job(tmp_path, f"n{s}", {"model.dropout": 0.0}, s, test, 0.2, ablation="dropout", extra=extra,
            train_curve=[0.5, 0.3, 0.2])
    return analyse_runs(find_runs([tmp_path]))[0]


def test_dropout_gap_uses_the_whole_training_split_and_the_test_error(tmp_path):
    ab = _dropout_runs(tmp_path, curve_on=[0.5, 0.4, 0.398])  # held-out −0.2 points: trained out
    assert ab.primary.label == "generalisation gap (test − train, eval mode)" and not ab.primary.note
    assert ab.estimate.delta == pytest.approx(34 / 3)
    assert ab.verdict.outcome == REPRODUCED  # "1 or more": +11 is consistent


def test_dropout_is_not_judged_while_the_papers_arm_still_improves(tmp_path):
    ab = _dropout_runs(tmp_path, curve_on=[0.5, 0.45, 0.40])  # −5 points in the last epoch
    assert ab.verdict.outcome == NOT_MEASURABLE and ab.verdict.final and "still improving" in ab.verdict.reason


def test_dropout_gap_of_old_records_says_its_subsets_noise(tmp_path):
    ab = _dropout_runs(tmp_path, curve_on=[0.5, 0.4, 0.398], full=False)
    assert ab.primary.label == "held-out − train_eval top-1 gap" and "1,000-image subset" in ab.primary.note


def _ten_crop_outcomes(d, centre, ten):
    lines = ["label,center_top1,center_top5,tencrop_top1,tencrop_top5"]
    lines += [f"{i % 10},{c},1,{t},1" for i, (c, t) in enumerate(zip(centre, ten, strict=True))]
    (d / "test_outcomes.csv").write_text("\n".join(lines) + "\n")


def test_ten_crop_is_judged_over_seeds_then_images(tmp_path):
    for s, fixed in enumerate((30, 20)):  # ten crops fix `fixed` images and break 10, per seed
        d = job(tmp_path, f"t{s}", {}, s, 0.40, 0.20, ablation="ten_crop",
                extra={"test/tencrop_top1_err": 0.40 - (fixed - 10) / 1000, "test/tencrop_top5_err": 0.19})
        centre = [1] * 600 + [0] * fixed + [1] * 10 + [0] * (390 - fixed)
        ten = [1] * 600 + [1] * fixed + [0] * 10 + [0] * (390 - fixed)
        _ten_crop_outcomes(d, centre, ten)
    head = analyse_runs(find_runs([tmp_path]))[0].primary
    assert head.estimate.kind == "seeds × images" and head.estimate.n == 2
    assert head.estimate.delta == pytest.approx(1.5)  # (20 + 10) / 2 / 1000 images, in points
    assert head.beside.kind == "paired t" and head.beside.n == 2
    # McNemar counts images, not image × seed pairs: 20 images fixed in both seeds, 10 broken in
    # seed 0 only (images fixed in seed 0 and broken in seed 1 cancel)
    assert "than ten crops: 10, the reverse: 20 (of 1000, over 2 seeds)" in head.note
    assert head.note.endswith(f"p = {mcnemar(10, 20):.2g}")
    assert "test top-1, ten crops %" in render([tmp_path])


def test_ablate_all_judges_every_claim_against_the_shared_baseline_of_its_seed(tmp_path):
    for s, base in enumerate([0.40, 0.45, 0.35]):
        job(tmp_path, f"base{s}", {}, s, base, 0.2, ablation="all")
        job(tmp_path, f"lrn{s}", {"model.lrn": False}, s, base + 0.02, 0.2, ablation="all")
        job(tmp_path, f"pool{s}", {"model.pool": "non_overlapping"}, s, base - 0.01 * (s + 1), 0.2,
            ablation="all")
    ablations = {ab.name: ab for ab in analyse_runs(find_runs([tmp_path]))}
    assert set(ablations) == {"lrn", "pool", "ten_crop"}
    assert ablations["lrn"].primary.per_seed == pytest.approx({0: 2.0, 1: 2.0, 2: 2.0})
    assert ablations["pool"].primary.per_seed == pytest.approx({0: -1.0, 1: -2.0, 2: -3.0})
    assert [a.name for a in ablations["lrn"].arms] == ["model.lrn=True", "model.lrn=False"]


def test_the_plain_reading_gives_the_verdicts_numbers(tmp_path):
    for s, off in enumerate([0.014, 0.015, 0.014, 0.015]):
        job(tmp_path, f"on{s}", {"model.lrn": True}, s, 0.40 + 0.03 * s, 0.2)
        job(tmp_path, f"off{s}", {"model.lrn": False}, s, 0.40 + 0.03 * s + off, 0.2)
    est = analyse_runs(find_runs([tmp_path]))[0].estimate
    line = next(x for x in render([tmp_path]).splitlines() if x.startswith("**In words:**"))
    numbers = re.search(r"With (\d+) paired seeds, the test top-1 .* is ([-+][\d.]+), "
                        r"CI \[([-+][\d.]+), ([-+][\d.]+)\] \(95 %\): reproduced", line)
    assert int(numbers[1]) == 4
    assert [float(x) for x in numbers.groups()[1:]] == pytest.approx([est.delta, *est.ci], abs=0.005)


def test_merging_two_sweeps_pools_their_seeds(tmp_path):
    job(tmp_path / "a", "0", {"model.lrn": True}, 0, 0.40, 0.20)
    job(tmp_path / "b", "0", {"model.lrn": True}, 1, 0.44, 0.20)
    arms = group_arms(find_runs([tmp_path / "a", tmp_path / "b"]))
    assert len(arms) == 1 and arms[0].n == 2 and arms[0].cell("test/top1_err") == "42.00 ± 2.83"


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
    sources = re.findall(r'<img [^>]*src="([^"]+)"', html)
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




def test_ablation_arm_flips_one_claims_switch_and_records_it():
    from alexnet.training import ConfigError, claim_arm
    from conftest import make_config

    cfg = make_config("experiment=ablate_all", "ablation.arm=depth")
    assert claim_arm(cfg) == {"model.remove": "conv4"} and cfg.model.remove == "conv4"
    cfg = make_config("experiment=ablate_all", "ablation.arm=baseline")
    assert claim_arm(cfg) == {} and cfg.model.lrn is True and cfg.model.remove is None
    with pytest.raises(ConfigError, match=r"ablation.arm='ten_crop' is not one of \['baseline', 'lrn'"):
        claim_arm(make_config("experiment=ablate_all", "ablation.arm=ten_crop"))




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




def test_an_arm_stopped_early_by_its_decided_claim_is_not_missing_seeds(tmp_path):
    """ablate_all with seeds added until decided: `lrn` was decided after seeds 0-1, so its arm
    stopped while the baseline and `pool` ran on to seed 3 (sequential.json's arm_seeds)."""
    from alexnet.sequential import Plan

    root = tmp_path / "sweep"
    for s in range(4):
        job(root, f"base{s}", {}, s, 0.40 + s / 100, 0.2, ablation="all")
        job(root, f"pool{s}", {"model.pool": "non_overlapping"}, s, 0.41 + s / 100, 0.2, ablation="all")
    for s in range(2):
        job(root, f"lrn{s}", {"model.lrn": False}, s, 0.43 + s / 100, 0.2, ablation="all")
    (root / "multirun.yaml").write_text(
        "hydra:\n  sweeper:\n    params:\n      ablation.arm: baseline,lrn,pool\n")
    Plan(min_seeds=2, max_seeds=4, seeds=[0, 1, 2, 3],
         arm_seeds={"baseline": [0, 1, 2, 3], "lrn": [0, 1], "pool": [0, 1, 2, 3]}).save(root)
    text = render([root])
    assert ": missing (in the sweep" not in text
    assert "| `model.lrn=False` | 2 of 2 jobs completed |" in text
    assert expected_jobs(read_sweep(root)) == 10  # what the run listing counts as planned


def test_a_partly_censored_figure1_claim_under_a_plan_too_short_for_its_sign_test(tmp_path):
    """Some tanh seeds never reach 25 %: the interval is a sign test, which needs ≥ 6 seeds at
    95 % and more at a plan's stricter looks, so a plan that stops at 5 can never decide it."""
    from alexnet.sequential import Plan

    root = tmp_path / "sweep"
    for s in range(3):
        job(root, f"relu{s}", {"model.activation": "relu"}, s, 0.3, 0.1, ablation="activation",
            train_curve=[0.5, 0.2])
        job(root, f"tanh{s}", {"model.activation": "tanh"}, s, 0.4, 0.1, ablation="activation",
            train_curve=[0.6, 0.4, 0.3] if s else [0.6, 0.3, 0.2])
    ab = analyse_runs(find_runs([root]))[0]
    assert ab.estimate.kind == "sign test on bounds" and ab.verdict.outcome == UNDECIDED
    assert ab.verdict.seeds_needed == (6, 6)  # 2 · 2^-6 ≤ 0.05 < 2 · 2^-5
    Plan(min_seeds=3, max_seeds=5, seeds=[0, 1, 2]).save(root)
    ab = analyse_runs(find_runs([root]))[0]
    assert ab.verdict.outcome == NOT_MEASURABLE and ab.verdict.final
    assert "the plan stops at 5" in ab.verdict.reason


def test_holms_p_is_adjusted_for_the_looks_and_a_look_that_cannot_decide_is_no_crash(tmp_path):
    from alexnet.sequential import Plan

    root = tmp_path / "sweep"
    for s, off in enumerate([0.014, 0.016, 0.015]):
        job(root, f"on{s}", {"model.lrn": True}, s, 0.40 + 0.03 * s, 0.2)
        job(root, f"off{s}", {"model.lrn": False}, s, 0.40 + 0.03 * s + off, 0.2)
    fixed = analyse_runs(find_runs([root]))[0]
    assert fixed.adjusted_p == pytest.approx(fixed.estimate.p_value)  # one look at 95 %: p itself
    plan = Plan(min_seeds=3, max_seeds=5, seeds=[0, 1, 2])
    plan.save(root)
    ab = analyse_runs(find_runs([root]))[0]
    spent = sum(1 - plan.confidence_at(n) for n in (3, 4, 5))  # the union bound over the looks
    assert ab.adjusted_p == pytest.approx(min(1, ab.estimate.p_value * spent / (1 - plan.confidence_at(3))))
    # a long plan's first looks cannot decide (its critical value is infinite): no crash, no p
    Plan(min_seeds=3, max_seeds=100, seeds=[0, 1, 2]).save(root)
    ab = analyse_runs(find_runs([root]))[0]
    assert ab.estimate.ci == (-math.inf, math.inf) and ab.verdict.outcome == UNDECIDED
    assert not ab.verdict.censored and ab.adjusted_p is None


def test_before_a_plans_first_look_there_is_no_interval_and_the_sweep_goes_on(tmp_path):
    """A plan's intervals hold at its looks: at 2 seeds of a plan that first looks at 3, its
    first critical value would print an interval of ±10⁴ points. None is shown instead."""
    from alexnet.report.document import verdict_text
    from alexnet.sequential import Plan
    from hydra_plugins.alexnet_seeds import decide

    root = tmp_path / "sweep"
    for s, off in enumerate([0.014, 0.020]):
        job(root, f"on{s}", {"model.lrn": True}, s, 0.40 + 0.03 * s, 0.2)
        job(root, f"off{s}", {"model.lrn": False}, s, 0.40 + 0.03 * s + off, 0.2)
    Plan(min_seeds=3, max_seeds=20, seeds=[0, 1]).save(root)
    ab = analyse_runs(find_runs([root]))[0]
    assert ab.estimate.n == 2 and ab.estimate.ci is None and ab.adjusted_p is None
    assert all(c.estimate.ci is None and c.beside.ci is None for c in ab.comparisons)
    assert ab.verdict.outcome == UNDECIDED and not ab.verdict.final and not ab.verdict.no_pair
    assert "before the plan's first look at 3 seeds per arm" in ab.verdict.reason
    assert ab.estimate.delta == pytest.approx(1.7)  # the mean is still shown
    assert decide([{"no_pair": ab.verdict.no_pair, "final": False, "censored": False,
                    "outcome": UNDECIDED}]) == "continue"
    text = render([root])
    assert "CI [" not in text and "(no intervals)" in text and "100 %" not in text
    assert "a plan of 3 seeds per arm" in verdict_text(
        ab.verdict.__class__(UNDECIDED, "", seeds_needed=(3, 3)))


def test_sweeps_that_ran_different_protocols_are_not_pooled(tmp_path, capsys):
    """A 3-epoch and a 2-epoch sweep of one ablation are not seeds of one experiment: the later
    runs would stand in for the same seeds. Refused in one line; equal protocols merge."""
    import importlib.util

    from conftest import REPO

    for sweep, epochs in (("a", 3), ("b", 2), ("c", 3)):
        for on in (True, False):
            d = job(tmp_path / sweep, f"{on}", {"model.lrn": on}, 0, 0.40, 0.2)
            (d / "config.yaml").write_text(f"seed: 0\nablation:\n  claim: lrn\ntrainer:\n  max_epochs: {epochs}\n"
                                           f"model:\n  lrn: {on}\n  width: 0.25\ndata:\n  root: /{sweep}\n")
    spec = importlib.util.spec_from_file_location("report_main", REPO / "src" / "report.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    args = ["--out", str(tmp_path / "out"), "--wandb", "disabled"]
    assert cli.main([str(tmp_path / "a"), str(tmp_path / "b"), *args]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "ran different protocols (trainer.max_epochs: 3 vs 2)" in line and "report them apart" in line
    assert cli.main([str(tmp_path / "a"), str(tmp_path / "c"), *args]) == 0  # data.root is plumbing
