"""The paper's Figures 3 and 4 from a trained checkpoint: `python src/figures.py CKPT_OR_JOB_DIR`.

A thin main around `alexnet.figures.make.make_figures`. Figure 3: conv1's kernels per column
with a colour-specificity score; Figure 4: nearest training images by fc7 distance and the
top-5 predictions. The data come from the job's config.yaml unless --data-root is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alexnet.figures.make import make_figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path,
                   help="a .ckpt file or a job directory (checkpoints/last.ckpt)")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default: <job>/figures)")
    p.add_argument("--images", type=int, default=5, help="validation images for Figure 4")
    p.add_argument("--neighbours", type=int, default=6, help="nearest training images per image")
    p.add_argument("--data-root", default=None,
                   help="dataset root (default: the run's config.yaml)")
    p.add_argument("--stored-size", type=int, default=None,
                   help="without config.yaml: stored image size")
    p.add_argument("--standardized", action="store_true",
                   help="without config.yaml: inputs ÷ channel std")
    p.add_argument("--train-limit", type=int, default=None,
                   help="search at most this many training images")
    p.add_argument("--kernels-only", action="store_true", help="Figure 3 only (needs no data)")
    args = p.parse_args(argv)
    ckpt = args.checkpoint
    out = args.out or ((ckpt if ckpt.is_dir() else ckpt.parent.parent) / "figures")
    try:
        figs = make_figures(ckpt, out, images=args.images, neighbours=args.neighbours,
                            data_root=args.data_root, stored_size=args.stored_size,
                            standardized=args.standardized, train_limit=args.train_limit,
                            kernels_only=args.kernels_only)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    scores = ", ".join(f"column {i + 1}: {s:.2f}" for i, s in enumerate(figs.column_scores))
    print(f"conv1 colour specificity: {scores}")
    for f in figs.files:
        print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
