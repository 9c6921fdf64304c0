"""List the sweeps and runs on disk: `python src/runs.py [DIR ...]` (default: logs/).

A thin main around `alexnet.tools.listing`: one line per sweep or single run with its task,
status (a sweep's jobs counted by status), arms, seeds and report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alexnet.tools.listing import list_runs, table

REPO_ROOT = Path(__file__).resolve().parents[1]
LOGS = REPO_ROOT / "logs"  # paths.log_dir's default


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dirs", nargs="*", type=Path, help=f"folders to search (default: {LOGS})")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
