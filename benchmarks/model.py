"""How close a training step comes to this machine's peak: images/s and achieved FLOP/s of the
CIFAR preset(s) and the paper's net, as a share of the fp32 and bf16 matmul peaks measured in
the same run; what channels-last, bf16 autocast and torch.compile add (alternated in one process, median of
repeats, spread as the range of per-repeat ratios); and where one fp32 step spends its time.

    python benchmarks/model.py [--repeats 5] [--nets cifar,small,paper] [--no-compile] [--no-append]

Not a test: its numbers depend on the machine and its load (both are printed and recorded).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time

import torch
from common import alternate, append_rows, git_sha, load, machine, ratio, today
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from alexnet.model import AlexNet, AlexNetConfig  # noqa: E402  (common puts src/ on the path)

# name → (model config, crop, batch): the presets the studies train, and the paper's net.
NETS = {
    "cifar": (dict(stem="cifar", width=0.5, num_classes=10), 28, 128),     # model=alexnet_cifar
    "small": (dict(stem="cifar", width=0.25, num_classes=10), 24, 128),    # a CPU-study candidate
    "paper": (dict(num_classes=1000), 227, 64),                           # model=alexnet, 227 px
}


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 10, budget_s: float = 5.0) -> float:
    """The best GFLOP/s of an n×n matmul in `dtype`: what this CPU's BLAS can reach. A CPU
    without bf16 units emulates it ~50× slower than fp32: a small matrix then says so in seconds."""
    a, b = torch.randn(256, 256).to(dtype), torch.randn(256, 256).to(dtype)
    torch.mm(a, b)  # the first call pays the BLAS's start-up: timed, it made fp32 look emulated
    probe = min(_seconds(lambda: torch.mm(a, b)) for _ in range(3))
    if 2 * 256**3 / probe * budget_s < 2 * n**3:
        n = 256  # one n-sized call would not fit the budget
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def pct(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.0f} %"


def _seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def make_step(kwargs: dict, crop: int, batch: int, bf16: bool = False, compiled: bool = False,
              channels_last: bool = False):
    """One SGD step (forward, loss, backward, update) of a fresh net on a fixed batch."""
    torch.manual_seed(0)
    net = AlexNet(AlexNetConfig(input_size=crop, **kwargs))
    x, y = torch.randn(batch, 3, crop, crop) * 50, torch.randint(0, kwargs["num_classes"], (batch,))
    if channels_last:  # NHWC: oneDNN's native layout for convolutions and pooling
        net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)
    forward = torch.compile(net) if compiled else net
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = nn.functional.cross_entropy(forward(x), y)
        loss.backward()
        opt.step()
    return step, net, x, y


def step_flops(kwargs: dict, crop: int, batch: int) -> int:
    """FLOPs of one forward + backward, as PyTorch's FlopCounterMode counts them (convs and
    matmuls; the elementwise ops are not counted)."""
    step, *_ = make_step(kwargs, crop, batch)
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def profile_table(step, top: int = 12) -> list[tuple[str, float, float]]:
    """(op, self CPU ms per step, share of the step) for the ops that cost most."""
    steps = 3
    step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [(e.key, e.self_cpu_time_total / 1e3 / steps, e.self_cpu_time_total / total) for e in events[:top]]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--nets", default="cifar,small,paper", help=f"comma-separated, of {list(NETS)}")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile (its first call compiles: minutes)")
    p.add_argument("--no-append", action="store_true", help="print only; do not append to benchmarks/README.md")
    args = p.parse_args(argv)
    nets = args.nets.split(",")
    unknown = [n for n in nets if n not in NETS]
    if unknown:
        p.error(f"--nets: {unknown} not among {list(NETS)}")

    before = load()
    peak32, peak16 = matmul_peak(torch.float32), matmul_peak(torch.bfloat16)
    print(f"machine: {machine()}\nmatmul peak: fp32 {peak32:.0f} GFLOP/s, bf16 {peak16:.1f} GFLOP/s")
    # bf16 autocast pays only where the CPU has bf16 units (AVX512-BF16, AMX); elsewhere every
    # bf16 op is emulated, far slower than fp32, and a step would take minutes
    bf16_units = peak16 >= peak32
    if not bf16_units:
        print(f"bf16 autocast not timed: bf16 matmul runs at {peak16:.1f} GFLOP/s here, {peak32 / peak16:.0f}× slower "
              "than fp32 (no bf16 units on this CPU)")
    rows, profiles = [], {}
    for name in nets:
        kwargs, crop, batch = NETS[name]
        flops = step_flops(kwargs, crop, batch)
        variants = {"fp32": make_step(kwargs, crop, batch)[0],
                    "fp32 channels-last": make_step(kwargs, crop, batch, channels_last=True)[0]}
        if bf16_units:
            variants["bf16 autocast"] = make_step(kwargs, crop, batch, bf16=True)[0]
        compile_s = None
        if not args.no_compile:
            compiled = make_step(kwargs, crop, batch, compiled=True)[0]
            compile_s = _seconds(compiled)  # the first call compiles (cold unless cached)
            variants["fp32 compiled"] = compiled
        times = alternate(variants, args.repeats)
        fp32 = times["fp32"]
        for variant, t in times.items():
            med = statistics.median(t)
            r, lo, hi = ratio(fp32, t)
            gflops = flops / med / 1e9
            rows.append((name, crop, batch, variant, med, batch / med, gflops, gflops / peak32, gflops / peak16 if bf16_units else None,
                         (r, lo, hi), compile_s if variant == "fp32 compiled" else None))
        profiles[name] = profile_table(variants["fp32"])
    after = load()

    print(f"load {before} → {after}")
    head = f"{'net':<6} {'crop':>4} {'batch':>5} {'variant':<18} {'ms/step':>8} {'img/s':>7} {'GFLOP/s':>8} {'%fp32pk':>7} {'%bf16pk':>7} {'× fp32 (range)':>18}"
    print(head)
    for name, crop, batch, variant, med, ips, gf, f32, f16, (r, lo, hi), cs in rows:
        extra = f"  (compile {cs:.0f} s)" if cs is not None else ""
        print(f"{name:<6} {crop:>4} {batch:>5} {variant:<18} {1e3 * med:>8.1f} {ips:>7.0f} {gf:>8.1f} {100 * f32:>6.0f}% {pct(f16):>7} "
              f"{r:>6.2f} ({lo:.2f}–{hi:.2f}){extra}")
    for name, table in profiles.items():
        print(f"\nwhere one fp32 step of '{name}' goes (self CPU time):")
        for op, ms, share in table:
            print(f"  {op:<45} {ms:>8.1f} ms  {100 * share:>5.1f} %")

    if not args.no_append:
        where = f"{machine()}; fp32 peak {peak32:.0f}, bf16 peak {peak16:.1f} GFLOP/s; load {before} → {after}; {git_sha()}"
        append_rows("Model: share of the machine's peak (`model.py`)", [
            f"| {today()} | {name} ({crop} px, batch {batch}) | {variant} | {1e3 * med:.1f} | {ips:.0f} | {gf:.1f} | "
            f"{100 * f32:.0f} % | {pct(f16)} | {r:.2f}× ({lo:.2f}–{hi:.2f}){'' if cs is None else f'; compile {cs:.0f} s'} | {where} |"
            for name, crop, batch, variant, med, ips, gf, f32, f16, (r, lo, hi), cs in rows
        ])
        append_rows("Model: where an fp32 step goes (`model.py`)", [
            f"| {today()} | {name} | " + "; ".join(f"{op} {100 * share:.0f} %" for op, _, share in table[:8])
            + f" | {git_sha()} |" for name, table in profiles.items()
        ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
