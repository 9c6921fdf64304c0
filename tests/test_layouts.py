"""The WordNet layouts: ImageNet (class folders or a flat val/ with any of its label files),
Tiny ImageNet-200, Imagenette; bad roots fail in one line naming the expected layout."""

import numpy as np
import pytest

import datasets
from alexnet.data import imagenet
from alexnet.data.layouts import load_source
from alexnet.data.sources import DataError


def truth(root, src):
    """The label of each val file as the generator wrote it (its colour says its class)."""
    from PIL import Image

    return [int(round((np.asarray(Image.open(f)).mean() - 20 - 15) / 70)) for f in src.val.files]


@pytest.mark.parametrize("val", ["folders", "plain", "kaggle", "devkit"])
def test_imagenet_validation_labels_from_every_supported_file(tmp_path, val):
    root = datasets.imagenet(tmp_path / "in", val=val)
    src = load_source("imagenet", root)
    assert src.classes == sorted(datasets.WNIDS)
    assert src.names == ["tench", "English springer", "cassette player"]
    assert len(src.train) == 15 and len(src.val) == 6
    assert list(src.val.labels) == truth(root, src)


def test_the_devkits_meta_mat_maps_its_ids_to_wnids(tmp_path):
    datasets.write_meta_mat(tmp_path / "meta.mat", [(1, "n02119789", "kit fox, Vulpes macrotis"), (2, "n02100735", "setter")])
    assert imagenet.devkit_wnids(tmp_path) == {1: "n02119789", 2: "n02100735"}
    datasets.write_meta_mat(tmp_path / "meta.mat", [(7, "n02100735", "setter")], compress=True)  # one row
    assert imagenet.devkit_wnids(tmp_path) == {7: "n02100735"}


def test_kaggle_layout_under_ilsvrc_data_cls_loc(tmp_path):
    inner = datasets.imagenet(tmp_path / "k" / "ILSVRC" / "Data" / "CLS-LOC", val="kaggle")
    for name in ("LOC_val_solution.csv", "LOC_synset_mapping.txt"):
        (inner / name).rename(tmp_path / "k" / name)
    src = load_source("imagenet", tmp_path / "k")
    assert len(src.val) == 6 and src.names[0] == "tench" and src.root == inner


def test_tiny_imagenet_and_imagenette(tmp_path):
    tiny = load_source("tiny_imagenet", datasets.tiny_imagenet(tmp_path / "tiny"))
    assert tiny.classes == sorted(datasets.WNIDS) and tiny.names[0] == "tench"
    assert len(tiny.train) == 12 and list(np.bincount(tiny.val.labels)) == [2, 2, 2]
    nette = load_source("imagenette", datasets.imagenette(tmp_path / "nette"))
    assert nette.names == ["tench", "English springer", "cassette player"] and len(nette.val) == 6


@pytest.mark.parametrize("kind, make, message", [
    ("imagenet", lambda p: p, "train does not exist; expected ROOT/train/<wnid>/*.JPEG"),
    ("imagenet", lambda p: datasets.imagenet(p, val="plain").joinpath("val_labels.txt").unlink() or p,
     "is a flat folder with no label file"),
    ("tiny_imagenet", lambda p: p, "lacks wnids.txt; expected ROOT/wnids.txt"),
    ("imagenette", lambda p: p, "expected ROOT/train/<wnid>/*.JPEG and ROOT/val/<wnid>/*.JPEG (fast.ai"),
    ("imagenet", lambda p: None, "data.root is not set"),
])
def test_a_root_that_does_not_match_says_the_layout_in_one_line(tmp_path, kind, make, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace("*", r"\*")) as e:
        load_source(kind, make(tmp_path))
    assert "\n" not in str(e.value)


def test_ground_truth_of_the_wrong_length_is_refused(tmp_path):
    root = datasets.imagenet(tmp_path / "in", val="devkit")
    gt = root / "ILSVRC2012_devkit_t12" / "data" / "ILSVRC2012_validation_ground_truth.txt"
    gt.write_text("1\n2\n")
    with pytest.raises(DataError, match="has 2 labels for 6 images"):
        load_source("imagenet", root)
