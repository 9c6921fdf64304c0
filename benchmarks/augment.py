"""The training augmentation's two cuts on this CPU: per-image slices (what `train_batch` does on
a CPU) against the batched gather (what it does on an accelerator), at CIFAR and ImageNet size,
alternated; `--against FILE` times an older transforms.py's CPU path beside today's as well.

    python benchmarks/augment.py [--repeats 30] [--against /tmp/old_transforms.py] [--append]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics

import numpy as np
import torch
from common import alternate, append_rows, git_sha, load, machine, ratio, today

from alexnet.data import lighting, transforms

SIZES = {"CIFAR (32 → 24)": (32, 24), "ImageNet (256 → 224)": (256, 224)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--against", help="an older alexnet/data/transforms.py to time beside today's")
    parser.add_argument("--append", action="store_true", help="add the rows to benchmarks/README.md")
    args = parser.parse_args()
    older = None
    if args.against:
        spec = importlib.util.spec_from_file_location("older_transforms", args.against)
        older = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(older)
    rng = np.random.default_rng(0)
    vectors = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    light = lighting.PCALighting([900.0, 100, 10], vectors, "text")
    before, rows = load(), []
    for name, (size, crop) in SIZES.items():
        images = torch.from_numpy(rng.integers(0, 256, (args.batch, 3, size, size), dtype=np.uint8))
        stats = (rng.random((3, size, size)) * 255, [120.0, 115, 100], [60.0, 60, 60])
        norm = transforms.Normalize(*stats)
        def cut(module, norm, gather, images=images, crop=crop):
            return lambda: module.train_batch(images, norm, crop, torch.Generator(), lighting=light, gather=gather)

        contenders = {"slices": cut(transforms, norm, False), "gather": cut(transforms, norm, True)}
        if older is not None:
            contenders["older slices"] = cut(older, older.Normalize(*stats), False)
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
