"""Images/s per core of decode + the paper's augmentation: this pipeline vs plain torchvision.

The same work in both: shorter side to the stored size, centre crop, per-pixel mean
subtraction, random crop, random flip, PCA lighting (text variant). Ours decodes once into the
uint8 cache (a one-time cost, reported apart) and then augments whole batches; torchvision's
ImageFolder + transforms.v2 decodes and augments image by image, every epoch. One thread each
(torch.set_num_threads(1), DataLoader num_workers=0), so images/s is images/s per core.

    python benchmarks/throughput.py --cifar /path/to/cifar10-jpg [--imagenet-images 3000]

Not a test: it takes minutes and its numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from alexnet.data.datamodule import AlexNetDataModule  # noqa: E402


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def synthetic_imagenet(folder: Path, count: int, classes: int = 10, seed: int = 0) -> Path:
    """Full-size JPEGs (500×375, natural-image-like: smooth colour fields plus grain, ~q90)."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", count), ("val", max(classes, count // 10))):
        for i in range(n):
            c = i % classes
            small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
            image = Image.fromarray(small).resize((500, 375), Image.BICUBIC)
            grain = rng.normal(0, 6, (375, 500, 3))
            pixels = np.clip(np.asarray(image, dtype=np.float64) + grain, 0, 255).astype(np.uint8)
            (folder / split / f"c{c}").mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(folder / split / f"c{c}" / f"{i:06d}.JPEG", quality=90)
    return folder


def ours(root: Path, cache_dir: Path, stored: int, crop: int, epochs: int, batch: int) -> dict:
    dm = AlexNetDataModule.from_config({"root": str(root), "stored_size": stored, "crop_size": crop,
                                        "batch_size": batch, "pca_lighting": "text", "cache_dir": str(cache_dir),
                                        "decode_workers": 1}, seed=0)
    start = time.perf_counter()
    dm.setup()
    build = time.perf_counter() - start
    built = len(dm.train_set) + len(dm.val_set)
    dm.trainer = SimpleNamespace(training=True, global_step=0)
    loader = dm.train_dataloader()
    images, start = 0, time.perf_counter()
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        for batch_ in loader:
            x, y = dm.on_after_batch_transfer(batch_, 0)
            dm.trainer.global_step += 1
            images += len(y)
    seconds = time.perf_counter() - start
    return {"images_per_s": images / seconds, "images": images, "seconds": seconds,
            "cache_build_s": build, "cache_build_images_per_s": built / build, "shape": tuple(x.shape[1:]),
            "mean_image": dm.stats["mean_image"], "pca": (dm.stats["pca_eigenvalues"], dm.stats["pca_eigenvectors"])}


def torchvision_baseline(root: Path, stored: int, crop: int, batch: int, mean_image, pca, max_images: int) -> dict:
    from torchvision import datasets
    from torchvision.transforms import v2

    values, vectors = (torch.as_tensor(a, dtype=torch.float32) for a in pca)
    scale, mean = values / 255.0, torch.as_tensor(mean_image)

    def lighting(x):
        alpha = torch.randn(3) * 0.1
        return x + (vectors @ (alpha * scale))[:, None, None]

    transform = v2.Compose([
        v2.Resize(stored),  # shorter side (PIL resize, antialiased)
        v2.CenterCrop(stored),
        v2.PILToTensor(),
        v2.ToDtype(torch.float32),
        v2.Lambda(lambda x: x - mean),  # per-pixel mean image
        v2.RandomCrop(crop),
        v2.RandomHorizontalFlip(),
        v2.Lambda(lighting),
    ])
    data = datasets.ImageFolder(str(root / "train"), transform=transform)
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, num_workers=0)
    images, start = 0, time.perf_counter()
    for x, y in loader:
        images += len(y)
        shape = tuple(x.shape[1:])
        if images >= max_images:
            break
    seconds = time.perf_counter() - start
    return {"images_per_s": images / seconds, "images": images, "seconds": seconds, "shape": shape}


def run(name: str, root: Path, tmp: Path, stored: int, crop: int, epochs: int, batch: int, max_baseline: int) -> dict:
    load_before = load()
    a = ours(root, tmp / f"cache-{name}", stored, crop, epochs, batch)
    b = torchvision_baseline(root, stored, crop, batch, a.pop("mean_image"), a.pop("pca"), max_baseline)
    return {"set": name, "stored": stored, "crop": crop, "ours": a, "torchvision": b,
            "speedup": a["images_per_s"] / b["images_per_s"], "load_before": load_before, "load_after": load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cifar", type=Path, required=True, help="CIFAR-10 as JPEG folders (train/<class>/*.jpg)")
    parser.add_argument("--imagenet-images", type=int, default=3000, help="synthetic 500×375 JPEGs to generate")
    parser.add_argument("--epochs", type=int, default=3, help="steady-state epochs of our pipeline")
    parser.add_argument("--baseline-images", type=int, default=20000, help="cap on torchvision's images per set")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="alexnet-bench-"))
    try:
        results = [run("CIFAR-10 (32×32 JPEG)", args.cifar, tmp, 32, 28, args.epochs, args.batch, args.baseline_images)]
        start = time.perf_counter()
        synthetic_imagenet(tmp / "imagenet", args.imagenet_images)
        print(f"generated {args.imagenet_images} synthetic JPEGs in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        results.append(run("ImageNet-size (500×375 JPEG)", tmp / "imagenet", tmp, 256, 227, args.epochs, args.batch,
                           args.baseline_images))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    machine = {"cpu": cpu_model(), "nproc": os.cpu_count(), "torch": torch.__version__,
               "python": platform.python_version(),
               "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()}
    print(f"machine: {machine}")
    print("| images | pipeline | images/s per core | one-time cache build | load (1/5/15 min) |")
    print("|---|---|---:|---:|---|")
    for r in results:
        o, t = r["ours"], r["torchvision"]
        print(f"| {r['set']} → {r['stored']}, crop {r['crop']} | ours (uint8 cache + batched augmentation) | "
              f"{o['images_per_s']:,.0f} | {o['cache_build_s']:.1f} s ({o['cache_build_images_per_s']:,.0f} img/s) | "
              f"{r['load_before']} → {r['load_after']} |")
        print(f"| | torchvision ImageFolder + transforms.v2 | {t['images_per_s']:,.0f} | — (decodes every epoch) | |")
        print(f"| | **speed-up** | **{r['speedup']:.1f}×** | | |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=2, default=str))


if __name__ == "__main__":
    main()
