"""List the sweeps and runs on disk: `python src/runs.py [DIR ...] [--html FILE]` (default: logs/).

A thin main around `alexnet.tools.listing`: one line per sweep or single run with its task,
status (a sweep's jobs counted by status), arms, seeds and report. `--html FILE` also writes one
page with every run (arm, seed, status, test errors; sortable, filterable) to open in a browser:
the comparison across sweeps that needs no account (`alexnet.tools.runs_page`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alexnet.atomic import atomic_write_text
from alexnet.tools.listing import list_runs, table
from alexnet.tools.runs_page import runs_page

REPO_ROOT = Path(__file__).resolve().parents[1]
LOGS = REPO_ROOT / "logs"  # paths.log_dir's default


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dirs", nargs="*", type=Path, help=f"folders to search (default: {LOGS})")
    p.add_argument("--html", type=Path, metavar="FILE",
                   help="also write every run into one sortable page (e.g. logs/runs.html)")
    args = p.parse_args(argv)
    if not args.dirs and not LOGS.is_dir():
        print(f"no sweeps or runs yet: {LOGS} does not exist (src/train.py writes there)")
        return 0
    try:
        entries = list_runs(args.dirs or [LOGS])
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not entries:
        print(f"no sweeps or runs under {', '.join(map(str, args.dirs or [LOGS]))}")
        return 0
    print(table(entries))
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.html, runs_page(args.dirs or [LOGS], entries, args.html))
        print(f"every run in one page: {args.html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
