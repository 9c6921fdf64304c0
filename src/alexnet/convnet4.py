"""The paper's CIFAR-10 net: the "four-layer convolutional neural network" of Figure 1 (ReLU vs
tanh) and of §3.3's CIFAR-10 response-normalisation result (13 % → 11 % test error), as
cuda-convnet's `layers-conv-local-11pct.cfg` builds it (paper.md §6):

    layer   kernels   size / stride / pad   then                          init std
    conv1   64        5×5 / 1 / 2           act → max-pool 3/2 → norm     0.0001
    conv2   64        5×5 / 1 / 2           act → norm → max-pool 3/2     0.01
    local3  64        3×3 / 1 / 1           act                           0.04
    local4  32        3×3 / 1 / 1           act                           0.04
    fc10    classes                         (softmax in the loss)         0.01

`local` layers are locally connected: a separate filter at every position. The response norm
is cuda-convnet's `cmrnorm` with size 9, scale 0.001, power 0.75 and its hard-coded constant 1,
the scale divided by the size: b = a / (1 + (0.001/9)·Σ a²)^0.75 over 9 channels. Pools run in
ceil mode as cuda-convnet sizes them (24 → 12 → 6). All biases start at 0.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass

import torch
from torch import nn

from alexnet.init import layer_generator
from alexnet.layers import ACTIVATIONS, LocallyConnected2d, LocalResponseNorm

CONVNET4_INIT = "cuda_convnet"  # the recipe.init name of `initialize` below
NORM_SIZE, NORM_SCALE, NORM_POWER, NORM_K = 9, 0.001, 0.75, 1.0
INIT_STD = {"conv1": 1e-4, "conv2": 0.01, "local3": 0.04, "local4": 0.04, "fc10": 0.01}


@dataclass
class ConvNet4Config:
    """The switches of the paper's two CIFAR-10 claims: activation (Figure 1), norm (§3.3)."""

    num_classes: int = 10
    input_size: int = 24  # cuda-convnet's 24×24 crops of the 32×32 images
    activation: str = "relu"  # "relu" | "tanh"
    norm: bool = True  # the two cmrnorm layers

    def __post_init__(self) -> None:
        if self.input_size < 8:
            raise ValueError(f"model=convnet4 needs inputs of at least 8 px, not {self.input_size} "
                             "(data.crop_size)")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"model.activation={self.activation!r} is not one of "
                             f"{list(ACTIVATIONS)}")


def _norm() -> nn.Module:
    return LocalResponseNorm(NORM_SIZE, alpha=NORM_SCALE, beta=NORM_POWER, k=NORM_K)


def _pool() -> nn.Module:
    return nn.MaxPool2d(3, 2, ceil_mode=True)


def _pooled_size(n: int) -> int:
    """The output size of a ceil-mode 3/2 pool: ceil((n − 3) / 2) + 1."""
    return -(-(n - 3) // 2) + 1


class ConvNet4(nn.Module):
    """`features` (conv1, conv2, local3, local4) and `classifier` (fc10)."""

    def __init__(self, config: ConvNet4Config | None = None, **overrides):
        super().__init__()
        self.config = c = config or ConvNet4Config(**overrides)
        pooled = _pooled_size(_pooled_size(c.input_size))  # the local layers' map size
        act = ACTIVATIONS[c.activation]  # each call makes a new layer
        self.features = nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(3, 64, 5, padding=2), act1=act(), pool1=_pool(),
            **({"norm1": _norm()} if c.norm else {}),
            conv2=nn.Conv2d(64, 64, 5, padding=2), act2=act(),
            **({"norm2": _norm()} if c.norm else {}), pool2=_pool(),
            local3=LocallyConnected2d(64, 64, pooled, 3, padding=1), act3=act(),
            local4=LocallyConnected2d(64, 32, pooled, 3, padding=1), act4=act(),
        ))
        self.classifier = nn.Sequential(OrderedDict(
            flatten=nn.Flatten(), fc10=nn.Linear(32 * pooled * pooled, c.num_classes),
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def learned_layers(self) -> dict[str, nn.Module]:
        return {name: m for name, m in [*self.features.named_children(),
                                        *self.classifier.named_children()]
                if name in INIT_STD}

    def initialize(self, seed: int | None = None) -> ConvNet4:
        """The config file's N(0, std) weights and zero biases; with `seed`, layer i draws from
        its own generator (seed, i), so the arms of a seed start from equal weights."""
        for i, (name, layer) in enumerate(self.learned_layers().items()):
            g = layer_generator(seed, i)
            nn.init.normal_(layer.weight, 0.0, INIT_STD[name], generator=g)
            nn.init.zeros_(layer.bias)
        return self

    def hparams(self) -> dict:
        return asdict(self.config)
