"""Fault injection: SIGKILL a CPU training run at random moments, resume it by re-running the same
command, and check that it ends exactly as an uninterrupted run — weights and metrics.

Half the kills land at a uniformly random time of the run; the other half while a checkpoint is
being written (the script polls the checkpoint folder and kills as soon as the k-th temporary
checkpoint file appears; a kill that landed mid-write leaves that temporary file behind, which
the script counts). `$TMPDIR` points at another filesystem than the logs (default /dev/shm), the
setting in which Lightning's own checkpoint write could destroy `last.ckpt`.

    python benchmarks/fault_injection.py --kills 20            # last line: N/N identical

Each trial: start `src/train.py` (debug=tiny on the bundled sample) in its own run directory,
SIGKILL it, re-run the same command in the same directory (`resume=auto` continues from the
newest good checkpoint), then compare the final `last.ckpt` state_dict bit for bit, every
`metrics.csv` column except the timing ones, and the summary's test errors with the reference.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
TIMING_COLUMNS = {"train/images_per_sec"}  # wall-clock measures: differ between any two runs
SUMMARY_KEYS = ("status", "epochs", "steps", "test/top1_err", "test/top5_err", "test/loss",
                "final_val/top1_err", "final_val/loss", "final_train/loss", "final_train_eval/top1_err")
TMP_PREFIX = ".tmp-"  # alexnet.checkpoint_io.TMP_PREFIX (not imported: the script runs the CLI only)


def command(run_dir: Path, args) -> list[str]:
    return [sys.executable, str(REPO / "src" / "train.py"), "debug=tiny", "callbacks.progress_bar=none",
            f"trainer.max_epochs={args.epochs}", f"trainer.limit_train_batches={args.batches}",
            f"callbacks.checkpoint.every_n_steps={args.every_n_steps}", f"hydra.run.dir={run_dir}"]


def environment(args) -> dict[str, str]:
    return {**os.environ, "TMPDIR": args.tmpdir, "WANDB_MODE": "disabled", "PYTHONUNBUFFERED": "1"}


def run_to_end(run_dir: Path, args) -> float:
    start = time.monotonic()
    with open(run_dir.parent / f"{run_dir.name}.log", "a") as log:
        subprocess.run(command(run_dir, args), cwd=REPO, env=environment(args), stdout=log, stderr=subprocess.STDOUT,
                       check=True, timeout=args.timeout)
    return time.monotonic() - start


def run_and_kill(run_dir: Path, args, at_s: float | None, at_write: int | None) -> dict:
    """Starts a run and SIGKILLs it at `at_s` seconds, or when the `at_write`-th temporary
    checkpoint file appears; returns what the kill hit."""
    ckpts = run_dir / "checkpoints"
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir.parent / f"{run_dir.name}.log", "a") as log:
        proc = subprocess.Popen(command(run_dir, args), cwd=REPO, env=environment(args), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        start, seen, writes = time.monotonic(), set(), 0
        while proc.poll() is None:
            elapsed = time.monotonic() - start
            if at_s is not None and elapsed >= at_s:
                break
            if at_write is not None:
                try:
                    temps = {p.name for p in os.scandir(ckpts) if p.name.startswith(TMP_PREFIX)}
                except FileNotFoundError:
                    temps = set()
                writes += len(temps - seen)
                seen = temps
                if writes >= at_write and temps:
                    break
                time.sleep(0.0005)
            else:
                time.sleep(0.01)
        killed = proc.poll() is None
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    orphans = sorted(p.name for p in ckpts.glob(f"{TMP_PREFIX}*")) if ckpts.is_dir() else []
    return {"killed": killed, "at_s": round(time.monotonic() - start, 2), "mid_write": bool(orphans),
            "checkpoints_at_kill": sorted(p.name for p in ckpts.glob("*.ckpt")) if ckpts.is_dir() else [],
            "resumes_at": resume_place(ckpts / "last.ckpt", args.batches)}


def resume_place(last: Path, batches: int) -> str:
    """Where last.ckpt (if it reads) puts the resume: `mid-epoch` or `epoch end` (or `start`)."""
    try:
        step = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
    except Exception:  # absent or cut short: the resume takes an older one, or starts afresh
        return "start"
    return "mid-epoch" if step % batches else "epoch end"


def outcome(run_dir: Path) -> tuple[dict, list[dict], dict]:
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    with open(run_dir / "metrics.csv") as f:
        rows = [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in csv.DictReader(f)]
    summary = json.loads((run_dir / "summary.json").read_text())
    return state, rows, summary


def differences(a, b) -> list[str]:
    (wa, ra, sa), (wb, rb, sb) = a, b
    diff = [k for k in wa if k not in wb or not torch.equal(wa[k], wb[k])]
    if ra != rb:
        diff.append("metrics.csv")
    diff += [k for k in SUMMARY_KEYS if sa.get(k) != sb.get(k)]
    return diff


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="number of killed-and-resumed runs (default 20)")
    parser.add_argument("--epochs", type=int, default=3, help="trainer.max_epochs of every run (default 3)")
    parser.add_argument("--batches", type=int, default=4, help="trainer.limit_train_batches (default 4)")
    parser.add_argument("--every-n-steps", type=int, default=2,
                        help="callbacks.checkpoint.every_n_steps: last.ckpt within each epoch too (default 2)")
    parser.add_argument("--tmpdir", default="/dev/shm", help="$TMPDIR of the runs: another filesystem than --out (default /dev/shm)")
    parser.add_argument("--out", type=Path, default=REPO / "logs" / "fault_injection", help="where the runs go (default logs/fault_injection)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments (default 0)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds any one run may take (default 900)")
    args = parser.parse_args()

    out = args.out / time.strftime("%Y-%m-%d_%H-%M-%S")
    out.mkdir(parents=True)
    if os.stat(args.tmpdir).st_dev == os.stat(out).st_dev:
        print(f"note: --tmpdir {args.tmpdir} is on the same filesystem as {out}", file=sys.stderr)
    rng = random.Random(args.seed)
    print(f"reference: an uninterrupted run ({out / 'reference'})", flush=True)
    reference_s = run_to_end(out / "reference", args)
    reference = outcome(out / "reference")
    # per epoch: best-*.ckpt and last.ckpt at its end (debug=tiny keeps the best 1), and last.ckpt
    # after every `every_n_steps`-th step within it but its last (a kill after one resumes mid-epoch)
    writes_per_run = args.epochs * (2 + (args.batches - 1) // args.every_n_steps)
    print(f"reference took {reference_s:.1f} s; {writes_per_run} checkpoint writes", flush=True)

    identical, mid_write, killed, mid_epoch = 0, 0, 0, 0
    for i in range(args.kills):
        run_dir = out / f"trial{i:02d}"
        for _ in range(5):  # a run that ended before its kill moment (the load varies) is drawn again
            if i % 2:
                plan = {"at_s": round(rng.uniform(0.5, 0.9 * reference_s), 2), "at_write": None}
            else:
                plan = {"at_s": None, "at_write": rng.randint(1, writes_per_run)}
            if run_dir.exists():
                shutil.rmtree(run_dir)
            hit = run_and_kill(run_dir, args, **plan)
            if hit["killed"]:
                break
        killed += hit["killed"]
        run_to_end(run_dir, args)  # the same command again: resumes
        leftovers = sorted(p.name for p in (run_dir / "checkpoints").glob(f"{TMP_PREFIX}*"))
        diff = differences(outcome(run_dir), reference) + [f"leftover {n}" for n in leftovers]
        attempts = json.loads((run_dir / "summary.json").read_text()).get("attempts")
        identical += not diff
        mid_write += hit["mid_write"]
        mid_epoch += hit["resumes_at"] == "mid-epoch"
        when = f"at write {plan['at_write']}" if plan["at_write"] else f"at {plan['at_s']:.2f} s"
        print(f"trial {i:2d}: kill {when} → killed={hit['killed']} after {hit['at_s']:.2f} s, "
              f"mid-write={hit['mid_write']}, checkpoints then {hit['checkpoints_at_kill']} (last.ckpt: {hit['resumes_at']}), "
              f"attempts {attempts}: "
              + ("identical" if not diff else f"DIFFERENT {diff}"), flush=True)
    print(f"{killed} of {args.kills} runs killed, {mid_write} of them during a checkpoint write, {mid_epoch} resumed "
          "from a mid-epoch checkpoint; "
          f"TMPDIR={args.tmpdir}, logs in {out}")
    print(f"{identical}/{args.kills} identical")
    return 0 if identical == killed == args.kills else 1


if __name__ == "__main__":
    sys.exit(main())
