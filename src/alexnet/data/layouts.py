"""Every dataset layout by its `data.source` name: the folder and CIFAR-10 layouts (sources.py)
and the WordNet-id layouts (imagenet.py).

A job lists its data once: the DDP ranks that Lightning starts for a job (by re-running its
command) read the listing rank 0 made, handed over in a file named by LISTING_ENV
(`share_listing`), instead of listing and stating every file again (a minute per rank for
ImageNet on a local disk, far more on a network file system)."""

from __future__ import annotations

import contextlib
import os
import pickle
from pathlib import Path

from alexnet.atomic import atomic_file
from alexnet.data import imagenet
from alexnet.data.sources import DataError, Source, cifar10, image_folder

SOURCES = {"folder": image_folder, "cifar10": cifar10, "imagenet": imagenet.imagenet,
           "tiny_imagenet": imagenet.tiny_imagenet, "imagenette": imagenet.imagenette}
LISTING_ENV = "ALEXNET_SOURCE_LISTING"  # a file of rank 0's listing, for the ranks it starts


def _request(kind: str, root: str | Path | None, val_split: str | None) -> tuple:
    return kind, str(Path(str(root)).expanduser().resolve()), val_split


def load_source(kind: str, root: str | Path, val_split: str | None = None) -> Source:
    """The layout `kind` read from `root`; `val_split` names the folder layout's validation dir."""
    if kind not in SOURCES:
        raise DataError(f"data.source={kind!r} is not one of {sorted(SOURCES)}")
    shared = _shared_listing(kind, root, val_split)
    if shared is not None:
        return shared
    return SOURCES[kind](root, val_split) if kind == "folder" else SOURCES[kind](root)


def _shared_listing(kind: str, root, val_split) -> Source | None:
    """The listing handed over by the process that started this one, if it is of this data."""
    path = os.environ.get(LISTING_ENV)
    if not path or root in (None, "", "None", "???"):
        return None
    try:
        with open(path, "rb") as f:
            request, source = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError):
        return None
    return source if request == _request(kind, root, val_split) else None


def share_listing(source: Source, kind: str, root, val_split: str | None, path: Path) -> None:
    """Hands `source` (with its cache keys) to the processes this one starts: written to
    `path`, named in the environment they inherit. `unshare_listing` ends it."""
    with atomic_file(path, "wb") as f:
        pickle.dump((_request(kind, root, val_split), source), f, protocol=pickle.HIGHEST_PROTOCOL)
    os.environ[LISTING_ENV] = str(path)


def unshare_listing() -> None:
    path = os.environ.pop(LISTING_ENV, None)
    if path:
        with contextlib.suppress(OSError):
            Path(path).unlink()
