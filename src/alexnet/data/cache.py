"""Decode once, train many times: images as one uint8 array on disk, and the training-set stats.

The paper rescaled ImageNet to 256×256 ahead of training (§2). We do the same for every source:
shorter side to `size`, centre crop, stored as an (N, 3, size, size) uint8 `.npy` that training
memory-maps. A cache file is named by a key over its settings and its file list, so one built
from other settings or other files is never picked up; it is written to a temporary name and
renamed when complete, so an interrupted build leaves nothing that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from alexnet.data.sources import DataError, Split

CACHE_VERSION = 1


def cache_key(split: Split, size: int, root: Path) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}|size={size}|n={len(split)}".encode())
    if split.arrays is not None:
        h.update(np.ascontiguousarray(split.arrays[:: max(1, len(split) // 64)]).tobytes())
    for f in split.files:
        stat = f.stat()
        h.update(f"{f.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    h.update(split.labels.tobytes())
    return h.hexdigest()[:16]


def resize_center_crop(image: Image.Image, size: int) -> Image.Image:
    """§2: rescale so the shorter side is `size`, then take the central size×size patch."""
    w, h = image.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        if image.format == "JPEG" and hasattr(image, "draft"):
            image.draft("RGB", (nw, nh))  # let libjpeg downscale while decoding
        image = image.convert("RGB").resize((nw, nh), Image.BILINEAR, reducing_gap=3.0)
        left, top = (nw - size) // 2, (nh - size) // 2
        image = image.crop((left, top, left + size, top + size))
    return image


def decode_image(path: Path, size: int) -> np.ndarray:
    """One file → (3, size, size) uint8 RGB; an unreadable file names itself."""
    try:
        with Image.open(path) as image:
            image = resize_center_crop(image, size)
            if image.mode != "RGB":
                image = image.convert("RGB")
            return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"cannot read image {path}: {e}; fix or delete the file") from e


def _decode_arrays(arrays: np.ndarray, size: int) -> np.ndarray:
    n, h, w, _ = arrays.shape
    if (h, w) == (size, size):
        return np.ascontiguousarray(arrays.transpose(0, 3, 1, 2))
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    for i, a in enumerate(arrays):
        out[i] = np.asarray(resize_center_crop(Image.fromarray(a), size)).transpose(2, 0, 1)
    return out


def _writable_dir(preferred: Path, fallback: Path | None) -> Path:
    for folder in (preferred, fallback):
        if folder is None:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
            return folder
        except OSError:
            continue
    raise DataError(f"cannot write a cache in {preferred} or {fallback}; set data.cache_dir to a writable folder")


def cache_dir_for(root: Path, cache_dir: str | Path | None) -> Path:
    """`cache_dir` if given, else `<root>/.alexnet-cache`, else the user's cache folder."""
    if cache_dir:
        return _writable_dir(Path(cache_dir).expanduser(), None)
    user = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "alexnet"
    return _writable_dir(root / ".alexnet-cache", user / hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12])


def decoded(split: Split, name: str, size: int, root: Path, folder: Path, workers: int = 4) -> np.ndarray:
    """The split as an (N, 3, size, size) uint8 array, memory-mapped from the cache."""
    path = folder / f"{name}-{size}px-{cache_key(split, size, root)}.npy"
    if not path.is_file():
        if split.arrays is not None:
            images = _decode_arrays(split.arrays, size)
        else:
            images = np.empty((len(split), 3, size, size), dtype=np.uint8)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for i, image in enumerate(pool.map(lambda p: decode_image(p, size), split.files)):
                    images[i] = image
        _atomic_save(path, images)
    images = np.load(path, mmap_mode="r")
    if images.shape != (len(split), 3, size, size):
        raise DataError(f"cache {path} has shape {images.shape}, expected {(len(split), 3, size, size)}; delete it")
    return images


def _atomic_save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def image_stats(images: np.ndarray, path: Path, chunk: int = 4096) -> dict[str, np.ndarray]:
    """Training-set mean image (3,S,S), per-channel mean and std (0-255 scale); cached."""
    if path.is_file():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    n = len(images)
    total = np.zeros(images.shape[1:], dtype=np.float64)
    sq = np.zeros(3, dtype=np.float64)
    for start in range(0, n, chunk):
        block = np.asarray(images[start : start + chunk], dtype=np.float64)
        total += block.sum(0)
        sq += (block**2).sum((0, 2, 3))
    pixels = n * images.shape[2] * images.shape[3]
    mean_image = total / n
    channel_mean = total.sum((1, 2)) / pixels
    channel_std = np.sqrt(np.maximum(sq / pixels - channel_mean**2, 0.0))
    stats = {
        "mean_image": mean_image.astype(np.float32),
        "channel_mean": channel_mean.astype(np.float32),
        "channel_std": channel_std.astype(np.float32),
    }
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez(tmp, **stats)
    os.replace(tmp, path)
    return stats


def write_manifest(folder: Path, info: dict) -> None:
    (folder / "README.json").write_text(json.dumps(info, indent=2))
