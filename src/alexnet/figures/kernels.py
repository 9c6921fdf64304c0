"""Figure 3: conv1's kernels, one block per column, and how colour-specific each column is.

The paper saw the first column learn mostly colour-agnostic kernels and the second mostly
colour-specific ones. To measure that instead of eyeballing it, each kernel's RGB weights at
every position are split into their component along the grey direction g = [1, 1, 1]/√3 and
the rest: colour specificity = energy off the grey axis / total energy. A grey (luminance)
kernel scores 0; a kernel with no grey component at all (e.g. red against green) scores 1;
weights drawn at random score 2/3 on average.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

GREY = torch.full((3,), 1 / math.sqrt(3))


def colour_specificity(kernels: torch.Tensor) -> torch.Tensor:
    """One score in [0, 1] per kernel of shape (out, 3, k, k)."""
    if kernels.dim() != 4 or kernels.shape[1] != 3:
        raise ValueError(f"expected RGB kernels (out, 3, k, k), got {tuple(kernels.shape)}")
    w = kernels.detach().double().flatten(2)  # (out, 3, k·k)
    grey = torch.einsum("ocp,c->op", w, GREY.double())  # component along g per position
    total = w.pow(2).sum(dim=(1, 2))
    off_axis = total - grey.pow(2).sum(dim=1)
    return (off_axis / total.clamp_min(1e-30)).clamp(0.0, 1.0).float()


def column_blocks(kernels: torch.Tensor, columns: int) -> list[torch.Tensor]:
    """conv1's output channels per column: the first half feeds column 1, the second column 2."""
    return list(kernels.chunk(columns, dim=0))


def column_scores(kernels: torch.Tensor, columns: int) -> list[float]:
    return [float(colour_specificity(block).mean()) for block in column_blocks(kernels, columns)]


def _as_image(kernel: torch.Tensor) -> torch.Tensor:
    """(3, k, k) → (k, k, 3) in [0, 1], each kernel scaled on its own (as the paper shows them)."""
    k = kernel.detach().float()
    k = (k - k.min()) / (k.max() - k.min()).clamp_min(1e-12)
    return k.permute(1, 2, 0)


def plot_kernels(kernels: torch.Tensor, columns: int, path: Path) -> Path:
    blocks = column_blocks(kernels, columns)
    per_row = max(1, math.ceil(math.sqrt(len(blocks[0]) * 2)))
    rows = math.ceil(len(blocks[0]) / per_row)
    fig = plt.figure(figsize=(1.0 * per_row * columns + 0.5 * (columns - 1), 1.1 * rows + 0.8))
    subfigs = fig.subfigures(1, columns, squeeze=False)[0]
    for c, (block, sub) in enumerate(zip(blocks, subfigs, strict=True)):
        scores = colour_specificity(block)
        sub.suptitle(f"column {c + 1}: colour specificity {float(scores.mean()):.2f}", fontsize=9)
        axes = sub.subplots(rows, per_row, squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i < len(block):
                ax.imshow(_as_image(block[i]).numpy(), interpolation="nearest")
                ax.set_title(f"{float(scores[i]):.2f}", fontsize=6, pad=1)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
