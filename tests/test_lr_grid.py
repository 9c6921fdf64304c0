"""Figure 1's per-arm learning rates, picked on the held-out split from a grid sweep's records."""

from __future__ import annotations

import importlib.util
import json

import pytest
from omegaconf import OmegaConf

from alexnet.report.lr_grid import at_grid_edge, grid_points, pick
from conftest import REPO


def grid_job(root, name, activation, lr, best_val, status="completed"):
    d = root / name
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps({"status": status, "seed": 0, "epochs": 3, "arm": {"model.activation": activation, "recipe.lr": lr},
                                                "best_val/top1_err": best_val, "ablation": "cifar_relu"}))
    (d / "config.yaml").write_text(f"seed: 0\nmodel:\n  activation: {activation}\nrecipe:\n  lr: {lr}\n")


@pytest.fixture
def grid(tmp_path):
    root = tmp_path / "grid"
    for i, (act, lr, err) in enumerate([("relu", 0.001, 0.52), ("relu", 0.002, 0.47), ("relu", 0.004, 0.49),
                                        ("tanh", 0.001, 0.61), ("tanh", 0.002, 0.58), ("tanh", 0.004, float("nan"))]):
        grid_job(root, f"{i}_job", act, lr, err)
    grid_job(root, "6_killed", "tanh", 0.0005, 0.10, status="failed")  # never counts, however low
    return root


def test_each_arm_gets_its_lowest_held_out_error_and_a_diverged_run_never_wins(grid):
    points = grid_points([grid])
    assert len(points) == 6  # the failed job is not a grid point
    best = pick(points)
    assert {a: p.lr for a, p in best.items()} == {"relu": 0.002, "tanh": 0.002}
    assert not at_grid_edge(points, best["relu"])
    assert at_grid_edge(points, best["tanh"]) is False  # 0.004 diverged but is still the grid's edge: 0.002 is inside


def test_a_pick_on_the_grids_edge_is_flagged(tmp_path):
    root = tmp_path / "g"
    grid_job(root, "0", "relu", 0.001, 0.40)
    grid_job(root, "1", "relu", 0.002, 0.45)
    points = grid_points([root])
    assert pick(points)["relu"].lr == 0.001 and at_grid_edge(points, pick(points)["relu"])


def test_cli_prints_the_override_for_the_timed_runs(grid, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("lr_grid_main", REPO / "src" / "lr_grid.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.main([str(grid)]) == 0
    out = capsys.readouterr().out
    assert "override: 'recipe.lr_by_activation={relu: 0.002, tanh: 0.002}'" in out
    assert "| tanh | 0.004 | diverged / none |" in out
    assert cli.main([str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err


def test_figure1_defaults_are_the_committed_grids_picks():
    """ablate_cifar_relu's per-activation rates are what src/lr_grid.py picks from the grid
    records committed in experiments/ — inside the grid, not on its edge."""
    points = grid_points([REPO / "experiments" / "cifar10-convnet4" / "lr_grid"])
    best = pick(points)
    defaults = OmegaConf.load(REPO / "conf" / "experiment" / "ablate_cifar_relu.yaml").recipe.lr_by_activation
    assert {arm: pt.lr for arm, pt in best.items()} == dict(defaults)
    assert not any(at_grid_edge(points, pt) for pt in best.values())
