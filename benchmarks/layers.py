"""Our LRN against `nn.LocalResponseNorm` (forward + backward), and what it does to a whole
training step: the CIFAR preset with LRN on vs off; the grouped (two-column) convolutions
against ungrouped ones of the same widths; the locally connected layer against a convolution. Alternated in one process, best and median
of repeats; prints a table and appends a dated row per case to benchmarks/README.md.

    python benchmarks/layers.py [--repeats 7] [--batch 128] [--no-append]

Not a test: its numbers depend on the machine and its load (both are printed and recorded).
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from common import alternate, append_rows, git_sha, load, machine, today
from torch import nn

from alexnet.layers import LocallyConnected2d, local_response_norm  # noqa: E402  (common puts src/ on the path)
from alexnet.model import AlexNet, AlexNetConfig  # noqa: E402

# (where, channels, map size): conv1/conv2 outputs of the CIFAR preset (width 0.5, 28 px) and
# of the paper's net at 227 px
SHAPES = (("CIFAR preset conv1", 48, 28), ("CIFAR preset conv2", 128, 14),
          ("paper net conv1", 96, 55), ("paper net conv2", 256, 27))
# (where, in channels, out channels, kernel, map size) of the grouped layers (conv2, conv4,
# conv5): the paper's net at 227 px and the CIFAR preset (width 0.5, 28 px)
GROUPED = (("paper conv2", 96, 256, 5, 27), ("paper conv4", 384, 384, 3, 13), ("paper conv5", 384, 256, 3, 13),
           ("CIFAR preset conv2", 48, 128, 5, 14), ("CIFAR preset conv4", 192, 192, 3, 7),
           ("CIFAR preset conv5", 192, 128, 3, 7))


def lrn_cases(batch: int, repeats: int) -> list[tuple[str, float, float, float]]:
    """(case, baseline s, ours s, median ratio): nn.LocalResponseNorm vs ours, forward + backward."""
    rows = []
    ours = local_response_norm("code")
    theirs = nn.LocalResponseNorm(ours.size, ours.alpha, ours.beta, ours.k)
    for where, channels, size in SHAPES:
        b = batch if channels * size * size * batch < 4e7 else 32
        x = (torch.rand(b, channels, size, size) * 30).requires_grad_()
        g = torch.randn_like(x)
        t = alternate({"theirs": lambda layer=theirs, x=x, g=g: layer(x).backward(g),
                       "ours": lambda layer=ours, x=x, g=g: layer(x).backward(g)}, repeats)
        rows.append((f"LRN fwd+bwd, {where} ({b}×{channels}×{size}×{size})", min(t["theirs"]), min(t["ours"]),
                     statistics.median(t["theirs"]) / statistics.median(t["ours"])))
    return rows


def grouped_cases(batch: int, repeats: int) -> list[tuple[str, float, float, float]]:
    """(case, ungrouped s, grouped s, median ratio): a two-column (groups=2) conv against one
    ungrouped conv of the same in/out widths (twice the FLOPs), forward + backward. A ratio
    near 2 means the grouped kernel runs at full speed; near 1, it wastes its half."""
    rows = []
    for where, cin, cout, k, size in GROUPED:
        b = batch if cin * size * size * batch < 4e7 else 32
        x = torch.randn(b, cin, size, size, requires_grad=True)
        convs = {g: nn.Conv2d(cin, cout, k, padding=k // 2, groups=g) for g in (1, 2)}
        g_out = torch.randn(b, cout, size, size)
        t = alternate({g: lambda c=c, x=x, g_out=g_out: c(x).backward(g_out) for g, c in convs.items()}, repeats)
        rows.append((f"conv fwd+bwd, {where} ({b}×{cin}→{cout}, {k}×{k}, {size}²): groups=1 vs 2", min(t[1]),
                     min(t[2]), statistics.median(t[1]) / statistics.median(t[2])))
    return rows


# (where, in channels, out channels, map size): the locally connected layers of model=convnet4
# at 24-px crops (3×3, padding 1)
LOCAL = (("convnet4 local3", 64, 64, 6), ("convnet4 local4", 64, 32, 6))


def local_cases(batch: int, repeats: int) -> list[tuple[str, float, float, float]]:
    """(case, conv s, local s, median ratio): our locally connected layer against a shared-weight
    convolution of the same shapes (the same FLOPs), forward + backward. PyTorch has no local
    layer; a ratio near 1 means it costs what a convolution costs."""
    rows = []
    for where, cin, cout, size in LOCAL:
        x = torch.randn(batch, cin, size, size, requires_grad=True)
        layers = {"conv": nn.Conv2d(cin, cout, 3, padding=1), "local": LocallyConnected2d(cin, cout, size, 3, padding=1)}
        g_out = torch.randn(batch, cout, size, size)
        t = alternate({k: lambda m=m, x=x, g_out=g_out: m(x).backward(g_out) for k, m in layers.items()}, repeats)
        rows.append((f"locally connected fwd+bwd, {where} ({batch}×{cin}→{cout}, 3×3, {size}²): conv vs local",
                     min(t["conv"]), min(t["local"]), statistics.median(t["conv"]) / statistics.median(t["local"])))
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

    t = alternate({"off": make(False), "on": make(True)}, repeats)
    return (f"CIFAR preset training step, batch {batch}: LRN off (first) vs on (second)", min(t["off"]),
            min(t["on"]), statistics.median(t["on"]) / statistics.median(t["off"]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--no-append", action="store_true", help="print only; do not append to benchmarks/README.md")
    args = p.parse_args(argv)
    before = load()
    rows = lrn_cases(args.batch, args.repeats) + grouped_cases(args.batch, args.repeats) + local_cases(args.batch, args.repeats)
    rows.append(step_case(args.batch, args.repeats))
    after = load()
    print(f"machine: {machine()}; load {before} → {after}")
    print(f"{'case':<86} {'baseline ms':>12} {'ours ms':>9} {'ratio':>6}")
    for name, base, ours, ratio in rows:
        print(f"{name:<86} {1e3 * base:>12.1f} {1e3 * ours:>9.1f} {ratio:>6.2f}")
    if not args.no_append:
        append_rows("Layers: our LRN vs `nn.LocalResponseNorm`, grouped vs ungrouped convs, a training step with LRN on vs off (`layers.py`)", [
            f"| {today()} | {name} | {1e3 * base:.1f} | {1e3 * ours:.1f} | {ratio:.2f}× | {machine()}; load {before} → {after}; {git_sha()} |"
            for name, base, ours, ratio in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
