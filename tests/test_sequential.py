"""Seeds until decided: the sweep adds seeds, looks at a Bonferroni-corrected interval after
each, and stops when decided, at max_seeds, or when its budget is spent; the report says which."""

import json
from types import SimpleNamespace

import pytest

from alexnet.report.sequential import (
    STOP_BUDGET,
    STOP_CENSORED,
    STOP_DECIDED,
    STOP_FAILED,
    STOP_MAX,
    Plan,
)
from alexnet.report.stats import t_quantile
from test_train import TINY, cli


def test_plan_level_is_bonferroni_over_its_looks():
    plan = Plan(min_seeds=3, max_seeds=8)
    assert plan.planned_looks == 6 and plan.confidence == pytest.approx(1 - 0.05 / 6)
    assert "6 looks" in plan.describe() and "99.2 %" in plan.describe()
    # a look's interval is wider than a single 95 % one: the price of looking six times
    assert t_quantile(0.5 + plan.confidence / 2, 4) > t_quantile(0.975, 4)
    for bad in ({"min_seeds": 1, "max_seeds": 4}, {"min_seeds": 3, "max_seeds": 2},
                {"min_seeds": 2, "max_seeds": 4, "budget_minutes": 0}, {"min_seeds": None, "max_seeds": 4},
                {"min_seeds": "3", "max_seeds": 4}, {"min_seeds": 2, "max_seeds": 3.7}):
        with pytest.raises(ValueError, match="ablation."):
            Plan(**bad)


def sequential_sweep(sweep, experiment, max_seeds, *overrides):
    """Runs a tiny seeds-until-decided sweep from 2 seeds; returns its output and sequential.json."""
    out = cli(f"experiment={experiment}", *TINY, "logger=csv", f"ablation.max_seeds={max_seeds}",
              "ablation.min_seeds=2", *overrides, f"hydra.sweep.dir={sweep}")
    assert out.returncode == 0, out.stderr[-3000:]
    return out, json.loads((sweep / "sequential.json").read_text())


def test_sweep_adds_seeds_until_decided_or_max(tmp_path):
    sweep = tmp_path / "sweep"
    out, plan = sequential_sweep(sweep, "ablate_lrn", 3)
    jobs = [json.loads(p.read_text()) for p in sweep.glob("*/summary.json")]
    seeds = sorted({j["seed"] for j in jobs})
    assert plan["stopped"] in (STOP_DECIDED, STOP_MAX)
    if plan["stopped"] == STOP_MAX:
        assert seeds == [0, 1, 2] and [look["seeds"] for look in plan["looks"]] == [2, 3]
    else:
        assert all(v["outcome"] != "undecided" for v in plan["looks"][-1]["verdicts"])
    assert len(jobs) == 2 * len(seeds) and all(j["status"] == "completed" for j in jobs)
    # both arms of every seed, and no arm key from the plan's settings
    assert {tuple(sorted(j["arm"])) for j in jobs} == {("model.lrn",)}
    report = (sweep / "report.md").read_text()
    assert "seeds added until decided" in report and "97.5 % interval" in report
    assert ("still undecided" in report) == (plan["stopped"] == STOP_MAX)
    assert f"{len(seeds)} seeds per arm" in out.stdout


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
    out = cli("experiment=ablate_lrn", *TINY, "ablation.max_seeds=1", f"hydra.sweep.dir={tmp_path}/s")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["error: ablation.max_seeds=1 must be at least ablation.min_seeds=3"]


def test_the_plan_and_its_first_seeds_are_on_disk_before_the_first_job_runs(tmp_path, monkeypatch):
    """A report read while the first batch runs (or after a kill) must know the plan — the seeds
    it launched, its interval level — not guess them from the grid's seed list."""
    from hydra.core.utils import JobReturn, JobStatus
    from omegaconf import OmegaConf

    import hydra_plugins.alexnet_seeds as seeds_plugin
    from alexnet.report.collect import read_sweep
    from hydra_plugins.alexnet_seeds import SeedsSweeper

    monkeypatch.setattr(seeds_plugin, "plan_jobs", lambda *a, **k: None)  # the progress line's global plan
    sweep, seen = tmp_path / "sweep", []

    class SeesThePlan:  # runs nothing: no job leaves a record, so the first look stops the sweep
        def launch(self, batch, initial_job_idx):
            seen.append(([job[-1] for job in batch], json.loads((sweep / "sequential.json").read_text()),
                         read_sweep(sweep).seeds))
            return [JobReturn(status=JobStatus.COMPLETED, _return_value={}) for _ in batch]

    sweeper = SeedsSweeper(max_batch_size=None, params={"model.lrn": "true,false", "seed": "5,6,7,8"})
    sweeper.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}},
                                       "ablation": {"max_seeds": 4, "min_seeds": 2}})
    sweeper.hydra_context, sweeper.launcher = SimpleNamespace(config_loader=None), SeesThePlan()
    monkeypatch.setattr(sweeper, "validate_batch_is_legal", lambda batch: None)
    sweeper.sweep([])
    ((launched, plan, seeds),) = seen
    assert launched == ["seed=5", "seed=5", "seed=6", "seed=6"]
    assert plan["seeds"] == [5, 6] and plan["looks"] == [] and plan["min_seeds"] == 2
    assert seeds == (5, 6)  # not the grid's 5,6,7,8
    assert Plan(**plan).stop_reason() == "running: the first look comes after 2 seeds per arm"
    final = json.loads((sweep / "sequential.json").read_text())
    assert final["stopped"] == STOP_FAILED and final["seeds"] == [5, 6] and len(final["looks"]) == 1
