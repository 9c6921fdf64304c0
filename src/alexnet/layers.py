"""The few layers AlexNet needs that PyTorch does not name the paper's way, and the allowed
values of the model's switches (the tables below; AlexNetConfig checks a config against them)."""

from __future__ import annotations

import logging
from functools import cache, partial

import torch
from torch import nn

from alexnet import paper

log = logging.getLogger(__name__)

def _window_sum(s: torch.Tensor, n: int) -> torch.Tensor:
    """Sum over the n channels centred on each channel (dim 1), zeros beyond the edges: n − 1
    shifted in-place adds, no padding copy, no pooling kernel."""
    out, c = s.clone(), s.shape[1]
    for k in range(1, n // 2 + 1):
        out[:, k:] += s[:, : c - k]
        out[:, : c - k] += s[:, k:]
    return out


def _response_scale(a: torch.Tensor, size: int, alpha: float, beta: float,
                    k: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(d, d^(−β)) with d = k + α Σ_window a²: b = a · d^(−β)."""
    d = _window_sum(a * a, size).mul_(alpha).add_(k)
    if beta == 0.75:  # the paper's β: d^(−3/4) = rsqrt(d) · rsqrt(d)^(1/2), cheaper than pow
        scale = d.rsqrt()
        scale.mul_(scale.sqrt())
    else:
        scale = d.pow(-beta)
    return d, scale


class _ResponseNorm(torch.autograd.Function):
    """b = a · d^(−β), d = k + α Σ_window a²; backward by hand:
    ∂L/∂a = g · d^(−β) − 2αβ · a · Σ_window(g · b / d) (the window is symmetric)."""

    @staticmethod
    def forward(ctx, a, size: int, alpha: float, beta: float, k: float):
        d, scale = _response_scale(a, size, alpha, beta, k)
        ctx.save_for_backward(a, d, scale)
        ctx.size, ctx.alpha, ctx.beta = size, alpha, beta
        return a * scale

    @staticmethod
    def backward(ctx, g):
        a, d, scale = ctx.saved_tensors
        t = _window_sum(g * a * scale / d, ctx.size)
        return g * scale - (2.0 * ctx.alpha * ctx.beta) * a * t, None, None, None, None


def _response_norm_terms(a: torch.Tensor, size: int, alpha: float, beta: float,
                         k: float) -> torch.Tensor:
    """b = a · (k + α Σ_window a²)^(−β) in out-of-place ops (zero channels padded at the edges),
    which Inductor fuses into one kernel forward and one backward: the CUDA path. The eager
    version of these ops moves ~13× the memory of the fused kernels (GPU review, item 2)."""
    c, half = a.shape[1], size // 2
    squares = nn.functional.pad(a * a, (0, 0, 0, 0, half, half))
    window = sum(squares[:, i : i + c] for i in range(size))
    return a * (k + alpha * window).pow(-beta)


@cache
def _fused_response_norm():
    return torch.compile(_response_norm_terms, dynamic=False)


class LocalResponseNorm(nn.LocalResponseNorm):
    """`nn.LocalResponseNorm`'s formula and parameters — b = a / (k + alpha/n · Σ_window a²)^β,
    zeros beyond the edge channels — computed by a window sum of shifted slices with a
    hand-written backward: 2.3–5× faster forward + backward on a CPU than PyTorch's
    avg_pool3d path (benchmarks/layers.py), equal to float rounding. `groups` > 1 keeps each
    window inside its group's channels: the original code's LRN saw only its own column's maps."""

    fused_failed = False  # set once Inductor could not build the fused kernel: eager from then on

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0,
                 groups: int = 1, fused: bool | None = None):
        if size < 1 or size % 2 == 0:  # the window is centred: n//2 channels on either side
            raise ValueError(f"LRN window size {size} must be odd (the paper's is "
                             f"{paper.LRN_SIZE})")
        super().__init__(size, alpha, beta, k)
        self.groups = groups
        # None: fused on CUDA (torch.compile of _response_norm_terms), eager elsewhere
        self.fused = fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        dtype = x.dtype
        # in fp32 whatever the input or autocast: in fp16 five channels at |a| = 120 make
        # Σ a² overflow to inf and the output 0 (bf16 keeps the range but not the digits)
        x = x.reshape(b * self.groups, c // self.groups, h, w)  # each group's channels on their own
        x = x.to(torch.promote_types(dtype, torch.float32))
        args = (self.size, self.alpha / self.size, self.beta, self.k)
        # (autocast lists none of its elementwise ops for lower precision: fp32 stays fp32)
        training = torch.is_grad_enabled() and x.requires_grad
        # fused for training steps only: evaluation (no grad) is cheap eagerly, and its many
        # batch shapes (val, train_eval, test, ten crops, partial batches) would each recompile
        fused = training and (x.is_cuda if self.fused is None else self.fused)
        out = self._fused(x, args) if fused else None
        if out is None and training:
            out = _ResponseNorm.apply(x, *args)
        elif out is None:  # the same forward in plain tensor ops, which a TorchScript trace or an
            out = x * _response_scale(x, *args)[1]  # ONNX export can record (no autograd.Function)
        return out.reshape(b, c, h, w).to(dtype)

    @staticmethod
    def _fused(x: torch.Tensor, args: tuple) -> torch.Tensor | None:
        """Inductor's fused kernels (inside a compiled net, that net's graph fuses the same ops);
        None while tracing, or where they cannot be built (no Triton or no compiler: said once)."""
        if torch.compiler.is_compiling():
            return _response_norm_terms(x, *args)
        if LocalResponseNorm.fused_failed or torch.jit.is_tracing():
            return None
        try:
            return _fused_response_norm()(x, *args)
        except torch.OutOfMemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - no Triton or compiler: the eager LRN is exact
            # (a failure compiling the backward, which AOTAutograd may defer, surfaces in backward)
            LocalResponseNorm.fused_failed = True
            log.warning("fused LRN unavailable (%s: %s); using the eager LRN", type(e).__name__,
                        (str(e).splitlines() or [""])[0][:200])
            return None

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", groups={self.groups}" if self.groups > 1 else "")


# model.lrn_reading → the alpha PyTorch's convention takes (it divides alpha by n): the original
# code's reading is PyTorch's; the printed formula applies alpha to every term, n times larger.
LRN_READINGS = {"code": paper.LRN_ALPHA, "text": paper.LRN_ALPHA * paper.LRN_SIZE}


def local_response_norm(reading: str = "code", groups: int = 1) -> LocalResponseNorm:
    """§3.3's response normalisation with k=2, n=5, alpha=1e-4, beta=0.75, in one of the two
    readings of alpha (LRN_READINGS). PyTorch's convention is b = a / (k + alpha/n *
    sum_window a^2)^beta, zeros beyond the edge channels: the original code's reading."""
    return LocalResponseNorm(paper.LRN_SIZE, alpha=LRN_READINGS[reading], beta=paper.LRN_BETA,
                             k=paper.LRN_K, groups=groups)


# §3.4: overlapping 3/2 pooling, or the non-overlapping 2/2 it was compared with. 3/2 pooling in
# ceil mode gives ceil((H-3)/2)+1 = floor(H/2) outputs, the same as 2/2 pooling, for every H; at
# the paper's sizes (55, 27, 13) ceil and floor mode agree, so the overlapping arm is exactly the
# paper's 55→27→13→6.
POOLS = {
    "overlapping": partial(nn.MaxPool2d, *paper.POOL_OVERLAPPING, ceil_mode=True),
    "non_overlapping": partial(nn.MaxPool2d, *paper.POOL_NON_OVERLAPPING),
}


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


# §3.1: ReLU, or the saturating tanh it replaced.
ACTIVATIONS = {"relu": partial(nn.ReLU, inplace=True), "tanh": nn.Tanh}


class LocallyConnected2d(nn.Module):
    """A convolution with a separate filter at every output position (cuda-convnet's `local`
    layer, used by the paper's CIFAR-10 net): weights (positions, out, in·k·k) and, as
    cuda-convnet has them, a bias per position and filter. PyTorch has no such layer; this one
    unfolds the input into patches and does one batched matmul over the positions."""

    def __init__(self, in_channels: int, out_channels: int, in_size: int, kernel_size: int,
                 stride: int = 1, padding: int = 0):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.in_size = in_size
        self.out_size = (in_size + 2 * padding - kernel_size) // stride + 1
        if self.out_size < 1:
            raise ValueError(f"a {kernel_size}×{kernel_size} local layer cannot take "
                             f"{in_size}-px maps")
        positions = self.out_size**2
        self.weight = nn.Parameter(torch.empty(positions, out_channels,
                                               in_channels * kernel_size**2))
        self.bias = nn.Parameter(torch.zeros(positions, out_channels))
        nn.init.normal_(self.weight, std=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.in_size, self.in_size):
            raise ValueError(f"a locally connected layer built for {self.in_size}-px maps got "
                             f"{tuple(x.shape[-2:])}: "
                             "build the net for this input size (data.crop_size)")
        patches = nn.functional.unfold(x, self.kernel_size, padding=self.padding,
                                       stride=self.stride)
        out = torch.bmm(patches.permute(2, 0, 1),
                        self.weight.transpose(1, 2))  # (positions, B, out)
        out = out + self.bias[:, None, :]
        return out.permute(1, 2, 0).unflatten(2, (self.out_size, self.out_size))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, out_size={self.out_size}")
