"""The training set's statistics, computed once and cached beside the decoded images: the mean
image the paper subtracts (§2), per-channel mean and std (the modern input), and the RGB
covariance whose PCA §4.1's colour noise uses."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from alexnet.data.cache import progress_bar
from alexnet.data.lighting import rgb_pca
from alexnet.data.sources import DataError

STATS_VERSION = 2  # 2: with the RGB covariance and its PCA


def image_stats(images: np.ndarray, path: Path, chunk: int | None = None, rows: np.ndarray | None = None,
                progress: bool = True) -> dict[str, np.ndarray]:
    """Training-set mean image (3,S,S), per-channel mean and std, and the RGB covariance with its
    PCA (eigenvalues descending, eigenvectors as columns), all on the 0-255 scale; cached.

    `rows` restricts the stats to those images (skipped files are left out). One pass, in
    float64 blocks of ~64 MB."""
    if path.is_file():
        with np.load(path) as f:
            stats = {k: f[k] for k in f.files}
        if "pca_eigenvalues" in stats:
            return stats
    contiguous = rows is None
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    n = len(rows)
    if n == 0:
        raise DataError("the training split has no readable images")
    chunk = chunk or max(1, (64 << 20) // (8 * int(np.prod(images.shape[1:]))))
    total = np.zeros(images.shape[1:], dtype=np.float64)
    outer = np.zeros((3, 3), dtype=np.float64)
    bar = progress_bar(n, 0, f"statistics of {path.stem}", progress and n > 20 * chunk)
    for start in range(0, n, chunk):
        part = images[start : start + chunk] if contiguous else images[rows[start : start + chunk]]
        block = np.asarray(part, dtype=np.float64)
        total += block.sum(0)
        flat = block.transpose(1, 0, 2, 3).reshape(3, -1)
        outer += flat @ flat.T
        bar.update(len(block))
    bar.close()
    pixels = n * images.shape[2] * images.shape[3]
    mean_image = total / n
    channel_mean = total.sum((1, 2)) / pixels
    covariance = outer / pixels - np.outer(channel_mean, channel_mean)
    eigenvalues, eigenvectors = rgb_pca(covariance)
    stats = {
        "mean_image": mean_image.astype(np.float32),
        "channel_mean": channel_mean.astype(np.float32),
        "channel_std": np.sqrt(np.maximum(np.diag(covariance), 0.0)).astype(np.float32),
        "rgb_covariance": covariance,
        "pca_eigenvalues": eigenvalues,
        "pca_eigenvectors": eigenvectors,
    }
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez(tmp, **stats)
    os.replace(tmp, path)
    return stats
