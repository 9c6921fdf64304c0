"""The training augmentation's two cuts on this CPU: per-image slices (what `train_batch` does on
a CPU) against the batched gather (what it does on an accelerator), at CIFAR and ImageNet size,
alternated; `--against REV` times that git revision's CPU path beside today's as well.

    python benchmarks/augment.py [--repeats 30] [--against 559bfea] [--append]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import tempfile

import numpy as np
import torch
from common import ROOT, alternate, append_rows, git_sha, load, machine, ratio, today

from alexnet.data import lighting, transforms

SIZES = {"CIFAR (32 → 24)": (32, 24), "ImageNet (256 → 224)": (256, 224)}


def transforms_at(rev: str):
    """src/alexnet/data/transforms.py as it was at git revision `rev`, imported as a module."""
    source = subprocess.run(["git", "show", f"{rev}:src/alexnet/data/transforms.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location(f"transforms_{rev}", f.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cut(module, images, norm, crop, light, gather):
    """One call of `module.train_batch` on these images, as a timed contender."""
    return lambda: module.train_batch(images, norm, crop, torch.Generator(), lighting=light, gather=gather)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--against", help="a git revision whose CPU path to time beside today's, e.g. 559bfea")
    parser.add_argument("--append", action="store_true", help="add the rows to benchmarks/README.md")
    args = parser.parse_args()
    older = transforms_at(args.against) if args.against else None
    rng = np.random.default_rng(0)
    vectors = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    light = lighting.PCALighting([900.0, 100, 10], vectors, "text")
    before, rows = load(), []
    for name, (size, crop) in SIZES.items():
        images = torch.from_numpy(rng.integers(0, 256, (args.batch, 3, size, size), dtype=np.uint8))
        stats = (rng.random((3, size, size)) * 255, [120.0, 115, 100], [60.0, 60, 60])
        norm = transforms.Normalize(*stats)
        contenders = {"slices": cut(transforms, images, norm, crop, light, False),
                      "gather": cut(transforms, images, norm, crop, light, True)}
        if older is not None:
            contenders["older slices"] = cut(older, images, older.Normalize(*stats), crop, light, False)
        repeats = args.repeats if size <= 64 else max(3, args.repeats // 6)
        times = alternate(contenders, repeats)
        ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
        speedup, lo, hi = ratio(times["gather"], times["slices"])
        line = (f"{name}: slices {ms['slices']:.2f} ms, gather {ms['gather']:.2f} ms a batch of {args.batch}: "
                f"slices {speedup:.2f}× faster ({lo:.2f}–{hi:.2f})")
        cells = [today(), name, f"{ms['slices']:.2f}", f"{ms['gather']:.2f}", f"{speedup:.2f}× ({lo:.2f}–{hi:.2f})"]
        if older is not None:
            vs, vlo, vhi = ratio(times["slices"], times["older slices"])
            line += f"; today's slices / the older's: {vs:.2f} ({vlo:.2f}–{vhi:.2f})"
            cells.append(f"{vs:.2f} ({vlo:.2f}–{vhi:.2f}) vs {args.against}")
        else:
            cells.append("-")
        print(line)
        rows.append("| " + " | ".join([*cells, f"{machine()}; load {before} → {load()}; {git_sha()}"]) + " |")
    if args.append:
        append_rows("Augmentation: the CPU's per-image slices against the batched gather (`augment.py`)", rows)


if __name__ == "__main__":
    main()
