"""Dataset layouts on disk, each read into the same thing: image files (or arrays) and labels.

A source only says *what* the images are; decoding, caching and augmentation live elsewhere,
so every layout gets the same fast pipeline.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torchvision.datasets.folder import IMG_EXTENSIONS


class DataError(ValueError):
    """Bad data on disk; the message says what is wrong and what layout is expected."""


@dataclass
class Split:
    """One split: either image file paths or already-decoded HWC uint8 arrays, and labels."""

    labels: np.ndarray
    files: list[Path] = field(default_factory=list)
    arrays: np.ndarray | None = None  # (N, H, W, 3) uint8, for sources that ship arrays
    # the cache keys computed from this listing (data/cache.py), by stored size: one stat of
    # every file per job, however often the cache is opened
    keys: dict[int, str] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Source:
    classes: list[str]  # class ids as on disk (folder names, WordNet ids)
    train: Split
    val: Split
    root: Path
    layout: str
    names: list[str] | None = None  # human-readable class names, when the layout has them

    @property
    def class_names(self) -> list[str]:
        return self.names or self.classes


FOLDER_LAYOUT = "ROOT/train/<class>/*.jpg and ROOT/val/<class>/*.jpg (or ROOT/test/<class>/...)"
CIFAR_LAYOUT = (
    "ROOT/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta} (the official python "
    "batches) or the folder layout " + FOLDER_LAYOUT
)


def _check_root(root: str | Path, expected: str) -> Path:
    if root is None or str(root) in ("", "None", "???"):
        raise DataError(f"data.root is not set: point it at a folder laid out as {expected}")
    path = Path(root).expanduser()
    if path.exists() and not path.is_dir():
        raise DataError(f"data.root={str(root)!r} is a file, not a folder: point it at a folder "
                        f"laid out as {expected}")
    if not path.is_dir():
        raise DataError(f"data.root={str(root)!r} does not exist; expected a folder laid out as "
                        f"{expected}")
    return path


def _image_files(folder: Path) -> list[Path]:
    """The folder's image files, sorted: one directory read, no stat per file where the file
    system gives each entry's type (os.scandir), as local ones and NFS do."""
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries
                      if os.path.splitext(e.name)[1].lower() in IMG_EXTENSIONS and e.is_file())


def _class_folder_split(split_dir: Path, classes: list[str]) -> Split:
    files, labels = [], []
    for index, name in enumerate(classes):
        class_dir = split_dir / name
        found = _image_files(class_dir) if class_dir.is_dir() else []
        files += found
        labels += [index] * len(found)
    return Split(labels=np.asarray(labels, dtype=np.int64), files=files)


def image_folder(root: str | Path, val_split: str | None = None) -> Source:
    """ImageFolder layout: `train/<class>/*` plus `val/<class>/*` or `test/<class>/*`.

    ImageNet's `train/<wnid>/*.JPEG` + `val/<wnid>/*.JPEG` is this layout too.
    """
    root = _check_root(root, FOLDER_LAYOUT)
    train_dir = root / "train"
    candidates = [val_split] if val_split else ["val", "test"]
    val_dir = next((root / c for c in candidates if (root / c).is_dir()), None)
    if not train_dir.is_dir() or val_dir is None:
        raise DataError(f"data.root={str(root)!r} has no train/ and val/ (or test/) folders; "
                        f"expected {FOLDER_LAYOUT}")
    classes = sorted(d.name for d in train_dir.iterdir() if d.is_dir())
    if len(classes) < 2:
        raise DataError(f"{train_dir} holds {len(classes)} class folders, need at least 2; "
                        f"expected {FOLDER_LAYOUT}")
    train, val = _class_folder_split(train_dir, classes), _class_folder_split(val_dir, classes)
    for split, folder in ((train, train_dir), (val, val_dir)):
        if len(split) == 0:
            raise DataError(f"{folder} holds no images (.jpg, .png, ...) in its class folders; "
                            f"expected {FOLDER_LAYOUT}")
    stray = sorted({d.name for d in val_dir.iterdir() if d.is_dir()} - set(classes))
    if stray:
        raise DataError(f"{val_dir} has class folders that train/ lacks: {stray[:5]}; both splits "
                        "need the same classes")
    # a class without training images would still get an output unit; one without val images
    # would be scored on the others only: both are errors, not quiet surprises
    for split, folder in ((train, train_dir), (val, val_dir)):
        empty = [c for i, c in enumerate(classes) if not np.any(split.labels == i)]
        if empty:
            raise DataError(f"{folder} has no images of class(es) {empty[:5]}"
                            f"{' (of ' + str(len(empty)) + ')' if len(empty) > 5 else ''}: add "
                            "their images or remove those class folders from every split; both "
                            "splits need the same classes")
    return Source(classes=classes, train=train, val=val, root=root, layout="folder")


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def cifar10(root: str | Path) -> Source:
    """CIFAR-10 as the official python batches, or as an ImageFolder of JPEGs."""
    root = _check_root(root, CIFAR_LAYOUT)
    batches = root / "cifar-10-batches-py" if (root / "cifar-10-batches-py").is_dir() else root
    if (batches / "data_batch_1").is_file():
        def load(names: list[str]) -> Split:
            data, labels = [], []
            for name in names:
                path = batches / name
                if not path.is_file():
                    raise DataError(f"{path} is missing; expected {CIFAR_LAYOUT}")
                d = _unpickle(path)
                data.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                labels += list(d["labels"])
            arrays = np.ascontiguousarray(np.concatenate(data).transpose(0, 2, 3, 1))
            return Split(labels=np.asarray(labels, dtype=np.int64), arrays=arrays)

        meta = batches / "batches.meta"
        classes = _unpickle(meta)["label_names"] if meta.is_file() else [str(i) for i in range(10)]
        train = load([f"data_batch_{i}" for i in range(1, 6)])
        return Source(classes, train, load(["test_batch"]), root, layout="cifar10-python")
    try:
        source = image_folder(root)
    except DataError as e:
        raise DataError(f"data.root={str(root)!r} is not CIFAR-10: expected {CIFAR_LAYOUT}") from e
    source.layout = "cifar10-folder"
    return source

