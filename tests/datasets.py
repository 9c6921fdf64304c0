"""Generated look-alikes of the public layouts (ImageNet, Tiny ImageNet, Imagenette) for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

WNIDS = ("n01440764", "n02102040", "n02979186")
NAMES = ("tench", "English springer", "cassette player")


def jpeg(path: Path, rng, colour: int, size=None) -> None:
    w, h = size or (int(rng.integers(24, 70)), int(rng.integers(24, 70)))  # varied sizes
    base = np.zeros((h, w, 3), np.uint8) + np.uint8(colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(base + rng.integers(0, 30, base.shape, dtype=np.uint8)).save(path, quality=90)


def imagenet(root: Path, val: str = "devkit", per_class=(5, 2), seed=0) -> Path:
    """train/<wnid>/*.JPEG and a validation set: `folders`, or flat val/ labelled by `devkit`
    (ground truth + meta.mat), `kaggle` (LOC_val_solution.csv) or `plain` (val_labels.txt)."""
    rng = np.random.default_rng(seed)
    for c, wnid in enumerate(WNIDS):
        for i in range(per_class[0]):
            jpeg(root / "train" / wnid / f"{wnid}_{i}.JPEG", rng, 70 * c + 20)
    (root / "val").mkdir(exist_ok=True)
    (root / "LOC_synset_mapping.txt").write_text("".join(f"{w} {n}, other name\n" for w, n in zip(WNIDS, NAMES, strict=True)))
    labels = [c for c in range(len(WNIDS)) for _ in range(per_class[1])]
    rng.shuffle(labels)
    files = [f"ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(len(labels))]
    for f, c in zip(files, labels, strict=True):
        target = root / "val" / (WNIDS[c] if val == "folders" else "") / f
        jpeg(target, rng, 70 * c + 20)
    if val == "plain":
        (root / "val_labels.txt").write_text("".join(f"{f} {WNIDS[c]}\n" for f, c in zip(files, labels, strict=True)))
    elif val == "kaggle":
        rows = [f"{f[:-5]},{WNIDS[c]} 1 2 30 40 {WNIDS[c]} 3 4 20 20" for f, c in zip(files, labels, strict=True)]
        (root / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + "\n".join(rows) + "\n")
    elif val == "devkit":
        # the devkit numbers classes its own way: ILSVRC2012_ID 1 is the last wnid here
        ids = {wnid: i + 1 for i, wnid in enumerate(reversed(WNIDS))}
        data = root / "ILSVRC2012_devkit_t12" / "data"
        data.mkdir(parents=True)
        (data / "ILSVRC2012_validation_ground_truth.txt").write_text("".join(f"{ids[WNIDS[c]]}\n" for c in labels))
        write_meta_mat(data / "meta.mat", [(ids[w], w, n) for w, n in zip(WNIDS, NAMES, strict=True)], compress=True)
    return root


def tiny_imagenet(root: Path, per_class=(4, 2), seed=0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "wnids.txt").write_text("\n".join(reversed(WNIDS)) + "\n")  # not sorted, as the archive
    (root / "words.txt").write_text("n00001740\tentity\n" + "".join(f"{w}\t{n}, x\n" for w, n in zip(WNIDS, NAMES, strict=True)))
    lines = []
    for c, wnid in enumerate(WNIDS):
        for i in range(per_class[0]):
            jpeg(root / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", rng, 70 * c + 20, (64, 64))
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
        for i in range(per_class[1]):
            name = f"val_{c * per_class[1] + i}.JPEG"
            jpeg(root / "val" / "images" / name, rng, 70 * c + 20, (64, 64))
            lines.append(f"{name}\t{wnid}\t0\t0\t10\t10")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return root


def imagenette(root: Path, per_class=(3, 2), seed=0) -> Path:
    rng = np.random.default_rng(seed)
    for split, n in zip(("train", "val"), per_class, strict=True):
        for c, wnid in enumerate(WNIDS):
            for i in range(n):
                jpeg(root / split / wnid / f"{wnid}_{i}.JPEG", rng, 70 * c + 20)
    return root


def write_meta_mat(path: Path, synsets, compress: bool = False) -> None:
    """`synsets` as the devkit has it: a struct array with ILSVRC2012_ID, WNID, words, num_children."""
    from scipy.io import savemat

    fields = [("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("num_children", "O")]
    rows = np.array([(float(i), w, words, 0.0) for i, w, words in synsets], dtype=fields)
    savemat(path, {"synsets": rows.reshape(-1, 1)}, do_compression=compress)
