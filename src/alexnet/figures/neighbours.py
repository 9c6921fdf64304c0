"""Figure 4: the training images whose fc7 activations lie nearest to a validation image's,
beside its top-5 predictions.

The paper's point: Euclidean distance between the last hidden layer's activations (fc7,
4096-d, after its ReLU) finds semantically similar images even when their pixels differ.
Activations are taken in eval mode (no dropout), on the evaluation view (centre crop) of the
same cached images the net trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from alexnet.model import AlexNet  # noqa: E402


@torch.no_grad()
def fc7_and_logits(net: AlexNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """fc7 after its activation (the input of fc8), and the logits, for a batch."""
    captured = {}
    handle = net.classifier.act7.register_forward_hook(
        lambda m, i, out: captured.setdefault("fc7", out))
    try:
        net.eval()
        logits = net(x)
    finally:
        handle.remove()
    return captured["fc7"], logits


@torch.no_grad()
def embed(net: AlexNet, images: np.ndarray, prepare,
          batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """fc7 features and logits of uint8 images (N, 3, S, S); `prepare` maps a uint8 batch to
    the net's input (normalise, centre crop)."""
    feats, logits = [], []
    for start in range(0, len(images), batch_size):
        x = prepare(torch.from_numpy(np.array(images[start:start + batch_size])))
        f, lg = fc7_and_logits(net, x)
        feats.append(f)
        logits.append(lg)
    return torch.cat(feats), torch.cat(logits)


@dataclass
class Query:
    val_index: int
    label: int
    top5: list[tuple[int, float]]  # (class, probability), best first
    neighbours: list[tuple[int, float]]  # (training index, Euclidean distance), nearest first


def nearest_neighbours(query_feats: torch.Tensor, train_feats: torch.Tensor,
                       k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and distances of the k training rows nearest each query row (Euclidean)."""
    d = torch.cdist(query_feats.double(), train_feats.double())
    dist, idx = d.topk(min(k, train_feats.shape[0]), dim=1, largest=False)
    return idx, dist.float()


def queries(net: AlexNet, val_images, val_labels, train_images, prepare, picks: list[int],
            k: int) -> list[Query]:
    train_feats, _ = embed(net, train_images, prepare)
    q_feats, q_logits = embed(net, val_images[picks], prepare)
    idx, dist = nearest_neighbours(q_feats, train_feats, k)
    probs = q_logits.softmax(dim=1)
    top = probs.topk(min(5, probs.shape[1]), dim=1)
    return [
        Query(p, int(val_labels[p]),
              [(int(c), float(v)) for c, v in zip(top.indices[i], top.values[i], strict=True)],
              [(int(j), float(d)) for j, d in zip(idx[i], dist[i], strict=True)])
        for i, p in enumerate(picks)
    ]


def _show(ax, image: np.ndarray) -> None:
    ax.imshow(np.transpose(np.asarray(image), (1, 2, 0)), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_neighbours(found: list[Query], val_images, train_images, train_labels, classes: list[str],
                    path: Path) -> Path:
    k = max(len(q.neighbours) for q in found)
    fig, axes = plt.subplots(len(found), k + 2, figsize=(1.3 * (k + 2) + 1.6, 1.45 * len(found)),
                             squeeze=False, gridspec_kw={"width_ratios": [1, 1.5] + [1] * k})
    for row, q in zip(axes, found, strict=True):
        _show(row[0], val_images[q.val_index])
        row[0].set_title(f"val: {classes[q.label]}", fontsize=7)
        row[1].axis("off")
        row[1].text(0.02, 0.5, "\n".join(f"{classes[c]} {100 * p:.0f}%" for c, p in q.top5),
                    fontsize=7, va="center", family="monospace")
        for ax, (j, d) in zip(row[2:], q.neighbours, strict=False):
            _show(ax, train_images[j])
            ax.set_title(f"{classes[int(train_labels[j])]} ({d:.1f})", fontsize=6)
    fig.suptitle("Figure 4: validation image, top-5, nearest training images by fc7 distance",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
