"""Each arm's learning rate from a grid sweep, picked by training speed:
`python src/lr_grid.py SWEEP_DIR [--by model.activation]`.

A thin main around `alexnet.tools.lr_grid`: prints every grid point's training error (eval
mode) at its arm's last epoch, the grid's seeds (warning when a report could also analyse one),
each arm's pick (warning when it lies on the grid's edge) and the override that gives the timed
runs those rates, e.g. for Figure 1, on a seed no report analyses:

    python src/train.py experiment=ablate_cifar_relu data=cifar10 data.root=DIR seed=100 \\
        recipe.lr=0.0005,0.001,0.002,0.004 trainer.max_epochs=3 callbacks.early_stopping=null \\
        hydra.sweep.dir=GRID
    python src/lr_grid.py GRID
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alexnet.tools.lr_grid import (
    PICK_METRIC,
    SEED_WARNING,
    analysed_seeds,
    at_grid_edge,
    grid_points,
    pick,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dirs", nargs="+", type=Path,
                   help="the grid sweep's directory (searched recursively)")
    p.add_argument("--by", default="model.activation",
                   help="the key the arms differ in (default: model.activation)")
    args = p.parse_args(argv)
    try:
        points = grid_points(args.dirs, args.by)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    best = pick(points)
    if not best:
        print(f"error: no completed run under {', '.join(map(str, args.dirs))} has a finite "
              f"{PICK_METRIC}", file=sys.stderr)
        return 2
    print(f"| {args.by} | recipe.lr | training top-1 error (eval mode) at the arm's last epoch "
          "| epochs |")
    print("|---|---:|---:|---:|")
    for pt in points:
        err = "diverged / none" if pt.error is None else f"{100 * pt.error:.2f} %"
        mark = " **picked**" if best.get(pt.arm) == pt else ""
        print(f"| {pt.arm} | {pt.lr:g} | {err}{mark} | {pt.epochs} |")
    seeds = sorted({pt.seed for pt in points if pt.seed is not None})
    print(f"grid seeds: {', '.join(map(str, seeds)) or 'unknown'}")
    if analysed_seeds(points):
        print(f"warning: {SEED_WARNING}")
    for chosen in best.values():
        if at_grid_edge(points, chosen):
            print(f"warning: {args.by}={chosen.arm} picked the grid's edge ({chosen.lr:g}): "
                  "widen the grid past it")
    rates = ", ".join(f"{arm}: {pt.lr:g}" for arm, pt in sorted(best.items()))
    print(f"override: 'recipe.lr_by_activation={{{rates}}}'" if args.by == "model.activation"
          else f"picked: {rates}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
