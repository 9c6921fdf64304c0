"""A plain SGD loop (no Lightning) to see whether an init + learning rate leaves chance level.

    python experiments/recipe-init/lr_probe.py /path/to/cifar10-jpg INIT LR [STEPS] [THREADS]

INIT is paper | code | code_fan_in | kaiming (kaiming gets standardized input, the others the
paper's 0-255 mean-subtracted input). Prints the mean training loss and error of every 100 steps.
"""

import sys
import time

import torch

from alexnet.data.datamodule import AlexNetDataModule
from alexnet.data.transforms import random_crop_flip
from alexnet.init import initialize
from alexnet.model import AlexNet


def main(root: str, scheme: str, lr: float, steps: int = 300, threads: int = 1,
         width: float = 0.5) -> None:
    torch.set_num_threads(threads)
    dm = AlexNetDataModule(source="cifar10", root=root, stored_size=32, crop_size=28,
                           divide_std=scheme == "kaiming")
    dm.setup()
    torch.manual_seed(0)
    net = initialize(AlexNet(stem="cifar", input_size=28, num_classes=10, width=width), scheme)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    images, labels = dm.train_set.images, dm.train_set.labels
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(labels), generator=g)
    usable = len(labels) // 128 * 128
    start, errors, losses = time.time(), [], []
    for step in range(steps):
        at = (step * 128) % usable
        idx = order[at : at + 128].numpy()
        x = random_crop_flip(dm.normalize(torch.from_numpy(images[idx])), 28, g)
        out = net(x)
        loss = torch.nn.functional.cross_entropy(out, labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        errors.append((out.argmax(1) != labels[idx]).float().mean().item())
        losses.append(loss.item())
        if (step + 1) % 100 == 0:
            rate = (step + 1) * 128 / (time.time() - start)
            print(f"{scheme} width {width} lr {lr} step {step + 1} "
                  f"loss {sum(losses[-100:]) / 100:.3f} "
                  f"err {sum(errors[-100:]) / 100:.3f} {rate:.0f} img/s", flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], float(a[2]), *(int(v) for v in a[3:5]))
