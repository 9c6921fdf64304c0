"""Activation statistics at init: how much of each layer's output depends on the image.

    python experiments/recipe-init/init_stats.py /path/to/cifar10-jpg

Prints, per init and net, "layer:mean/across-image std" after every ReLU (and the logits),
on 256 CIFAR-10 training images with the paper's 0-255 mean-subtracted input (eval mode).
"""

import sys

import torch

from alexnet.data.datamodule import AlexNetDataModule
from alexnet.init import initialize
from alexnet.model import AlexNet

NETS = [("paper", 1.0, "imagenet", 227), ("code", 1.0, "imagenet", 227),
        ("paper", 0.5, "cifar", 28), ("code", 0.5, "cifar", 28),
        ("code_fan_in", 0.5, "cifar", 28), ("code_fan_in", 1.0, "cifar", 28)]


def main(root: str) -> None:
    dm = AlexNetDataModule(source="cifar10", root=root, stored_size=32, crop_size=28)
    dm.setup()
    x = dm.normalize(torch.from_numpy(dm.train_set.images[:256].copy()))[..., 2:30, 2:30]
    for scheme, width, stem, size in NETS:
        torch.manual_seed(0)
        classes = 10 if stem == "cifar" else 1000
        net = AlexNet(stem=stem, input_size=size, num_classes=classes, width=width)
        net = initialize(net, scheme).eval()
        # the ImageNet-stem nets see the same images upsampled to 227 (32 of them)
        h = (x if stem == "cifar"
             else torch.nn.functional.interpolate(x, size=227, mode="bilinear")[:32])
        out = []
        with torch.no_grad():
            for name, module in [*net.features.named_children(), *net.classifier.named_children()]:
                h = module(h)
                if name.startswith(("act", "fc8")):
                    flat = h.flatten(1)
                    out.append(f"{name}:{flat.mean().item():.2g}/{flat.std(0).mean().item():.2g}")
        print(f"{scheme:12s} width {width} {stem:8s}", " ".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
