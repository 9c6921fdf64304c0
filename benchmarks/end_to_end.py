"""One epoch of full CIFAR-10 through `src/train.py`, against a plain PyTorch + torchvision
script training the same net with the same augmentation (`plain_torchvision.py`). Each is a
whole command as a user runs it (start-up, data, training, the test split), alternated.

    python benchmarks/end_to_end.py --root DIR [--rounds 1] [--epochs 1] [--workers 2] [--ours KEY=VALUE ...]

DIR is CIFAR-10 as class folders (train/, test/), e.g. `tar xzf cifar10-jpg.tar.gz`. Ours
trains on all 50,000 training images (`data.holdout=null data.train_eval=null`, like the
baseline), validates each epoch on the test split and scores it once more at the end; the
baseline scores it once. Our decoded-image cache is built first, once, and timed on its own.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, append_rows, git_sha, load, machine, today


def timed(command: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{out.stderr[-2000:]}")
    return time.perf_counter() - t, out.stdout


def ours(root: Path, epochs: int, run_dir: Path, cache: Path, extra: list[str] | None = None) -> list[str]:
    return [sys.executable, "src/train.py", "data=cifar10", f"data.root={root}", f"data.cache_dir={cache}",
            f"trainer.max_epochs={epochs}",
            "data.holdout=null", "data.train_eval=null", "logger.wandb.mode=offline", "callbacks.progress_bar=none",
            f"hydra.run.dir={run_dir}", *(extra or [])]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", required=True, type=Path, help="CIFAR-10 class folders: train/ and test/")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--workers", type=int, default=2, help="the baseline's DataLoader workers")
    p.add_argument("--ours", nargs="*", default=[], metavar="KEY=VALUE",
                   help="overrides for our command, e.g. channels_last=true (recorded in the row)")
    p.add_argument("--no-append", action="store_true", help="print only; do not append to benchmarks/README.md")
    args = p.parse_args(argv)
    root = args.root.resolve()
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        p.error(f"--root {root} needs train/<class>/ and test/<class>/ folders")
    before = load()
    with tempfile.TemporaryDirectory() as tmp:
        # the one-time cache build (decode once, mean image, PCA), then steady-state runs
        cache = Path(tmp) / "cache"  # a fresh cache: the warm-up builds it, the timed runs reuse it
        cache_s, _ = timed(ours(root, 1, Path(tmp) / "warm", cache, [
            "trainer.limit_train_batches=1", "trainer.limit_val_batches=1", "+trainer.limit_test_batches=1",
            "callbacks.checkpoint.enabled=false"]))
        plain = [sys.executable, "benchmarks/plain_torchvision.py", "--root", str(root),
                 "--epochs", str(args.epochs), "--workers", str(args.workers)]
        times = {"ours": [], "plain": []}
        rates = {"ours": [], "plain": []}
        for r in range(args.rounds):
            run_dir = Path(tmp) / f"ours{r}"
            t, _ = timed(ours(root, args.epochs, run_dir, cache, args.ours))
            times["ours"].append(t)
            with open(run_dir / "metrics.csv") as f:
                rates["ours"] += [float(row["train/images_per_sec"]) for row in csv.DictReader(f)]
            t, out = timed(plain)
            times["plain"].append(t)
            rates["plain"].append(float(re.search(r"\((\d+) img/s\)", out).group(1)))
    after = load()
    ratio = statistics.median(times["plain"]) / statistics.median(times["ours"])
    print(f"machine: {machine()}; load {before} → {after}")
    print(f"cache build (once, with start-up and a 1-batch run): {cache_s:.0f} s")
    for name in times:
        print(f"{name:>5}: {statistics.median(times[name]):.0f} s whole command, "
              f"{statistics.median(rates[name]):.0f} training img/s")
    print(f"plain ÷ ours (whole command): {ratio:.2f}×")
    if not args.no_append:
        append_rows("End to end: one epoch of full CIFAR-10 (`end_to_end.py`)", [
            f"| {today()} | {args.epochs} | {statistics.median(times['ours']):.0f} s ({statistics.median(rates['ours']):.0f} img/s)"
            f"{''.join(f', {o}' for o in args.ours)} | "
            f"{statistics.median(times['plain']):.0f} s ({statistics.median(rates['plain']):.0f} img/s), {args.workers} workers | "
            f"{ratio:.2f}× | {cache_s:.0f} s | {machine()}; load {before} → {after}; {git_sha()} |"
        ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
