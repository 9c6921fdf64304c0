"""Publish a sweep's records and its report: `python src/publish.py SWEEP_DIR DEST`.

A thin main around `alexnet.tools.publish.publish_records`: copies the completed jobs' records
(never checkpoints) into DEST, e.g. experiments/<study>/<sweep>, then rebuilds the report there
from the copies. Run it again as more jobs finish; it adds only the new ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alexnet.report import build_report
from alexnet.tools.publish import UncommittedRecord, publish_records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweep", type=Path, help="the sweep directory (hydra.sweep.dir)")
    p.add_argument("dest", type=Path, help="where the records go, e.g. experiments/<study>/<sweep>")
    p.add_argument("--no-report", action="store_true", help="copy only; do not rebuild the report")
    args = p.parse_args(argv)
    try:
        copied, left = publish_records(args.sweep, args.dest)
    except (FileNotFoundError, UncommittedRecord) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"published {len(copied)} job(s) into {args.dest}"
          + (f"; not completed, left for later: {', '.join(left)}" if left else ""))
    if not args.no_report and any(args.dest.iterdir()):
        report = build_report([args.dest], args.dest)
        print(report.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
