"""Each arm's own learning rate, picked on the held-out split: Figure 1 compares ReLU and tanh,
each at the rate "that made training as fast as possible" (§3.1), so the rate is chosen per
arm from a small grid before the timed runs.

A grid sweep (`recipe.lr=A,B,C` × the arms, one seed, a few epochs) is read from its records:
per arm, the rate whose run reached the lowest held-out error (`best_val/top1_err`) in the
grid's epochs; a run that diverged (no finite error) never wins. Our departure, said plainly:
the paper's criterion was training speed; we pick on the held-out split (not the training
error the timed runs are judged on, nor the test split), which for a few epochs without
regularisation ranks rates by how fast they learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from alexnet.record import CONFIG_FILE
from alexnet.report.collect import find_runs

PICK_METRIC = "best_val/top1_err"


@dataclass(frozen=True)
class GridPoint:
    arm: str
    lr: float
    error: float | None  # the held-out error (fraction), None when the run left none or diverged
    epochs: int | None


def grid_points(dirs: list[str | Path], by: str = "model.activation") -> list[GridPoint]:
    """One point per completed run under `dirs`: its value of `by`, its recipe.lr and its error."""
    points = []
    for run in find_runs(dirs):
        if not run.completed or not (run.path / CONFIG_FILE).is_file():
            continue
        cfg = OmegaConf.load(run.path / CONFIG_FILE)
        arm, lr = OmegaConf.select(cfg, by), OmegaConf.select(cfg, "recipe.lr")
        if arm is None or lr is None:
            raise ValueError(f"{run.path}/{CONFIG_FILE} has no {by if arm is None else 'recipe.lr'}: "
                             "pass the grid sweep's directory and the key its arms differ in (--by)")
        error = run.summary.get(PICK_METRIC)
        finite = error is not None and math.isfinite(error)
        points.append(GridPoint(str(arm), float(lr), error if finite else None, run.summary.get("epochs")))
    return sorted(points, key=lambda p: (p.arm, p.lr))


def pick(points: list[GridPoint]) -> dict[str, GridPoint]:
    """Per arm, the point with the lowest held-out error; ties go to the smaller rate."""
    best: dict[str, GridPoint] = {}
    for p in points:
        if p.error is None:
            continue
        if p.arm not in best or (p.error, p.lr) < (best[p.arm].error, best[p.arm].lr):
            best[p.arm] = p
    return best


def at_grid_edge(points: list[GridPoint], chosen: GridPoint) -> bool:
    """The pick is the grid's smallest or largest rate for its arm: the best may lie beyond it."""
    rates = [p.lr for p in points if p.arm == chosen.arm]
    return len(rates) > 1 and chosen.lr in (min(rates), max(rates))
