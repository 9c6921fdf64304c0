"""The WordNet-id layouts: ILSVRC-2012 (ImageNet), Tiny ImageNet-200 and Imagenette.

Each reads into a `Source` (files, labels, class ids, human-readable names) so they share the
decode-once cache and the batched augmentation. Classes are the WordNet ids in sorted order
(torchvision's ImageFolder order), so a label index means the same thing in every layout.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from alexnet.data.sources import (
    DataError,
    Source,
    Split,
    _check_root,
    _class_folder_split,
    _image_files,
)

IMAGENET_LAYOUT = (
    "ROOT/train/<wnid>/*.JPEG and ROOT/val/<wnid>/*.JPEG, or a flat ROOT/val/*.JPEG labelled by "
    "ROOT/val_labels.txt ('<file> <wnid>' lines), ROOT/LOC_val_solution.csv (Kaggle) or the "
    "devkit's ILSVRC2012_validation_ground_truth.txt + meta.mat (ROOT/ILSVRC/Data/CLS-LOC/ is read "
    "too)"
)
TINY_LAYOUT = (
    "ROOT/wnids.txt, ROOT/words.txt, ROOT/train/<wnid>/images/*.JPEG, ROOT/val/images/*.JPEG and "
    "ROOT/val/val_annotations.txt (the official tiny-imagenet-200 archive)"
)
IMAGENETTE_LAYOUT = "ROOT/train/<wnid>/*.JPEG and ROOT/val/<wnid>/*.JPEG (fast.ai's imagenette2)"

# fast.ai Imagenette's ten classes; other WordNet ids show as themselves unless a names file
# (LOC_synset_mapping.txt, words.txt) is present.
IMAGENETTE_NAMES = {
    "n01440764": "tench", "n02102040": "English springer", "n02979186": "cassette player",
    "n03000684": "chain saw", "n03028079": "church", "n03394916": "French horn",
    "n03417042": "garbage truck", "n03425413": "gas pump", "n03445777": "golf ball",
    "n03888605": "parachute",
}
NAMES_FILES = ("LOC_synset_mapping.txt", "synset_words.txt", "words.txt")
DEVKIT_DIRS = (".", "ILSVRC2012_devkit_t12/data", "ILSVRC2012_devkit_t12", "devkit/data", "devkit")


def read_names(root: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """wnid → first human-readable name, from the first names file found ('wnid name, name')."""
    names = dict(extra or {})
    for name in NAMES_FILES:
        path = root / name
        if path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                wnid, _, words = (line.strip().partition(" ") if "\t" not in line
                                  else line.strip().partition("\t"))
                if wnid and words:
                    names[wnid] = words.split(",")[0].strip()
            break
    return names


def _train_classes(train_dir: Path, layout: str) -> list[str]:
    if not train_dir.is_dir():
        raise DataError(f"{train_dir} does not exist; expected {layout}")
    classes = sorted(d.name for d in train_dir.iterdir() if d.is_dir())
    if len(classes) < 2:
        raise DataError(f"{train_dir} holds {len(classes)} class folders, need at least 2; "
                        f"expected {layout}")
    return classes


def _nonempty(split: Split, where: Path, layout: str) -> Split:
    if len(split) == 0:
        raise DataError(f"{where} holds no images; expected {layout}")
    return split


def _labelled(files: list[Path], wnid_of: dict[str, str], classes: list[str], what: str) -> Split:
    """Flat files labelled by a file-name → wnid table (keys with or without the extension)."""
    index = {c: i for i, c in enumerate(classes)}
    labels = []
    for f in files:
        wnid = wnid_of.get(f.name, wnid_of.get(f.stem))
        if wnid is None:
            raise DataError(f"{f} has no label in {what}; expected {IMAGENET_LAYOUT}")
        if wnid not in index:
            raise DataError(f"{f} is labelled {wnid} in {what}, a class train/ lacks")
        labels.append(index[wnid])
    return Split(labels=np.asarray(labels, dtype=np.int64), files=files)


def _flat_val_labels(root: Path, val_dir: Path, files: list[Path]) -> tuple[dict[str, str], str]:
    """The flat validation set's file → wnid table, from whichever label file is present."""
    for folder in (root, val_dir):
        path = folder / "val_labels.txt"
        if path.is_file():
            pairs = (line.split() for line in path.read_text().splitlines() if line.strip())
            return {p[0]: p[1] for p in pairs if len(p) >= 2}, str(path)
    for folder in (root, val_dir):  # Kaggle: next to ILSVRC/
        path = folder / "LOC_val_solution.csv"
        if path.is_file():
            with open(path, newline="") as f:
                return ({r["ImageId"]: r["PredictionString"].split()[0] for r in csv.DictReader(f)},
                        str(path))
    for sub in DEVKIT_DIRS:
        truth = root / sub / "ILSVRC2012_validation_ground_truth.txt"
        if truth.is_file():
            ids = [int(line) for line in truth.read_text().split()]
            if len(ids) != len(files):
                raise DataError(f"{truth} has {len(ids)} labels for {len(files)} images in "
                                f"{val_dir}; they must match one to one")
            id_to_wnid = devkit_wnids(truth.parent)
            return {f.name: id_to_wnid[i] for f, i in zip(files, ids, strict=True)}, str(truth)
    raise DataError(f"{val_dir} is a flat folder with no label file; expected {IMAGENET_LAYOUT}")


