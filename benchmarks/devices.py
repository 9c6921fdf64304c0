"""One device or two, four ways, on this machine's CPU cores: the time of a training step and
the bytes each process sends per step, for the same net and the same global batch.

    python benchmarks/devices.py [--rounds 3] [--steps 12] [--batch 128] [--no-append]

    one      one process, all threads: the two columns as grouped convolutions (the default)
    ddp      two processes, half the threads each, data parallel (`trainer=ddp`): each takes half
             the batch; every gradient is all-reduced once per step
    columns  two processes, half the threads each, one column each (`trainer=columns`): both take
             the whole batch; activations go into conv3, fc6, fc7 and fc8, gradients come back;
             with LRN across all maps (the default) conv1's and conv2's maps too
    columns_lrn_per_column   the same with the original code's per-column LRN

The net is the CIFAR preset's (`preset=cifar_cpu`: alexnet_cifar at width 0.25, 24-px crops) on
in-memory batches, trained by Lightning with the platform's module. Each mode runs in its own
subprocess (Lightning starts rank 1 by re-running it), the modes in turn, `--rounds` times.
Bytes are what one process sends, counted at the collectives during the measured steps: DDP's
gradient buckets through a communication hook, the columns' gathers, reduce-scatters and fc8's
all-reduce by wrapping them (an all-gather sends the process's own part; a reduce-scatter the
other process's part; an all-reduce of n bytes between two processes n bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from common import ROOT, append_rows, git_sha, load, machine, today
from torch.utils.data import DataLoader, TensorDataset

from alexnet.hydra_setup import compose_config  # noqa: E402
from alexnet.module import AlexNetModule  # noqa: E402
from alexnet.training import recipe_arguments  # noqa: E402  (common puts src/ on the path)

# mode: (processes, trainer.strategy, model.lrn_per_column)
MODES = {"one": (1, "auto", False), "ddp": (2, "ddp", False), "columns": (2, "columns", False),
         "columns_lrn_per_column": (2, "columns", True)}
EXCHANGES = {
    "one": "nothing",
    "ddp": "every gradient (all-reduce)",
    "columns": "conv2's maps into conv3, conv5's into fc6, fc6's into fc7 (gathers; their gradients back), "
               "fc8's partial logits (all-reduce), and conv1's and conv2's maps for the LRN across all maps "
               "(the default, model.lrn_per_column=false)",
    "columns_lrn_per_column": "the same without the LRN's gathers: each column's LRN sees its own maps, as the "
                              "original code ran (model.lrn_per_column=true)",
}
WARMUP = 3


class StepClock(L.Callback):
    """Seconds and bytes sent of each training step after the warm-up."""

    def __init__(self, sent: list[int]):
        self.sent, self.steps = sent, []

    def on_train_start(self, trainer, pl_module):
        """Under DDP, count the gradient buckets (Lightning registers a `ddp_comm_hook` on GPUs only)."""
        ddp = trainer.strategy.model
        if isinstance(ddp, torch.nn.parallel.DistributedDataParallel):
            from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

            def hook(state, bucket):
                self.sent[0] += bucket.buffer().numel() * bucket.buffer().element_size()
                return default_hooks.allreduce_hook(None, bucket)

            ddp.register_comm_hook(None, hook)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.start, self.sent_before = time.perf_counter(), self.sent[0]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step > WARMUP:
            self.steps.append((time.perf_counter() - self.start, self.sent[0] - self.sent_before))


def count_sends(sent: list[int]) -> None:
    """Wrap the collectives the columns call (the names `alexnet.columns` calls them by) so each
    adds what this process sends."""
    from alexnet import columns

    def counting(fn, part):
        def wrapped(*args, **kwargs):
            sent[0] += part(*args)
            return fn(*args, **kwargs)
        return wrapped

    nbytes = lambda t: t.numel() * t.element_size()  # noqa: E731
    columns._all_gather = counting(columns._all_gather, lambda out, inp, *a: nbytes(inp))
    columns._reduce_scatter = counting(columns._reduce_scatter, lambda out, inp, *a: nbytes(out))
    columns.dist.all_reduce = counting(columns.dist.all_reduce, lambda t, *a: nbytes(t))


def worker(mode: str, out: Path, steps: int, batch: int) -> None:
    processes, strategy, lrn_per_column = MODES[mode]
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // processes))
    sent = [0]
    clock = StepClock(sent)
    if strategy == "columns":
        count_sends(sent)
    trainer = L.Trainer(accelerator="cpu", devices=processes, strategy=strategy, max_steps=WARMUP + steps,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
                        use_distributed_sampler=False, callbacks=[clock])
    g = torch.Generator().manual_seed(0)
    n = batch * (WARMUP + steps)
    images, labels = torch.randn(n, 3, 24, 24, generator=g), torch.randint(0, 10, (n,), generator=g)
    rank = int(os.environ.get("LOCAL_RANK", 0))
    shard = slice(rank, None, processes) if mode == "ddp" else slice(None)  # ddp: half the batch each
    loader = DataLoader(TensorDataset(images[shard], labels[shard]), batch_size=batch // (processes if mode == "ddp" else 1))
    module = AlexNetModule(model={"stem": "cifar", "width": 0.25, "input_size": 24, "num_classes": 10,
                                  "lrn_per_column": lrn_per_column},
                           **recipe_arguments(compose_config(ROOT).recipe), seed=0)
    trainer.fit(module, train_dataloaders=loader)
    if trainer.global_rank == 0:
        out.write_text(json.dumps({"step_s": [s for s, _ in clock.steps], "sent": [b for _, b in clock.steps],
                                   "threads": torch.get_num_threads()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=12, help="measured steps per run, after 3 warm-up steps")
    parser.add_argument("--batch", type=int, default=128, help="the global batch (ddp: half per process)")
    parser.add_argument("--no-append", action="store_true", help="print the table only")
    parser.add_argument("--worker", choices=list(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.out, args.steps, args.batch)

    before = load()
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for mode in MODES:
                out = Path(tmp) / f"{mode}-{r}.json"
                command = [sys.executable, __file__, "--worker", mode, "--out", str(out), "--steps", str(args.steps),
                           "--batch", str(args.batch)]
                subprocess.run(command, check=True, capture_output=True, cwd=tmp,
                               env=os.environ | {"WANDB_MODE": "disabled"})
                runs[mode].append(json.loads(out.read_text()))
    after = load()

    base = [statistics.median(run["step_s"]) for run in runs["one"]]
    header = "| mode | processes × threads | s/step (median; rounds' min–max) | images/s | one ÷ mode (min–max) | MB sent per process per step | exchanged |"
    print(header + "\n|---|---|---:|---:|---:|---:|---|")
    rows = []
    for mode, mode_runs in runs.items():
        medians = [statistics.median(run["step_s"]) for run in mode_runs]
        ratios = [b / m for b, m in zip(base, medians, strict=True)]
        sent = statistics.median(b for run in mode_runs for b in run["sent"]) / 1e6
        m = statistics.median(medians)
        row = (f"| {mode} | {MODES[mode][0]} × {mode_runs[0]['threads']} | {m:.3f} ({min(medians):.3f}–{max(medians):.3f}) "
               f"| {args.batch / m:.0f} | {statistics.median(base) / m:.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) "
               f"| {sent:.2f} | {EXCHANGES[mode]} |")
        print(row)
        rows.append(f"| {today()} | {row[2:]} {machine()}; batch {args.batch}, {args.steps} steps × {args.rounds} rounds; "
                    f"load {before} → {after}; {git_sha()} |")
    if not args.no_append:
        append_rows("Devices: one process, data parallel, one column per process (`devices.py`)", rows)


if __name__ == "__main__":
    main()
