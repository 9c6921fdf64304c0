"""The few layers AlexNet needs that PyTorch does not name the paper's way."""

from __future__ import annotations

import torch
from torch import nn

from alexnet import paper


def local_response_norm(reading: str = "code") -> nn.LocalResponseNorm:
    """§3.3's response normalisation with k=2, n=5, alpha=1e-4, beta=0.75.

    PyTorch computes b = a / (k + alpha/n * sum_window a^2)^beta, zeros beyond the edge
    channels. That *is* the original code's reading (`code`). The printed formula applies
    alpha to every term (`text`), i.e. PyTorch's alpha must be n times larger.
    """
    if reading == "code":
        alpha = paper.LRN_ALPHA
    elif reading == "text":
        alpha = paper.LRN_ALPHA * paper.LRN_SIZE
    else:
        raise ValueError(f"model.lrn_reading={reading!r} is not one of {paper.LRN_READINGS}")
    return nn.LocalResponseNorm(paper.LRN_SIZE, alpha=alpha, beta=paper.LRN_BETA, k=paper.LRN_K)


def max_pool(kind: str) -> nn.MaxPool2d:
    """Overlapping 3/2 (§3.4) or non-overlapping 2/2 pooling, with equal output sizes.

    3/2 pooling in ceil mode gives ceil((H-3)/2)+1 = floor(H/2) outputs, the same as 2/2
    pooling, for every H; at the paper's sizes (55, 27, 13) ceil and floor mode agree, so
    the overlapping arm is exactly the paper's 55→27→13→6.
    """
    if kind == "overlapping":
        size, stride = paper.POOL_OVERLAPPING
        return nn.MaxPool2d(size, stride, ceil_mode=True)
    if kind == "non_overlapping":
        size, stride = paper.POOL_NON_OVERLAPPING
        return nn.MaxPool2d(size, stride)
    raise ValueError(f"model.pool={kind!r} is not one of ['overlapping', 'non_overlapping']")


class PadRightBottom(nn.Module):
    """Zeros on the right and bottom edges only: the original code's conv1 on 224 crops.

    cuda-convnet sized conv1's output with a ceiling, as if the 224 input had 3 implicit zero
    columns and rows at the far edges; with them an 11×11 stride-4 conv gives 55×55.
    """

    def __init__(self, amount: int):
        super().__init__()
        self.amount = amount

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(x, (0, self.amount, 0, self.amount))

    def extra_repr(self) -> str:
        return f"amount={self.amount}"


def activation(name: str) -> nn.Module:
    """ReLU (§3.1) or the saturating tanh it replaced."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(f"model.activation={name!r} is not one of ['relu', 'tanh']")
