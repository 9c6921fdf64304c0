"""The baseline of `end_to_end.py`: the same net trained the way a plain PyTorch + torchvision
script would — `ImageFolder` + `transforms.v2` decoding and augmenting every image every epoch
in DataLoader workers, a hand-written loop — then scored once on the test folder.

    python benchmarks/plain_torchvision.py --root DIR [--epochs 1] [--workers 2]

Same work per image as `src/train.py data=cifar10`: random 28-px crops of the 32-px images,
horizontal flips, PCA colour noise (α ~ N(0, 0.1)), mean-subtracted 0–255 input, the CIFAR
AlexNet at width 0.5 with the paper recipe's init and SGD. Differences, each in the baseline's
favour: a per-channel mean instead of the per-pixel mean image, and the original code's
ImageNet PCA instead of one computed from the data (both need a pass over the data first).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torchvision import datasets
from torchvision.transforms import v2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from alexnet import paper  # noqa: E402
from alexnet.module import build_net  # noqa: E402

CHANNEL_MEAN_255 = (125.3, 123.0, 113.9)  # CIFAR-10's training set, per channel


class PCANoise(nn.Module):
    """§4.1: add P·(α∘s) to every pixel, α ~ N(0, 0.1) once per image (0–255 scale, the
    original code's ImageNet eigenvectors and standard deviations)."""

    def __init__(self):
        super().__init__()
        self.vecs = torch.tensor(paper.IMAGENET_PCA_EIGVECS)
        self.stds = torch.tensor(paper.IMAGENET_PCA_STDEVS_255)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.randn(3) * paper.PCA_ALPHA_STD
        return x + (self.vecs @ (alpha * self.stds))[:, None, None]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", required=True, help="ImageFolder root with train/ and test/")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--crop", type=int, default=28)
    p.add_argument("--width", type=float, default=0.5)
    args = p.parse_args(argv)
    torch.manual_seed(0)
    mean = torch.tensor(CHANNEL_MEAN_255)[:, None, None]
    train_tf = v2.Compose([v2.PILToTensor(), v2.RandomCrop(args.crop), v2.RandomHorizontalFlip(),
                           v2.ToDtype(torch.float32), v2.Lambda(lambda x: x - mean), PCANoise()])
    test_tf = v2.Compose([v2.PILToTensor(), v2.CenterCrop(args.crop), v2.ToDtype(torch.float32),
                          v2.Lambda(lambda x: x - mean)])
    root = Path(args.root)
    train = datasets.ImageFolder(root / "train", transform=train_tf)
    test = datasets.ImageFolder(root / "test", transform=test_tf)
    loader = torch.utils.data.DataLoader(train, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                         persistent_workers=args.workers > 0)
    net = build_net(dict(stem="cifar", width=args.width, input_size=args.crop, num_classes=len(train.classes)),
                    "code_fan_in", seed=0)
    opt = torch.optim.SGD(net.parameters(), lr=0.003, momentum=paper.MOMENTUM, weight_decay=paper.WEIGHT_DECAY)
    t0 = time.perf_counter()
    seen = 0
    for _ in range(args.epochs):
        net.train()
        for x, y in loader:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            seen += len(y)
    train_s = time.perf_counter() - t0
    net.eval()
    right = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(test, batch_size=256, num_workers=args.workers):
            right += (net(x).argmax(1) == y).sum().item()
    print(f"trained {seen} images in {train_s:.1f} s ({seen / train_s:.0f} img/s); "
          f"test top-1 error {100 * (1 - right / len(test)):.2f} % on {len(test)}; total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
