"""One table over every claim: `python src/scorecard.py DIR [DIR ...] [--out DIR]`.

A thin main around `alexnet.report.scorecard.build_scorecard`: every ablation found under the
sweep directories becomes one row (claim, the paper's number, our paired Δ with its interval,
verdict, seeds, data, epochs, wall time, link to its report). Writes scorecard.md,
scorecard.html and scorecard.png into --out (default: the current directory).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alexnet.report.curves import DEFAULT_THRESHOLD
from alexnet.report.scorecard import build_scorecard


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dirs", nargs="+", type=Path, help="sweep directories (searched recursively)")
    p.add_argument("--out", type=Path, default=Path("."), help="where scorecard.md/.html/.png go (default: .)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="training top-1 error (fraction) for the Figure 1 measure (default 0.25)")
    args = p.parse_args(argv)
    if not 0.0 < args.threshold < 1.0:
        p.error(f"--threshold={args.threshold} must be a fraction between 0 and 1")
    try:
        card = build_scorecard(args.dirs, args.out, threshold=args.threshold)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"scorecard: {card.markdown} ({len(card.ablations)} claim{'' if len(card.ablations) == 1 else 's'}; {card.html.name}"
          + (f", {card.figure.name})" if card.figure else ")"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
