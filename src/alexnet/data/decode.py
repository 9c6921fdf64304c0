"""One image file (or array) as the paper stored it (§2): RGB, shorter side rescaled to `size`,
the central size×size patch, as (3, size, size) uint8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from alexnet.data.sources import DataError

BACKGROUND = (255, 255, 255)  # transparent pixels are composited on white


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode → RGB: grey, CMYK, palette and 16-bit images are converted; transparency
    (RGBA, LA, palette with a transparent index) is composited on white, not dropped, so a
    transparent background does not turn into arbitrary colours."""
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, BACKGROUND)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        a = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or a.max() > 255 else 255.0
        return Image.fromarray(np.clip(a * (255.0 / top), 0, 255).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def resize_center_crop(image: Image.Image, size: int) -> Image.Image:
    """§2: rescale so the shorter side is `size`, then take the central size×size patch."""
    w, h = image.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        if image.format == "JPEG" and hasattr(image, "draft"):
            image.draft("RGB", (nw, nh))  # let libjpeg downscale while decoding
        image = to_rgb(image).resize((nw, nh), Image.BILINEAR, reducing_gap=3.0)
        left, top = (nw - size) // 2, (nh - size) // 2
        image = image.crop((left, top, left + size, top + size))
    return to_rgb(image)


def decode_image(path: Path, size: int) -> np.ndarray:
    """One file → (3, size, size) uint8 RGB; an unreadable file names itself."""
    try:
        with Image.open(path) as image:
            return np.ascontiguousarray(
                np.asarray(resize_center_crop(image, size), dtype=np.uint8).transpose(2, 0, 1))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as e:
        raise DataError(f"cannot read image {path}: {e}; fix or delete the file, or set "
                        "data.skip_bad_images=true") from e


def decode_arrays(arrays: np.ndarray, size: int) -> np.ndarray:
    n, h, w, _ = arrays.shape
    if (h, w) == (size, size):
        return np.ascontiguousarray(arrays.transpose(0, 3, 1, 2))
    out = np.empty((n, 3, size, size), dtype=np.uint8)
    for i, a in enumerate(arrays):
        out[i] = np.asarray(resize_center_crop(Image.fromarray(a), size)).transpose(2, 0, 1)
    return out
