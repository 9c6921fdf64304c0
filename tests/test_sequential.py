"""Seeds until decided: a plan written before seed 0 spends α over its looks (O'Brien–Fleming
shape, calibrated for the paired t); the whole procedure keeps its stated coverage and error
rates (simulated); a decided claim stops its own arm; a changed plan is refused."""

import importlib.util
import json
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

import hydra_plugins.alexnet_seeds as seeds_plugin
from alexnet.sequential import (
    SPENDING,
    STOP_BUDGET,
    STOP_CENSORED,
    STOP_DECIDED,
    STOP_FAILED,
    STOP_MAX,
    Plan,
    critical_values,
    load_plan,
    seeds_needed,
    simulate,
    spent,
)
from conftest import REPO, run_main
from test_train import TINY

SIGN = ("reproduced", "larger than claimed", "smaller than claimed",
        "direction confirmed, size unresolved")


def test_critical_values_fall_to_near_the_fixed_t_quantile():
    plan = Plan(min_seeds=3, max_seeds=8)
    c = np.array(plan.critical)
    assert len(c) == plan.planned_looks == 6 and (np.diff(c) < 0).all()
    fixed = stats.t.ppf(0.975, 7)
    assert fixed < c[-1] < 1.2 * fixed  # the last look: near the fixed-n 95 % interval
    assert c[0] == pytest.approx(stats.t.ppf(1 - spent(3 / 8, 0.05) / 2, 2))  # exact at look 1
    assert 0.95 < plan.confidence_at(8) < 0.98 and plan.confidence_at(2) == plan.confidence_at(3)
    assert plan.confidence_at(9) == plan.confidence_at(8)
    # Bonferroni over 6 looks needed t(7) at 1 − 0.05/12: 3.5; the last look is now cheaper
    assert c[-1] < stats.t.ppf(1 - 0.05 / 12, 7)
    assert Plan(3, 3).critical == [pytest.approx(stats.t.ppf(0.975, 2))]  # a fixed design
    # Monte Carlo error: another RNG seed moves no usable c_k by 1 %
    other = np.array(critical_values(3, 8, rng_seed=7))
    assert np.abs(other / c - 1)[c < 7].max() < 0.01
    for bad in ({"min_seeds": 1, "max_seeds": 4}, {"min_seeds": 3, "max_seeds": 2},
                {"min_seeds": 2, "max_seeds": 4, "budget_minutes": 0},
                {"min_seeds": None, "max_seeds": 4}, {"min_seeds": "3", "max_seeds": 4},
                {"min_seeds": 2, "max_seeds": 3.7}, {"min_seeds": 2, "max_seeds": 4, "alpha": 1}):
        with pytest.raises(ValueError, match="ablation."):
            Plan(**bad)


@pytest.mark.parametrize("at_least", [False, True])
def test_the_whole_procedure_keeps_its_coverage_and_error_rates(at_least):
    """Normal per-seed differences, looks at the plan's critical values, the report's rule,
    a stop on a final outcome: coverage at the stopping look ≥ 95 %, a false sign at Δ = 0
    ≤ 2.5 %, and half the claimed effect is rarely "reproduced"."""
    plan, sd, c, paths = Plan(3, 10), 1.0, 1.5, 20_000
    se = lambda p: 3 * (p * (1 - p) / paths) ** 0.5  # noqa: E731 - three Monte Carlo s.e.
    for delta in (0.0, c / 2, c):
        sim = simulate(plan, delta, sd, c, at_least, paths=paths)
        assert sim["coverage"] >= 0.95 - se(0.05), (delta, sim)
        assert 3 <= sim["mean_seeds"] <= 10
    null = simulate(plan, 0.0, sd, c, at_least, paths=paths)["outcomes"]
    assert sum(null.get(k, 0) for k in SIGN) <= 0.025 + se(0.025), null
    assert simulate(plan, c / 2, sd, c, at_least, paths=paths)["outcomes"]["reproduced"] < 0.05


