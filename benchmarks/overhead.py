"""What the platform costs on top of the arithmetic: our training as a user runs it (Lightning's
Trainer with our callbacks — run record, throughput, final-test hook, checkpoints —, torchmetrics,
CSV and offline W&B loggers, the progress bar) against a hand-written loop on the same module,
the same in-memory batches and the same seed (the method of Lightning's parity benchmark).
Alternated in one process; the losses of both must agree to 5 decimals.

    python benchmarks/overhead.py [--rounds 3] [--epochs 2] [--batches 20] [--no-append]

Two ratios: per step in steady state (within each epoch, its first batch's start to its last
batch's end: what the platform adds to every step — callbacks, metrics, logging, the progress
bar) and for the whole call (with setup, W&B's start and finish, checkpoint writes and the
other epoch-end work).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from common import ROOT, append_rows, git_sha, load, machine, today

from alexnet.hydra_setup import compose_config  # noqa: E402  (common puts src/ on the path)
from alexnet.loggers import build_loggers, finish_wandb  # noqa: E402
from alexnet.record import RunRecord  # noqa: E402
from alexnet.training import build_callbacks, build_module  # noqa: E402

SEED = 0


class StepClock(L.Callback):
    """Each training step's loss, and per epoch the time from its first batch's start to its
    last batch's end (the epoch-end work — checkpoint, records, validation — falls outside)."""

    def __init__(self):
        self.losses: list[float] = []
        self.steady = 0.0
        self.first = self.last = None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.first = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))
        self.last = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.steady += self.last - self.first


def config(batch: int):
    return compose_config(ROOT, f"data.batch_size={batch}", "logger.wandb.mode=offline")


def batches(n: int, batch: int, crop: int, classes: int) -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n * batch, 3, crop, crop, generator=g) * 50
    y = torch.randint(0, classes, (n * batch,), generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch)


def platform_run(cfg, loader, epochs: int, out: Path) -> tuple[float, float, list[float]]:
    """(whole seconds, steady-state seconds, losses) of a fit as train(cfg) builds it."""
    t0 = time.perf_counter()
    torch.manual_seed(SEED)
    module = build_module(cfg, num_classes=10)
    record, clock = RunRecord(out, {}), StepClock()
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_epochs=epochs, log_every_n_steps=cfg.trainer.log_every_n_steps,
        callbacks=[*build_callbacks(cfg, out, record), clock], default_root_dir=str(out),
        enable_model_summary=False, num_sanity_val_steps=0,
        logger=build_loggers(dict(cfg.logger), out, run_name=out.name, group=None, tags=[], config={}),
    )
    try:
        trainer.fit(module, train_dataloaders=loader)
    finally:
        finish_wandb()
    return time.perf_counter() - t0, clock.steady, clock.losses


def plain_run(cfg, loader, epochs: int) -> tuple[float, float, list[float]]:
    """The same steps by hand: forward, loss, backward, SGD step; nothing else."""
    t0 = time.perf_counter()
    torch.manual_seed(SEED)
    module = build_module(cfg, num_classes=10)
    optimizer = module.configure_optimizers()
    module.train()
    losses, steady = [], 0.0
    for _ in range(epochs):
        first = None
        for x, y in loader:
            first = first or time.perf_counter()
            optimizer.zero_grad()
            loss = module.loss(module(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        steady += time.perf_counter() - first
    return time.perf_counter() - t0, steady, losses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="alternations of platform and plain loop")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batches", type=int, default=20, help="training batches per epoch")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--no-append", action="store_true", help="print only; do not append to benchmarks/README.md")
    args = p.parse_args(argv)
    cfg = config(args.batch)
    loader = batches(args.batches, args.batch, cfg.data.crop_size, 10)
    before = load()
    whole = {"platform": [], "plain": []}
    steady = {"platform": [], "plain": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            w, s, ours = platform_run(cfg, loader, args.epochs, Path(tmp) / f"run{r}")
            whole["platform"].append(w), steady["platform"].append(s)
            w, s, plain = plain_run(cfg, loader, args.epochs)
            whole["plain"].append(w), steady["plain"].append(s)
            worst = max(abs(a - b) for a, b in zip(ours, plain, strict=True))
            if worst >= 5e-6:
                raise SystemExit(f"losses differ by {worst:.2e} (> 5 decimals): not the same computation")
    after = load()
    steps = args.epochs * args.batches
    step_ratio = statistics.median(steady["platform"]) / statistics.median(steady["plain"])
    whole_ratio = statistics.median(whole["platform"]) / statistics.median(whole["plain"])
    pairs = [a / b for a, b in zip(steady["platform"], steady["plain"], strict=True)]
    print(f"machine: {machine()}; load {before} → {after}")
    print(f"{steps} steps of batch {args.batch} (CIFAR preset, {cfg.data.crop_size} px), {args.rounds} rounds; "
          f"losses equal to 5 decimals (largest difference {worst:.1e})")
    print(f"per step, steady state: platform {1e3 * statistics.median(steady['platform']) / steps:.1f} ms, "
          f"plain {1e3 * statistics.median(steady['plain']) / steps:.1f} ms → {step_ratio:.3f}× "
          f"(rounds {min(pairs):.3f}–{max(pairs):.3f})")
    print(f"whole run (setup, W&B, checkpoints): platform {statistics.median(whole['platform']):.1f} s, "
          f"plain {statistics.median(whole['plain']):.1f} s → {whole_ratio:.3f}×")
    if not args.no_append:
        append_rows("Overhead: the platform against a plain loop (`overhead.py`)", [
            f"| {today()} | {steps} × batch {args.batch}, {args.rounds} rounds | "
            f"{1e3 * statistics.median(steady['platform']) / steps:.1f} | {1e3 * statistics.median(steady['plain']) / steps:.1f} | "
            f"{step_ratio:.3f}× ({min(pairs):.3f}–{max(pairs):.3f}) | {statistics.median(whole['platform']):.1f} / "
            f"{statistics.median(whole['plain']):.1f} s = {whole_ratio:.2f}× | {worst:.1e} | {machine()}; load {before} → {after}; {git_sha()} |"
        ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
