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

Two columns on one device are grouped convolutions (groups=2) in conv2, conv4 and conv5.
The table itself lives in `paper.py`; this file only assembles it from a small config.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass

import torch
from torch import nn

from alexnet import paper
from alexnet.layers import PadRightBottom, activation, local_response_norm, max_pool

STEMS = ("imagenet", "cifar")


@dataclass
class AlexNetConfig:
    """Every ablation switch is one field here; defaults are the paper's net."""

    num_classes: int = paper.NUM_CLASSES_IMAGENET
    input_size: int = paper.INPUT_SIZE  # 227, or 224 with the code's right/bottom zeros
    stem: str = "imagenet"  # "cifar": conv1 5×5 stride 1 for 32×32 images, the rest unchanged
    columns: int = 2  # 2: the paper's net; 1: footnote 5's one-GPU net
    activation: str = "relu"  # "relu" | "tanh"
    lrn: bool = True
    lrn_reading: str = "code"  # "code": alpha/n as the original code ran | "text": as printed
    pool: str = "overlapping"  # "overlapping" 3/2 | "non_overlapping" 2/2
    dropout: float = paper.DROPOUT
    width: float = 1.0  # multiplies every conv and fc width (CPU-sized runs)

    def __post_init__(self) -> None:
        checks = [
            (self.columns in (1, 2), f"model.columns={self.columns!r} must be 1 or 2"),
            (self.stem in STEMS, f"model.stem={self.stem!r} is not one of {list(STEMS)}"),
            (self.activation in ("relu", "tanh"),
             f"model.activation={self.activation!r} is not one of ['relu', 'tanh']"),
            (self.lrn_reading in paper.LRN_READINGS,
             f"model.lrn_reading={self.lrn_reading!r} is not one of {list(paper.LRN_READINGS)}"),
            (self.pool in ("overlapping", "non_overlapping"),
             f"model.pool={self.pool!r} is not one of ['overlapping', 'non_overlapping']"),
            (isinstance(self.lrn, bool), f"model.lrn={self.lrn!r} must be true or false"),
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
        per_column = [w // self.columns for w in paper.CONV_WIDTHS[self.columns]]
        return [max(1, round(w * self.width)) * self.columns for w in per_column]

    def fc_width(self) -> int:
        return max(1, round(paper.FC_WIDTH * self.width))


class AlexNet(nn.Module):
    """`features` (conv1-conv5) and `classifier` (fc6-fc8), named after the paper's layers."""

    def __init__(self, config: AlexNetConfig | None = None, **overrides):
        super().__init__()
        self.config = config = config or AlexNetConfig(**overrides)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        in_channels = 3
        for i, (spec, out_channels) in enumerate(
            zip(paper.CONV_LAYERS, config.conv_widths(), strict=True), start=1
        ):
            kernel, stride, padding = spec.kernel, spec.stride, spec.padding
            if spec.name == "conv1" and config.stem == "cifar":
                kernel, stride, padding = 5, 1, 2
            elif spec.name == "conv1":
                # The code's 224 input: implicit zeros right/bottom make conv1's output 55×55.
                extra = -(config.input_size - kernel) % stride
                if extra:
                    layers["pad1"] = PadRightBottom(extra)
            groups = config.columns if spec.grouped else 1
            layers[spec.name] = nn.Conv2d(
                in_channels, out_channels, kernel, stride, padding, groups=groups
            )
            layers[f"act{i}"] = activation(config.activation)
            if spec.lrn and config.lrn:
                layers[f"norm{i}"] = local_response_norm(config.lrn_reading)
            if spec.pool:
                layers[f"pool{i}"] = max_pool(config.pool)
            in_channels = out_channels
        self.features = nn.Sequential(layers)

        # fc6's input width follows from the input size; it is measured, never written down.
        try:
            with torch.no_grad():
                flat = self.features(torch.zeros(1, 3, config.input_size, config.input_size)).numel()
        except RuntimeError:  # a map shrank below the next kernel
            raise ValueError(
                f"model.stem={config.stem} cannot take {config.input_size} px inputs (data.crop_size): "
                "use model=alexnet_cifar for small images"
            ) from None

        fc = config.fc_width()
        self.classifier = nn.Sequential(
            OrderedDict(
                flatten=nn.Flatten(),
                fc6=nn.Linear(flat, fc),
                act6=activation(config.activation),
                drop6=nn.Dropout(config.dropout),
                fc7=nn.Linear(fc, fc),
                act7=activation(config.activation),
                drop7=nn.Dropout(config.dropout),
                fc8=nn.Linear(fc, config.num_classes),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))

    def learned_layers(self) -> dict[str, nn.Conv2d | nn.Linear]:
        """conv1 ... fc8 by name: the eight layers the paper counts."""
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

    def hparams(self) -> dict:
        return asdict(self.config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