def test_seeds_needed_gives_the_power_it_promises():
    for sd, c in ((1.0, 2.0), (0.5, 1.5)):
        n = seeds_needed(sd, c, min_seeds=3)
        hit = simulate(Plan(3, n), c, sd, c, paths=10_000)["outcomes"]["reproduced"]
        less = simulate(Plan(3, n - 1), c, sd, c, paths=10_000)["outcomes"]["reproduced"]
        assert 0.75 <= hit <= 0.9 and less < hit, (sd, c, n, hit, less)
    assert seeds_needed(0.0, 1.0) == 3 and seeds_needed(100.0, 0.1) == 1000
    with pytest.raises(ValueError):
        seeds_needed(1.0, 0.0)


def test_looks_before_the_plan_count_against_alpha():
    plan = Plan(3, 5, prior_looks=[{"seeds": 3, "alpha": 0.05}])
    assert plan.level_label == "≥ 90 % over all looks (a 95 % look at 3 seeds came before the plan)"
    assert Plan(3, 5).level_label == "≥ 95 % over all looks"
    assert "3 seeds per arm, then one at a time up to 5" in plan.describe()


def test_a_bonferroni_era_plan_loads_with_todays_spending(tmp_path):
    old = {"min_seeds": 3, "max_seeds": 5, "budget_minutes": None, "alpha": 0.05,
           "looks": [{"seeds": 3, "seed_values": [0, 1, 2], "elapsed_s": 7.4, "verdicts": []}],
           "stopped": "max_seeds", "seeds": [0, 1, 2, 3, 4]}
    (tmp_path / "sequential.json").write_text(json.dumps(old))
    plan = load_plan(tmp_path)
    assert plan.spending == SPENDING and plan.critical == list(critical_values(3, 5))
    assert plan.seeds == [0, 1, 2, 3, 4] and plan.stop_reason().startswith("stopped at the max")
    plan.save(tmp_path)  # round trip, infinite critical values as JSON null
    assert load_plan(tmp_path).critical == plan.critical
    assert load_plan(tmp_path / "none") is None


def fake_sweeper(monkeypatch, sweep, params, ablation, looks):
    """A SeedsSweeper whose launcher runs nothing and whose looks are scripted: returns the
    sweeper and the list of batches it launched."""
    from hydra.core.utils import JobReturn, JobStatus
    from omegaconf import OmegaConf

    monkeypatch.setattr(seeds_plugin, "plan_jobs", lambda *a, **k: None)
    scripted = iter(looks)
    monkeypatch.setattr(seeds_plugin, "look", lambda sweep_dir, seeds: next(scripted))
    launched = []

    class Launcher:
        def launch(self, batch, initial_job_idx):
            launched.append((batch, json.loads((sweep / "sequential.json").read_text())))
            return [JobReturn(status=JobStatus.COMPLETED, _return_value={}) for _ in batch]

    sweeper = seeds_plugin.SeedsSweeper(max_batch_size=None, params=params)
    sweeper.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}},
                                       "ablation": ablation})
    sweeper.hydra_context, sweeper.launcher = SimpleNamespace(config_loader=None), Launcher()
    monkeypatch.setattr(sweeper, "validate_batch_is_legal", lambda batch: None)
    return sweeper, launched


def verdict(claim, final=False, no_pair=False, censored=False, outcome="x"):
    return {"claim": claim, "outcome": outcome, "reason": "", "final": final, "no_pair": no_pair,
            "censored": censored}


def test_the_plan_and_its_first_seeds_are_on_disk_before_the_first_job_runs(tmp_path, monkeypatch):
    """A report read while the first batch runs (or after a kill) must know the plan — the seeds
    it launched, its critical values — not guess them from the grid's seed list."""
    from alexnet.report.collect import read_sweep

    sweep = tmp_path / "sweep"
    grid = {"model.lrn": "true,false", "seed": "5,6,7,8"}
    sweeper, launched = fake_sweeper(monkeypatch, sweep, grid, {"max_seeds": 4, "min_seeds": 2},
                                     [[]])
    sweeper.sweep([])
    ((batch, plan),) = launched
    assert [job[-1] for job in batch] == ["seed=5", "seed=5", "seed=6", "seed=6"]
    assert plan["seeds"] == [5, 6] and plan["looks"] == [] and plan["min_seeds"] == 2
    assert plan["critical"][1:] == list(critical_values(2, 4))[1:] and plan["spending"] == SPENDING
    assert read_sweep(sweep).seeds == (5, 6)  # not the grid's 5,6,7,8
    first = "running: the first look comes after 2 seeds per arm"
    assert Plan.from_dict(plan).stop_reason() == first
    final = json.loads((sweep / "sequential.json").read_text())
    assert final["stopped"] == STOP_FAILED and final["seeds"] == [5, 6] and len(final["looks"]) == 1


