"""§4.1 PCA lighting: shift each image's colour along the training set's RGB principal axes.

The PCA is of the training set's RGB pixel values (0-255 scale): covariance C = P diag(λ) Pᵀ,
eigenvalues λ descending, eigenvectors p_i the columns of P (computed once, cached with the
mean image: stats.image_stats). For every image, each time it is used, α ~ N(0, 0.1)³ is
drawn once and one RGB shift δ is added to all its pixels (x is the mean-subtracted image):

* ``text``: the paper's formula, δ = P (α ∘ λ). The paper does not say on which scale λ is
  taken; on the 0-255 scale α·λ₁ would have a standard deviation of ~1,500 grey levels, so we
  (like fb.resnet.torch and GluonCV) read it on the [0, 1] scale: δ₂₅₅ = 255 · P (α ∘ λ/255²)
  = P (α ∘ λ) / 255. Per-image covariance of δ: P diag(0.1² λ²/255²) Pᵀ.
* ``code``: the original code (convdata.py): the standard deviations σ = √λ on the 0-255
  scale, x' = (x + P (α ∘ σ)) / 1.1 — the noisy image is divided by 1 + 0.1 so its scale stays
  close to the test images'. Covariance of the added shift before the ÷1.1: P diag(0.1² λ) Pᵀ.

Both run on the batch, on the model's device, with the datamodule's seeded generator.
"""

from __future__ import annotations

import numpy as np
import torch

from alexnet import paper

VARIANTS = paper.PCA_LIGHTING_VARIANTS


def variant(value) -> str | None:
    """The switch `data.pca_lighting` as one of None, 'text', 'code' (false/off/none → None)."""
    if value in (None, False) or str(value).lower() in ("false", "off", "none", "no", "0"):
        return None
    if value not in VARIANTS:
        raise ValueError(f"data.pca_lighting={value!r} is not one of [false, 'text', 'code']")
    return value


def rgb_pca(covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors (columns) of a 3×3 RGB covariance."""
    values, vectors = np.linalg.eigh(np.asarray(covariance, dtype=np.float64))
    order = np.argsort(values)[::-1]
    return np.maximum(values[order], 0.0), vectors[:, order]


def imagenet_pca() -> tuple[np.ndarray, np.ndarray]:
    """The original code's ImageNet PCA (paper.md §6) as (eigenvalues on 0-255², eigenvectors):
    a documented fallback for `data.pca_from=imagenet`, not the default."""
    stdevs = np.asarray(paper.IMAGENET_PCA_STDEVS_255, dtype=np.float64)
    vectors = np.asarray(paper.IMAGENET_PCA_EIGVECS, dtype=np.float64)
    order = np.argsort(stdevs)[::-1]
    return stdevs[order] ** 2, vectors[:, order]


class PCALighting(torch.nn.Module):
    """Adds one PCA colour shift per image to a batch of mean-subtracted images (B, 3, H, W)."""

    def __init__(self, eigenvalues, eigenvectors, kind: str,
                 alpha_std: float = paper.PCA_ALPHA_STD):
        super().__init__()
        lam = torch.as_tensor(np.asarray(eigenvalues, dtype=np.float64))
        scale = lam / 255.0 if kind == "text" else lam.sqrt()
        self.kind, self.alpha_std = kind, alpha_std
        self.rescale = paper.PCA_CODE_RESCALE if kind == "code" else 1.0
        self.register_buffer("vectors",
                             torch.as_tensor(np.asarray(eigenvectors), dtype=torch.float32),
                             persistent=False)
        self.register_buffer("scale", scale.float(), persistent=False)

    def shifts(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """(B, 3) RGB shifts δ = P (α ∘ s), α ~ N(0, alpha_std), one α per image."""
        alpha = torch.randn(batch, 3, generator=generator, device=generator.device) * self.alpha_std
        return (alpha.to(self.vectors.device) * self.scale) @ self.vectors.T

    def forward(self, x: torch.Tensor, generator: torch.Generator,
                channel_scale: torch.Tensor | None = None) -> torch.Tensor:
        """x + δ per image (÷ 1.1 for `code`), in place: x is transforms.train_batch's own batch."""
        delta = self.shifts(len(x), generator).to(x.dtype)
        if channel_scale is not None:  # inputs already ÷ channel std: shift on the same scale
            delta = delta * channel_scale.reshape(1, 3)
        x.add_(delta[:, :, None, None])
        return x.div_(self.rescale) if self.rescale != 1.0 else x
