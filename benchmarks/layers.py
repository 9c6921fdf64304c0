"""Our LRN against `nn.LocalResponseNorm` (forward + backward), and what it does to a whole
training step: the CIFAR preset with LRN on vs off. Alternated in one process, best and median
of repeats; prints a table and appends a dated row per case to benchmarks/README.md.

    python benchmarks/layers.py [--repeats 7] [--batch 128] [--no-append]

Not a test: its numbers depend on the machine and its load (both are printed and recorded).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from alexnet.layers import local_response_norm  # noqa: E402
from alexnet.model import AlexNet, AlexNetConfig  # noqa: E402

# (where, channels, map size): conv1/conv2 outputs of the CIFAR preset (width 0.5, 28 px) and
# of the paper's net at 227 px
SHAPES = (("CIFAR preset conv1", 48, 28), ("CIFAR preset conv2", 128, 14),
          ("paper net conv1", 96, 55), ("paper net conv2", 256, 27))


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("flags")), [])
    extras = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{cpu}, {os.cpu_count()} cores, {'+'.join(extras) or 'no AVX2'}, torch {torch.__version__}, {torch.get_num_threads()} threads"


def timed(fn, repeats: int, others) -> list[float]:
    out = []
    for _ in range(repeats):
        for other in others:  # alternate with the other contenders: same load for each
            other()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def lrn_cases(batch: int, repeats: int) -> list[tuple[str, float, float, float]]:
    rows = []
    ours = local_response_norm("code")
    theirs = nn.LocalResponseNorm(ours.size, ours.alpha, ours.beta, ours.k)
    for where, channels, size in SHAPES:
        b = batch if channels * size * size * batch < 4e7 else 32
        x = (torch.rand(b, channels, size, size) * 30).requires_grad_()
        g = torch.randn_like(x)

        def step(layer, x=x, g=g):
            return lambda: layer(x).backward(g)

        a, c = step(ours), step(theirs)
        a(), c()  # warm up
        t_ours, t_theirs = [], []
        for _ in range(repeats):
            t_theirs += timed(c, 1, [])
            t_ours += timed(a, 1, [])
        rows.append((f"LRN fwd+bwd, {where} ({b}×{channels}×{size}×{size})", min(t_theirs), min(t_ours),
                     statistics.median(t_theirs) / statistics.median(t_ours)))
    return rows


def step_case(batch: int, repeats: int) -> tuple[str, float, float, float]:
    """One SGD step of the CIFAR preset, LRN on (ours) vs off: what LRN still costs."""
    def make(lrn: bool):
        torch.manual_seed(0)
        net = AlexNet(AlexNetConfig(stem="cifar", width=0.5, input_size=28, lrn=lrn, num_classes=10))
        opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
        x, y = torch.randn(batch, 3, 28, 28) * 50, torch.randint(0, 10, (batch,))

        def step():
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        return step

    on, off = make(True), make(False)
    on(), off()
    t_on, t_off = [], []
    for _ in range(repeats):
        t_off += timed(off, 1, [])
        t_on += timed(on, 1, [])
    return (f"CIFAR preset training step, batch {batch}: LRN off (first) vs on (second)", min(t_off), min(t_on),
            statistics.median(t_on) / statistics.median(t_off))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--no-append", action="store_true", help="print only; do not append to benchmarks/README.md")
    args = p.parse_args(argv)
    before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = lrn_cases(args.batch, args.repeats) + [step_case(args.batch, args.repeats)]
    after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {machine()}; load {before} → {after}")
    print(f"{'case':<78} {'baseline ms':>12} {'ours ms':>9} {'ratio':>6}")
    for name, base, ours, ratio in rows:
        print(f"{name:<78} {1e3 * base:>12.1f} {1e3 * ours:>9.1f} {ratio:>6.2f}")
    if not args.no_append:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        today = datetime.date.today().isoformat()
        lines = [f"| {today} | {name} | {1e3 * base:.1f} | {1e3 * ours:.1f} | {ratio:.2f}× | {machine()}; load {before} → {after}; {sha} |"
                 for name, base, ours, ratio in rows]
        with open(ROOT / "benchmarks" / "README.md", "a") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