def test_a_decided_claim_stops_its_arm_while_the_baseline_runs_on(tmp_path, monkeypatch):
    sweep = tmp_path / "sweep"
    looks = [[verdict("lrn", final=True), verdict("pool"), verdict("ten_crop")],
             [verdict("lrn", final=True), verdict("pool", final=True), verdict("ten_crop")],
             [verdict("lrn", final=True), verdict("pool", final=True),
              verdict("ten_crop", final=True)]]
    sweeper, launched = fake_sweeper(monkeypatch, sweep, {"ablation.arm": "baseline,lrn,pool"},
                                     {"max_seeds": 6, "min_seeds": 2}, looks)
    sweeper.sweep([])
    arms = [sorted({job[0] for job in batch}) for batch, _ in launched]
    assert arms == [["ablation.arm=baseline", "ablation.arm=lrn", "ablation.arm=pool"],
                    ["ablation.arm=baseline", "ablation.arm=pool"], ["ablation.arm=baseline"]]
    plan = load_plan(sweep)
    assert [lk["arms"] for lk in plan.looks] == [["baseline", "lrn", "pool"], ["baseline", "pool"],
                                                ["baseline"]]
    assert plan.arm_seeds == {"baseline": [0, 1, 2, 3], "lrn": [0, 1], "pool": [0, 1, 2]}
    assert plan.stopped == STOP_DECIDED and plan.seeds == [0, 1, 2, 3]


def test_stopping_reads_typed_fields_only():
    decide = seeds_plugin.decide
    assert decide([]) == STOP_FAILED and decide([verdict("a", no_pair=True)]) == STOP_FAILED
    assert decide([verdict("a", final=True), verdict("b")]) == "continue"
    # an end left open by some censored seeds: more seeds can still close the other end
    assert decide([verdict("a", final=True), verdict("b", censored=True)]) == "continue"
    short = verdict("a", final=True, outcome="not measurable at this length")
    assert decide([short]) == STOP_CENSORED


