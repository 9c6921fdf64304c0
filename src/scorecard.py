"""One table over every claim: `python src/scorecard.py DIR [DIR ...] [--out DIR] [--readme] [--check]`.

A thin main around `alexnet.report.scorecard.build_scorecard`: every claim of the paper becomes
one row (claim, the paper's number, our paired Δ with its interval, verdict, seeds, data, epochs,
wall time, link to its report, the command that measures it), followed by each study's setting
beside the paper's. Writes scorecard.md, scorecard.html and scorecard.png into --out (default:
the current directory); with --readme, README.md (plus the GPU commands and an index of the
folders there) and scorecard.png, as experiments/README.md is made. --check writes nothing and
fails if the Markdown there is not what the records give.
"""  # noqa: E501 - the first line is argparse's description (`__doc__.splitlines()[0]`): kept whole

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alexnet.paper import FIGURE1_THRESHOLD
from alexnet.report.collect import IncomparableSweeps
from alexnet.report.scorecard import StaleScorecard, build_scorecard

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dirs", nargs="+", type=Path, help="sweep directories (searched recursively)")
    p.add_argument("--out", type=Path, default=Path("."),
                   help="where scorecard.md/.html/.png go (default: .)")
    p.add_argument("--threshold", type=float, default=FIGURE1_THRESHOLD,
                   help="training top-1 error (fraction) for the Figure 1 measure (default 0.25)")
    p.add_argument("--readme", action="store_true",
                   help="write README.md (the scorecard as experiments/README.md) instead of "
                        "scorecard.md/.html")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if the Markdown in --out is stale")
    args = p.parse_args(argv)
    if not 0.0 < args.threshold < 1.0:
        p.error(f"--threshold={args.threshold} must be a fraction between 0 and 1")
    try:
        card = build_scorecard(args.dirs, args.out, threshold=args.threshold, readme=args.readme,
                               conf_dir=REPO_ROOT / "conf", check=args.check)
    except (FileNotFoundError, IncomparableSweeps) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except StaleScorecard as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    n = len(card.ablations)
    if args.check:
        print(f"scorecard: {card.markdown} is up to date "
              f"({n} claim{'' if n == 1 else 's'} measured)")
        return 0
    written = [p.name for p in (card.html, card.figure, *card.tables) if p is not None]
    print(f"scorecard: {card.markdown} ({n} claim{'' if n == 1 else 's'} measured"
          + (f"; {', '.join(written)})" if written else ")"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
