"""Every dataset layout by its `data.source` name: the folder and CIFAR-10 layouts (sources.py)
and the WordNet-id layouts (imagenet.py)."""

from __future__ import annotations

from pathlib import Path

from alexnet.data import imagenet
from alexnet.data.sources import DataError, Source, cifar10, image_folder

SOURCES = {"folder": image_folder, "cifar10": cifar10, "imagenet": imagenet.imagenet,
           "tiny_imagenet": imagenet.tiny_imagenet, "imagenette": imagenet.imagenette}


def load_source(kind: str, root: str | Path, val_split: str | None = None) -> Source:
    """The layout `kind` read from `root`; `val_split` names the folder layout's validation dir."""
    if kind not in SOURCES:
        raise DataError(f"data.source={kind!r} is not one of {sorted(SOURCES)}")
    return SOURCES[kind](root, val_split) if kind == "folder" else SOURCES[kind](root)