def test_a_plan_changed_after_data_exist_is_refused(tmp_path, monkeypatch, capsys):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    Plan(3, 5).save(sweep)
    sweeper, launched = fake_sweeper(monkeypatch, sweep, {"model.lrn": "true,false"},
                                     {"max_seeds": 8, "min_seeds": 3}, [])
    with pytest.raises(SystemExit) as e:
        sweeper.sweep([])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and not launched
    assert "may not change" in line and "new hydra.sweep" in line
    # the same plan resumes, keeping the looks made before it
    Plan(3, 8, prior_looks=[{"seeds": 3, "alpha": 0.05}]).save(sweep)
    fake_sweeper(monkeypatch, sweep, {"model.lrn": "true,false"}, {"max_seeds": 8, "min_seeds": 3},
                 [[verdict("lrn", final=True)]])[0].sweep([])
    assert load_plan(sweep).stopped == STOP_DECIDED and load_plan(sweep).prior_looks
    # a resume goes on with the budget the earlier runs spent: 90 s of a 1-minute budget are gone
    budget = tmp_path / "budget"
    budget.mkdir()
    Plan(3, 8, budget_minutes=1.0, looks=[{"seeds": 3, "elapsed_s": 90.0}]).save(budget)
    fake_sweeper(monkeypatch, budget, {"model.lrn": "true,false"},
                 {"max_seeds": 8, "min_seeds": 3, "budget_minutes": 1.0},
                 [[verdict("lrn")]])[0].sweep([])
    resumed = load_plan(budget)
    assert resumed.stopped == STOP_BUDGET and resumed.looks[-1]["elapsed_s"] >= 90.0
    # stopped before its first look: the jobs that ended count, and the part an unfinished one ran
    early = tmp_path / "early"
    early.mkdir()
    Plan(3, 8, budget_minutes=1.0, seeds=[0, 1, 2]).save(early)
    for name, seed, status in (("0", 0, "completed"), ("1", 1, "failed"), ("2", 2, "interrupted")):
        (early / name).mkdir()
        (early / name / "summary.json").write_text(json.dumps(
            {"seed": seed, "status": status, "wall_time_s": 40.0, "arm": {"model.lrn": True}}))
    fake_sweeper(monkeypatch, early, {"model.lrn": "true,false"},
                 {"max_seeds": 8, "min_seeds": 3, "budget_minutes": 1.0},
                 [[verdict("lrn")]])[0].sweep([])
    resumed = load_plan(early)
    assert resumed.resumed_after_s == 120.0 and resumed.stopped == STOP_BUDGET
    assert 120.0 <= resumed.looks[-1]["elapsed_s"] < 130.0
    # records without a plan: their data were seen before any plan
    seen = tmp_path / "seen"
    (seen / "0_model.lrn-True+seed-0").mkdir(parents=True)
    (seen / "0_model.lrn-True+seed-0" / "summary.json").write_text("{}")
    sweeper, launched = fake_sweeper(monkeypatch, seen, {"model.lrn": "true,false"},
                                     {"max_seeds": 5, "min_seeds": 3}, [])
    with pytest.raises(SystemExit):
        sweeper.sweep([])
    assert "no sequential.json" in capsys.readouterr().err
    assert not (seen / "sequential.json").exists()


