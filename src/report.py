"""Build the comparison report of one or more sweeps: `python src/report.py DIR [DIR ...]`.

A thin main around `alexnet.report.build_report`: several directories are merged into one
report (e.g. a sweep and the extra seeds run later). Output: report.md, index.html and the
PNG figures in --out (default: the first directory).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alexnet.dotenv import load_dotenv
from alexnet.loggers import WANDB_MODES
from alexnet.paper import FIGURE1_THRESHOLD
from alexnet.report import build_report
from alexnet.report.collect import IncomparableSweeps

REPO_ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dirs", nargs="+", type=Path, help="sweep or run directories (merged)")
    p.add_argument("--out", type=Path, default=None,
                   help="report directory (default: the first DIR)")
    p.add_argument("--threshold", type=float, default=FIGURE1_THRESHOLD,
                   help="training top-1 error (fraction) for the Figure 1 measure (default 0.25)")
    p.add_argument("--wandb", choices=WANDB_MODES, default="auto",
                   help="W&B report: auto (online when a key is set and the host answers), online, "
                        "offline (print how to sync), disabled")
    args = p.parse_args(argv)
    if not 0.0 < args.threshold < 1.0:
        p.error(f"--threshold={args.threshold} must be a fraction between 0 and 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_dotenv(REPO_ROOT / ".env")
    try:
        report = build_report(args.dirs, args.out, threshold=args.threshold, wandb=args.wandb)
    except (FileNotFoundError, IncomparableSweeps) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(report.describe())
    if report.wandb:
        print(report.wandb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