def devkit_wnids(folder: Path) -> dict[int, str]:
    """ILSVRC2012_ID (1-based) → wnid from the devkit's meta.mat (scipy), or from a plain
    `ilsvrc2012_ids.txt` ('<id> <wnid>' lines) next to it."""
    from scipy.io import loadmat

    plain = folder / "ilsvrc2012_ids.txt"
    if plain.is_file():
        return {int(a): b for a, b in (line.split()[:2] for line in plain.read_text().splitlines()
                                       if line.strip())}
    meta = folder / "meta.mat"
    if not meta.is_file():
        raise DataError(f"{folder} has the ground truth but no meta.mat (or ilsvrc2012_ids.txt) "
                        "to map its ids to wnids")
    rows = np.atleast_1d(loadmat(meta, squeeze_me=True)["synsets"])
    return {int(np.ravel(r["ILSVRC2012_ID"])[0]): str(r["WNID"]) for r in rows}


def imagenet(root: str | Path) -> Source:
    """ILSVRC-2012: train/<wnid>/*.JPEG; val/ by class folders or flat with a label file."""
    top = _check_root(root, IMAGENET_LAYOUT)
    base = (top / "ILSVRC" / "Data" / "CLS-LOC" if (top / "ILSVRC" / "Data" / "CLS-LOC").is_dir()
            else top)
    classes = _train_classes(base / "train", IMAGENET_LAYOUT)
    train = _nonempty(_class_folder_split(base / "train", classes), base / "train", IMAGENET_LAYOUT)
    val_dir = base / "val"
    if not val_dir.is_dir():
        raise DataError(f"{val_dir} does not exist; expected {IMAGENET_LAYOUT}")
    if any(d.is_dir() for d in val_dir.iterdir()):
        val = _class_folder_split(val_dir, classes)
        layout = "imagenet-folders"
    else:
        files = _image_files(val_dir)
        table, label_file = _flat_val_labels(top, val_dir, files)
        val = _labelled(files, table, classes, label_file)
        layout = f"imagenet-flat-val ({Path(label_file).name})"
    names = read_names(top)
    return Source(classes, train, _nonempty(val, val_dir, IMAGENET_LAYOUT), base, layout,
                  names=[names.get(c, c) for c in classes])


def tiny_imagenet(root: str | Path) -> Source:
    """Tiny ImageNet-200: 64×64 JPEGs, train/<wnid>/images/, val/images/ + val_annotations.txt."""
    root = _check_root(root, TINY_LAYOUT)
    wnids_file, annotations = root / "wnids.txt", root / "val" / "val_annotations.txt"
    for needed in (wnids_file, annotations, root / "train", root / "val" / "images"):
        if not needed.exists():
            raise DataError(f"data.root={str(root)!r} lacks {needed.relative_to(root)}; "
                            f"expected {TINY_LAYOUT}")
    classes = sorted(set(wnids_file.read_text().split()))
    index = {c: i for i, c in enumerate(classes)}
    files, labels = [], []
    for wnid in classes:
        found = (_image_files(root / "train" / wnid / "images")
                 if (root / "train" / wnid / "images").is_dir() else [])
        files += found
        labels += [index[wnid]] * len(found)
    train = _nonempty(Split(np.asarray(labels, dtype=np.int64), files), root / "train", TINY_LAYOUT)
    table = {}
    for line in annotations.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            table[parts[0]] = parts[1]
    val_files = _image_files(root / "val" / "images")
    val = _nonempty(_labelled(val_files, table, classes, str(annotations)), root / "val" / "images",
                    TINY_LAYOUT)
    names = read_names(root)
    return Source(classes, train, val, root, "tiny-imagenet-200",
                  names=[names.get(c, c) for c in classes])


def imagenette(root: str | Path) -> Source:
    """fast.ai Imagenette (or Imagewoof): train/<wnid>/ and val/<wnid>/, full-size JPEGs."""
    root = _check_root(root, IMAGENETTE_LAYOUT)
    classes = _train_classes(root / "train", IMAGENETTE_LAYOUT)
    if not (root / "val").is_dir():
        raise DataError(f"data.root={str(root)!r} has no val/ folder; expected {IMAGENETTE_LAYOUT}")
    train = _nonempty(_class_folder_split(root / "train", classes), root / "train",
                      IMAGENETTE_LAYOUT)
    val = _nonempty(_class_folder_split(root / "val", classes), root / "val", IMAGENETTE_LAYOUT)
    names = read_names(root, IMAGENETTE_NAMES)
    return Source(classes, train, val, root, "imagenette", names=[names.get(c, c) for c in classes])