def test_stops_and_resumes_within_a_seed_spend_the_budget_once(tmp_path, monkeypatch):
    """A look at seeds 0-2 read 1,000 s; then seed 3's lrn=false job completed (600 s) and its
    baseline was stopped at 500 s, resumed from a checkpoint of 450 s and stopped again at 650 s.
    Each resume's clock is the look's 1,000 s plus the records after it: no job counted twice,
    however often the sweep is stopped before its next look."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    Plan(3, 8, budget_minutes=100.0, seeds=[0, 1, 2, 3],
         looks=[{"seeds": 3, "seed_values": [0, 1, 2], "elapsed_s": 1000.0}]).save(sweep)

    def record(seed, lrn, status, wall_time_s):
        job = sweep / f"{seed}_{lrn}"
        job.mkdir(exist_ok=True)
        (job / "summary.json").write_text(json.dumps(
            {"seed": seed, "status": status, "wall_time_s": wall_time_s, "arm": {"model.lrn": lrn}}))

    for seed in (0, 1, 2):
        record(seed, True, "completed", 250.0)  # in the look's 1,000 s already
        record(seed, False, "completed", 250.0)
    record(3, False, "completed", 600.0)
    record(3, True, "interrupted", 500.0)

    from hydra.core.utils import JobReturn, JobStatus

    class StoppedDuringSeed3:
        def launch(self, batch, initial_job_idx):
            if any("seed=3" in job for job in batch):
                raise KeyboardInterrupt
            return [JobReturn(status=JobStatus.COMPLETED, _return_value={}) for _ in batch]

    def resume():
        sweeper, _ = fake_sweeper(monkeypatch, sweep, {"model.lrn": "true,false"},
                                  {"max_seeds": 8, "min_seeds": 3, "budget_minutes": 100.0},
                                  [[verdict("lrn")]])
        sweeper.launcher = StoppedDuringSeed3()
        with pytest.raises(KeyboardInterrupt):
            sweeper.sweep([])
        return load_plan(sweep)

    first = resume()
    assert first.resumed_after_s == 2100.0
    assert [look["elapsed_s"] for look in first.looks] == [1000.0]  # replayed as it was
    record(3, True, "interrupted", 650.0)  # 450 s from its checkpoint + 200 s more
    assert resume().resumed_after_s == 2250.0  # 1,000 + 600 + 650


def test_a_failed_report_fails_the_sweep_in_one_line(tmp_path, monkeypatch, capsys):
    from omegaconf import OmegaConf

    import alexnet.report
    from alexnet import sweep_callbacks

    def broken(*a, **k):
        raise KeyError("boom")

    monkeypatch.setattr(alexnet.report, "build_report", broken, raising=False)
    monkeypatch.setattr(sweep_callbacks, "SWEEP", sweep_callbacks.SweepState())
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    sweep_callbacks.SweepReportCallback().on_multirun_end(config)
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: the sweep report could not be written (KeyError: 'boom'")
    assert sweep_callbacks.sweep_exit_status() == 1


def sequential_sweep(sweep, experiment, max_seeds, *overrides):
    """Runs a tiny seeds-until-decided sweep from 2 seeds; returns its output and plan."""
    out = run_main("train.py", f"experiment={experiment}", *TINY, "logger=csv", f"ablation.max_seeds={max_seeds}",
              "ablation.min_seeds=2", *overrides, f"hydra.sweep.dir={sweep}")
    assert out.returncode == 0, out.stderr[-3000:]
    return out, json.loads((sweep / "sequential.json").read_text())


@pytest.fixture(scope="module")
def lrn_sweep(tmp_path_factory):
    sweep = tmp_path_factory.mktemp("lrn") / "sweep"
    return sweep, *sequential_sweep(sweep, "ablate_lrn", 3)


def test_sweep_adds_seeds_until_decided_or_max(lrn_sweep):
    sweep, out, plan = lrn_sweep
    jobs = [json.loads(p.read_text()) for p in sweep.glob("*/summary.json")]
    seeds = sorted({j["seed"] for j in jobs})
    # a tiny net's 2-3 seeds cannot decide 1.4 points: a look at 2 seeds, one at 3, then the max
    assert plan["stopped"] == STOP_MAX and plan["critical"]
    assert seeds == [0, 1, 2] and [look["seeds"] for look in plan["looks"]] == [2, 3]
    assert not any(v["final"] for look in plan["looks"] for v in look["verdicts"])
    assert len(jobs) == 2 * len(seeds) and all(j["status"] == "completed" for j in jobs)
    # both arms of every seed, and no arm key from the plan's settings
    assert {tuple(sorted(j["arm"])) for j in jobs} == {("model.lrn",)}
    report = (sweep / "report.md").read_text()
    assert "seeds added until decided" in report and "over all looks" in report
    # the console ends with the answer (claim, Δ, interval, verdict), in plain text, not only paths
    headline = next(line for line in out.stdout.splitlines() if line.startswith("lrn: With "))
    assert "CI [" in headline and "**" not in headline and "`" not in headline
    assert ("stopped at the maximum of 3 seeds" in report) == (plan["stopped"] == STOP_MAX)
    assert f"{len(seeds)} seeds per arm" in out.stdout


def test_a_published_sweep_goes_on_in_a_new_directory_as_if_never_stopped(lrn_sweep, tmp_path):
    """Its sweep directory lost (a new machine, a wiped scratch disk) while seed 2 ran: what
    src/publish.py had copied by then, put in a new hydra.sweep.dir, and the same command finish
    the study as the first sweep did — the jobs on record are not run again, the first look
    replays with its clock, seed 2 trains to the same records and the last look to the same
    verdicts."""
    import shutil

    from alexnet.sequential import SEQUENTIAL_FILE
    from alexnet.tools.publish import JOB_FILES, SWEEP_FILE

    sweep, _, plan = lrn_sweep
    restored = tmp_path / "restored"
    restored.mkdir()
    # publish_records' copy of the records published before seed 2 ended (not the function: it
    # refuses records of uncommitted code, as a developer's test runs make)
    for job in sweep.glob("[0-9]*_*+seed-[01]"):
        (restored / job.name).mkdir()
        for name in JOB_FILES:
            shutil.copy2(job / name, restored / job.name / name)
    shutil.copy2(sweep / SWEEP_FILE, restored / SWEEP_FILE)
    saved = {**plan, "looks": plan["looks"][:1], "stopped": None}  # as saved while seed 2 ran
    (restored / SEQUENTIAL_FILE).write_text(json.dumps(saved))

    _, again = sequential_sweep(restored, "ablate_lrn", 3)
    assert again["stopped"] == plan["stopped"] and again["seeds"] == plan["seeds"] == [0, 1, 2]
    assert [look["verdicts"] for look in again["looks"]] == [look["verdicts"] for look in plan["looks"]]
    # the budget goes on from the first look's clock, which the replayed look keeps
    assert again["resumed_after_s"] == again["looks"][0]["elapsed_s"] == plan["looks"][0]["elapsed_s"]
    before = {job.name: json.loads((job / "summary.json").read_text()) for job in sweep.glob("[0-9]*_*")}
    after = {job.name: json.loads((job / "summary.json").read_text()) for job in restored.glob("[0-9]*_*")}
    assert sorted(after) == sorted(before) and len(after) == 6
    for name, summary in after.items():
        rerun = summary["seed"] == 2
        assert (summary["started_at"] != before[name]["started_at"]) is rerun, name  # seeds 0-1: skipped
        assert summary["test/top1_err"] == before[name]["test/top1_err"], name


def test_a_spent_budget_stops_after_the_first_look(tmp_path):
    sweep = tmp_path / "sweep"
    _, plan = sequential_sweep(sweep, "ablate_pooling", 5, "ablation.budget_minutes=0.001")
    assert len(plan["looks"]) == 1 and plan["stopped"] in (STOP_BUDGET, STOP_DECIDED)
    assert len(list(sweep.glob("*/summary.json"))) == 4


def test_censored_runs_stop_the_sweep_more_seeds_cannot_help(tmp_path):
    # two tiny epochs never reach 25 % training error: the Figure 1 interval stays open
    sweep = tmp_path / "sweep"
    _, plan = sequential_sweep(sweep, "ablate_activation", 6)
    assert plan["stopped"] == STOP_CENSORED and len(plan["looks"]) == 1
    assert len(list(sweep.glob("*/summary.json"))) == 4
    assert "train longer" in (sweep / "report.md").read_text()


def test_a_bad_plan_is_one_line(tmp_path):
    out = run_main("train.py", "experiment=ablate_lrn", *TINY, "ablation.max_seeds=1",
              f"hydra.sweep.dir={tmp_path}/s")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: ablation.max_seeds=1 must be at least ablation.min_seeds=3"]


def _plan_cli():
    spec = importlib.util.spec_from_file_location("plan_main", REPO / "src" / "plan.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


def test_a_pilot_of_one_claim_plans_the_others_from_a_reference_scaled_by_how_much_it_narrowed():
    """Two shared claims narrowed 4× and 1× from the reference: the geometric mean, 2×, scales
    the claim the pilot lacks, counted at the pilot's fewest seeds; the pilot's own stay."""
    cli = _plan_cli()
    own = {"lrn": (0.5, 3, 1.4), "columns": (1.0, 2, 1.7)}
    reference = {"lrn": (2.0, 5, 1.4), "columns": (1.0, 5, 1.7), "pool": (1.0, 5, 0.4)}
    added, factor, shared = cli.scaled(own, reference)
    assert shared == ["columns", "lrn"] and factor == pytest.approx(0.5)
    assert added == {"pool": (pytest.approx(0.5), 2, 0.4)}


def test_plan_refuses_a_reference_that_shares_no_claim_with_the_pilot(capsys):
    cli = _plan_cli()
    with pytest.raises(SystemExit):
        cli.scaled({"lrn": (0.5, 3, 1.4)}, {"pool": (1.0, 5, 0.4)})
    assert capsys.readouterr().err.startswith("error: reference= shares no claim")
    with pytest.raises(SystemExit):
        cli.main(["experiment=ablate_all", "reference=/no/such/dir"])
    assert "reference=/no/such/dir: no such directory" in capsys.readouterr().err
