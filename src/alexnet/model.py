"""AlexNet as §3.5 of the paper builds it: five conv layers, three fully connected, two columns.

    layer  kernels (2 columns | 1 column)  size/stride   sees                then
    conv1   96 | 48                         11×11 / 4     the image           act → LRN → pool
    conv2  256 | 128                         5×5  / 1     own column only     act → LRN → pool
    conv3  384 | 192                         3×3  / 1     both columns        act
    conv4  384 | 192                         3×3  / 1     own column only     act
    conv5  256 | 256                         3×3  / 1     own column only     act → pool
    fc6   4096                               6·6·256 → 4096                   act → dropout
    fc7   4096                               4096 → 4096                      act → dropout
    fc8   classes                            4096 → classes                   (softmax in the loss)

`AlexNet.__init__` writes this table out, a layer a line. Two columns on one device are grouped
convolutions (groups=2) in conv2, conv4 and conv5: each column sees only its own half of the
previous layer, as each GPU did.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from alexnet import paper
from alexnet.layers import ACTIVATIONS, LRN_READINGS, POOLS, PadRightBottom, local_response_norm

# Kernels of conv1-conv5 in the whole net. 2 columns: the paper's net (48 + 48, 128 + 128, ...);
# 1 column: footnote 5's one-GPU net, half the kernels of every conv layer but conv5.
CONV_WIDTHS = {2: (96, 256, 384, 384, 256), 1: (48, 128, 192, 192, 256)}
FC_WIDTH = 4096  # fc6 and fc7, the same in both nets (the footnote keeps them whole)

# conv1's (kernel, stride, padding): the paper's, or a stem for 24-64 px images (CIFAR-10's
# 32×32) that keeps every later layer as it is.
STEMS = {"imagenet": (11, 4, 0), "cifar": (5, 1, 2)}

# §7: "removing any of the middle layers results in a loss of about 2 % for the top-1
# performance". The middle conv layers without a pool after them, so the map sizes stay;
# conv3 is also where the columns talk, so leaving it out removes that exchange too.
REMOVABLE = (None, "conv3", "conv4")


@dataclass
class AlexNetConfig:
    """Every ablation switch is one field here; defaults are the paper's net. The allowed values
    are checked here, once, against the tables of this file and layers.py."""

    num_classes: int = paper.NUM_CLASSES_IMAGENET
    input_size: int = paper.INPUT_SIZE  # 227, or 224 with the code's right/bottom zeros
    stem: str = "imagenet"  # a key of STEMS
    columns: int = 2  # 2: the paper's net; 1: footnote 5's one-GPU net
    activation: str = "relu"  # "relu" | "tanh"
    lrn: bool = True
    lrn_reading: str = "code"  # "code": alpha/n as the original code ran | "text": as printed
    lrn_per_column: bool = False  # the code: each column's LRN sees only its own maps (text: all)
    conv1_lrn_before_act: bool = False  # the code: conv1's LRN before its ReLU (text: after)
    pool: str = "overlapping"  # "overlapping" 3/2 | "non_overlapping" 2/2
    dropout: float = paper.DROPOUT
    width: float = 1.0  # multiplies every conv and fc width (CPU-sized runs)
    # a middle conv layer to leave out (§7: "about 2 %" top-1), a key of REMOVABLE
    remove: str | None = None

    def __post_init__(self) -> None:
        one_of = {"columns": CONV_WIDTHS, "stem": STEMS, "activation": ACTIVATIONS,
                  "lrn_reading": LRN_READINGS, "pool": POOLS, "remove": REMOVABLE}
        for key, allowed in one_of.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"model.{key}={getattr(self, key)!r} is not one of "
                                 f"{list(allowed)}")
        checks = [
            (isinstance(self.lrn, bool), f"model.lrn={self.lrn!r} must be true or false"),
            (isinstance(self.lrn_per_column, bool),
             f"model.lrn_per_column={self.lrn_per_column!r} must be true or false"),
            (isinstance(self.conv1_lrn_before_act, bool),
             f"model.conv1_lrn_before_act={self.conv1_lrn_before_act!r} must be true or false"),
            (0.0 <= self.dropout < 1.0, f"model.dropout={self.dropout!r} must be in [0, 1)"),
            (self.width > 0, f"model.width={self.width!r} must be positive"),
            (self.num_classes >= 2, f"num_classes={self.num_classes!r} must be at least 2"),
            (self.stem != "cifar" or self.input_size <= 64,
             f"model.stem=cifar is for 24-64 px inputs, not {self.input_size} px "
             "(data.crop_size): use model=alexnet for ImageNet-size images"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def conv_widths(self) -> list[int]:
        """Kernels per conv layer, a whole number per column after the width multiplier."""
        per_column = [w // self.columns for w in CONV_WIDTHS[self.columns]]
        return [max(1, round(w * self.width)) * self.columns for w in per_column]

    def fc_width(self) -> int:
        return max(1, round(FC_WIDTH * self.width))


class AlexNet(nn.Module):
    """`features` (conv1-conv5) and `classifier` (fc6-fc8), named after the paper's layers."""

    def __init__(self, config: AlexNetConfig | None = None, **overrides):
        super().__init__()
        self.config = c = config or AlexNetConfig(**overrides)
        w1, w2, w3, w4, w5 = c.conv_widths()
        k1, s1, p1 = STEMS[c.stem]
        g = c.columns  # the groups of the layers in which each column sees only its own half
        act, pool = ACTIVATIONS[c.activation], POOLS[c.pool]  # each call makes a new layer

        def norm():
            return (local_response_norm(c.lrn_reading, g if c.lrn_per_column else 1) if c.lrn
                    else None)

        # The code's 224 input: implicit zeros right/bottom make conv1's output 55×55.
        pad = -(c.input_size - k1) % s1
        keep3, keep4 = c.remove != "conv3", c.remove != "conv4"  # model.remove leaves one out
        in4 = w3 if keep3 else w2
        in5 = w4 if keep4 else in4
        self.features = _sequential(
            pad1=PadRightBottom(pad) if pad else None,
            conv1=nn.Conv2d(3, w1, k1, s1, p1),
            **({"norm1": norm(), "act1": act()} if c.conv1_lrn_before_act
               else {"act1": act(), "norm1": norm()}),
            pool1=pool(),
            conv2=nn.Conv2d(w1, w2, 5, 1, 2, groups=g), act2=act(), norm2=norm(), pool2=pool(),
            conv3=nn.Conv2d(w2, w3, 3, 1, 1) if keep3 else None, act3=act() if keep3 else None,
            conv4=nn.Conv2d(in4, w4, 3, 1, 1, groups=g) if keep4 else None,
            act4=act() if keep4 else None,
            conv5=nn.Conv2d(in5, w5, 3, 1, 1, groups=g), act5=act(), pool5=pool(),
        )
        fc = c.fc_width()
        self.classifier = _sequential(
            flatten=nn.Flatten(),
            fc6=nn.Linear(self._flat_width(), fc), act6=act(), drop6=nn.Dropout(c.dropout),
            fc7=nn.Linear(fc, fc), act7=act(), drop7=nn.Dropout(c.dropout),
            fc8=nn.Linear(fc, c.num_classes),
        )

    def _flat_width(self) -> int:
        """fc6's input width follows from the input size; it is measured, never written down."""
        size = self.config.input_size
        try:
            with torch.no_grad():
                return self.features(torch.zeros(1, 3, size, size)).numel()
        except RuntimeError:  # a map shrank below the next kernel
            raise ValueError(
                f"model.stem={self.config.stem} cannot take {size} px inputs (data.crop_size): "
                "use model=alexnet_cifar for small images"
            ) from None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def learned_layers(self) -> dict[str, nn.Conv2d | nn.Linear]:
        """conv1 ... fc8 by name: the eight layers the paper counts (seven with model.remove)."""
        return {
            name: module
            for name, module in [*self.features.named_children(), *self.classifier.named_children()]
            if isinstance(module, (nn.Conv2d, nn.Linear))
        }

    def feature_sizes(self) -> dict[str, tuple[int, int, int]]:
        """(channels, height, width) after every stage of `features`, for checks and docs."""
        sizes = {}
        x = torch.zeros(1, 3, self.config.input_size, self.config.input_size)
        with torch.no_grad():
            for name, module in self.features.named_children():
                x = module(x)
                sizes[name] = tuple(x.shape[1:])
        return sizes


def _sequential(**layers: nn.Module | None) -> nn.Sequential:
    """The named layers in order; a switch that removes a layer gives None for it."""
    return nn.Sequential(OrderedDict((name, m) for name, m in layers.items() if m is not None))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
