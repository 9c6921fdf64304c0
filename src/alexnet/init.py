"""The named weight initialisations: as the paper prints it, as the original code ran, Kaiming.

`paper`   §5: weights ~ N(0, 0.01) everywhere; biases 1 in conv2, conv4, conv5, fc6, fc7, else 0.
`code`    layers-145.cfg: as `paper`, but conv3-conv5 weights ~ N(0, 0.03).
`code_fan_in` the `code` stds rescaled from the full net's fan-in to this net's:
          std = std_code · sqrt(fan_in of the paper's layer / fan_in here). Identical to `code`
          on the full-size net; keeps the code's per-layer gain in narrower nets and the CIFAR stem.
`kaiming` He et al. 2015 (fan-in, ReLU gain) for conv and fc weights, zero biases.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from alexnet import paper
from alexnet.model import AlexNet, AlexNetConfig

SCHEMES = ("paper", "code", "code_fan_in", "kaiming")
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")


def _fan_in(module: nn.Conv2d | nn.Linear) -> int:
    return module.weight[0].numel()


def _reference_fan_ins(config: AlexNetConfig) -> dict[str, int]:
    """fan-in of every layer of the full-width ImageNet net with the same columns."""
    with torch.device("meta"):  # shapes only: no 61 M parameters allocated
        reference = AlexNet(
            AlexNetConfig(columns=config.columns, num_classes=config.num_classes, lrn=False)
        )
    return {name: _fan_in(m) for name, m in reference.learned_layers().items()}


def layer_generator(seed: int | None, index: int) -> torch.Generator | None:
    """Layer `index`'s own generator for a run's `seed` (None: the global one): the pairing rule,
    so two arms of a seed draw equal weights in every layer whose shape they share."""
    return None if seed is None else torch.Generator().manual_seed((int(seed) * 64 + index) % 2**63)


def initialize(model: AlexNet, scheme: str = "paper", seed: int | None = None) -> AlexNet:
    """Re-initialise `model`'s eight learned layers in place; returns it for chaining.

    With `seed`, layer i (of conv1 … fc8) draws from its own generator seeded (seed, i), so two nets
    that differ in one layer's shape (model.columns) still get equal weights in every other layer;
    without it, from the global generator."""
    if scheme not in SCHEMES:
        raise ValueError(f"recipe.init={scheme!r} is not one of {list(SCHEMES)}")
    layers = model.learned_layers()
    reference = _reference_fan_ins(model.config) if scheme == "code_fan_in" else {}
    for name, layer in layers.items():
        # keyed by the layer's place in the full net, so a net without conv4 (model.remove)
        # still draws conv5 … fc8 as the full net of its seed does
        i = LAYERS.index(name)
        g = layer_generator(seed, i)
        if scheme == "kaiming":
            nonlinearity = "relu" if model.config.activation == "relu" else "tanh"
            if name == "fc8":
                nonlinearity = "linear"
            nn.init.kaiming_normal_(layer.weight, nonlinearity=nonlinearity, generator=g)
            nn.init.zeros_(layer.bias)
            continue
        std = paper.INIT_STD
        if scheme in ("code", "code_fan_in") and name in ("conv3", "conv4", "conv5"):
            std = paper.INIT_STD_CODE_CONV345
        if scheme == "code_fan_in":
            std *= math.sqrt(reference[name] / _fan_in(layer))
        nn.init.normal_(layer.weight, 0.0, std, generator=g)
        nn.init.constant_(layer.bias, 1.0 if name in paper.ONE_BIAS_LAYERS else 0.0)
    return model
