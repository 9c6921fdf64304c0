"""Each arm's own learning rate, picked by training speed: Figure 1 compares ReLU and tanh, each
at the rate "that made training as fast as possible" (§3.1), so the rate is chosen per arm from
a small grid before the timed runs.

A grid sweep (`recipe.lr=A,B,C` × the arms, one seed, a few epochs) is read from its records:
per arm, the rate whose run has the lowest training error in eval mode (`train_eval/top1_err`,
metrics.csv) at the last epoch its arm's grid ran — the paper's criterion, read where the
timed runs read theirs. A run with no finite error there (diverged, or stopped early) never
wins; ties go to the smaller rate. The grid runs on a seed no report analyses (seed=100; the
analysis seeds start at 0), so no analysed seed chose the rate it is judged at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from alexnet.record import CONFIG_FILE
from alexnet.report.collect import find_runs

PICK_METRIC = "train_eval/top1_err"
GRID_SEED = 100  # the first seed above the analysis seeds (0, 1, 2, …), for the grid
SEED_WARNING = ("analysis seeds start at 0: run the grid at seed=100 so no analysed seed chose "
                "the rate")


@dataclass(frozen=True)
class GridPoint:
    arm: str
    lr: float
    error: float | None  # PICK_METRIC at its arm's last grid epoch; None: diverged or missing there
    epochs: int | None  # the epochs the run trained
    seed: int | None = None


def grid_points(dirs: list[str | Path], by: str = "model.activation") -> list[GridPoint]:
    """One point per completed run under `dirs`: its value of `by`, its recipe.lr and its
    training error at the last epoch any run of its arm reached (so rates are compared at one
    epoch: a run that stopped sooner has none)."""
    found = []
    for run in find_runs(dirs):
        if not run.completed or not (run.path / CONFIG_FILE).is_file():
            continue
        cfg = OmegaConf.load(run.path / CONFIG_FILE)
        arm, lr = OmegaConf.select(cfg, by), OmegaConf.select(cfg, "recipe.lr")
        if arm is None or lr is None:
            missing = by if arm is None else "recipe.lr"
            raise ValueError(f"{run.path}/{CONFIG_FILE} has no {missing}: pass the grid sweep's "
                             "directory and the key its arms differ in (--by)")
        found.append((str(arm), float(lr), dict(run.series(PICK_METRIC)), run))
    last = {}
    for arm, _, series, _ in found:
        last[arm] = max([last.get(arm, -1), *series])
    points = []
    for arm, lr, series, run in found:
        error = series.get(last[arm])
        finite = error is not None and math.isfinite(error)
        epochs = run.summary.get("epochs")
        points.append(GridPoint(arm, lr, error if finite else None, epochs, run.seed))
    return sorted(points, key=lambda p: (p.arm, p.lr))


def pick(points: list[GridPoint]) -> dict[str, GridPoint]:
    """Per arm, the point with the lowest training error; ties go to the smaller rate."""
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


def analysed_seeds(points: list[GridPoint]) -> list[int]:
    """The grid's seeds that a report may also analyse (below GRID_SEED): their rate is not
    chosen independently of the runs it is judged on."""
    return sorted({p.seed for p in points if p.seed is not None and p.seed < GRID_SEED})
