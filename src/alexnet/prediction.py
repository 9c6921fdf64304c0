"""Classify image files with a checkpoint alone: top-k class names and probabilities.

Each file is decoded as the training data was (shorter side to the stored size, centre crop,
RGB), the checkpoint's mean is subtracted, and the centre crop (or §4.1's ten crops, softmax
averaged) goes through the net. No data root is needed: the class names travel in the
checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torchvision.datasets.folder import IMG_EXTENSIONS

from alexnet import checkpoint, paper
from alexnet.data.decode import decode_image
from alexnet.data.sources import DataError
from alexnet.data.transforms import center_crop, ten_crop, view_softmax


def image_files(paths: list[str | Path]) -> list[Path]:
    """Files as given, folders expanded to their image files (recursively, sorted)."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*")
                            if f.suffix.lower() in IMG_EXTENSIONS and f.is_file())
        elif p.is_file():
            files.append(p)
        else:
            raise DataError(f"{p} does not exist")
    if not files:
        raise DataError(f"no image files in {[str(p) for p in paths]}")
    return files


@torch.no_grad()
def predict(ckpt: str | Path, paths: list[str | Path], top_k: int = 5, ten_crops: bool = False,
            batch_size: int = 32, device: str = "cpu") -> list[dict[str, Any]]:
    loaded = checkpoint.load(ckpt, device)
    names, d = loaded.class_names, loaded.data
    normalize = loaded.normalize().to(device)
    k = min(top_k, len(names))
    out = []
    files = image_files(paths)
    if ten_crops:  # all views of a batch go through in one pass: keep it to batch_size crops
        batch_size = -(-batch_size // paper.TEN_CROP_VIEWS)
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        images = torch.stack([torch.from_numpy(decode_image(f, d["stored_size"]))
                              for f in chunk]).to(device)
        x = normalize(images)
        x = ten_crop(x, d["crop_size"]) if ten_crops else center_crop(x, d["crop_size"])[:, None]
        probs = view_softmax(loaded.module, x.contiguous()).mean(1)
        top = probs.topk(k, dim=-1)
        for f, p, i in zip(chunk, top.values.tolist(), top.indices.tolist(), strict=True):
            out.append({"file": str(f), "top": [{"class": names[j], "probability": q}
                                                for j, q in zip(i, p, strict=True)]})
    return out


def table(predictions: list[dict[str, Any]]) -> str:
    lines = []
    for pred in predictions:
        lines.append(pred["file"])
        lines += [f"  {t['probability'] * 100:6.2f} %  {t['class']}" for t in pred["top"]]
    return "\n".join(lines)
