"""Sources, the decoded cache, statistics and the batched augmentation."""

import pickle

import numpy as np
import pytest
import torch

from alexnet.data import cache
from alexnet.data.datamodule import AlexNetDataModule
from alexnet.data.parallel import EpochShuffle
from alexnet.data.resumable import ResumableLoader
from alexnet.data.sources import DataError, cifar10, image_folder
from alexnet.data.stats import image_stats
from alexnet.data.transforms import Normalize, center_crop, random_crop_flip
from conftest import data_args

image_folder_source = image_folder  # the source function; `image_folder` below is the fixture


def test_image_folder_reads_classes_and_splits(image_folder):
    src = image_folder_source(image_folder)
    assert src.classes == ["a", "b", "c"]
    assert len(src.train) == 18 and len(src.val) == 9
    assert list(np.bincount(src.train.labels)) == [6, 6, 6]
    assert src.layout == "folder"


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "nope", "does not exist"),
    (lambda p: p, "has no train/ and val/"),
])
def test_bad_roots_name_the_expected_layout(tmp_path, make, message):
    with pytest.raises(DataError, match=message) as e:
        image_folder(make(tmp_path))
    assert "train/<class>" in str(e.value) and "\n" not in str(e.value)


def test_empty_class_folders_are_refused(tmp_path):
    for split in ("train", "val"):
        (tmp_path / split / "a").mkdir(parents=True)
        (tmp_path / split / "b").mkdir(parents=True)
    with pytest.raises(DataError, match="holds no images"):
        image_folder(tmp_path)


def test_unset_root_says_how_to_set_it():
    with pytest.raises(DataError, match="data.root is not set"):
        image_folder(None)


def test_cifar10_python_batches(tmp_path):
    batches = tmp_path / "cifar-10-batches-py"
    batches.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        with open(batches / name, "wb") as f:
            pickle.dump({"data": data, "labels": [0, 1, 2, 3]}, f)
    with open(batches / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    src = cifar10(tmp_path)
    assert src.layout == "cifar10-python" and len(src.train) == 20 and len(src.val) == 4
    # channel-planar rows → HWC images: pixel (0,0) of image 0 is data[0][[0, 1024, 2048]]
    with open(batches / "data_batch_1", "rb") as f:
        first = pickle.load(f)["data"][0]
    assert list(src.train.arrays[0, 0, 0]) == [first[0], first[1024], first[2048]]


def test_corrupt_image_fails_with_its_path(image_folder, tmp_path):
    bad = image_folder / "train" / "a" / "000.jpg"
    bad.write_bytes(bad.read_bytes()[:50])  # truncated JPEG
    src = image_folder_source(image_folder)
    with pytest.raises(DataError, match="000.jpg"):
        cache.decoded(src.train, "train", 32, src.root, tmp_path / "cache")
    finished = [p for p in (tmp_path / "cache").glob("*.npy") if not p.name.endswith(".partial.npy")]
    assert not finished  # nothing that looks finished


def test_decoded_cache_resizes_shorter_side_then_centre_crops(image_folder, tmp_path):
    src = image_folder_source(image_folder)
    arr = cache.decoded(src.train, "train", 32, src.root, tmp_path).images
    assert arr.shape == (18, 3, 32, 32) and arr.dtype == np.uint8
    # a second call reuses the file; other settings get another file
    assert len(list(tmp_path.glob("train-32px-*.npy"))) == 1
    cache.decoded(src.train, "train", 24, src.root, tmp_path)
    assert len(list(tmp_path.glob("train-*.npy"))) == 2


def test_cache_key_changes_when_a_file_changes(image_folder):
    src = image_folder_source(image_folder)
    before = cache.cache_key(src.train, 32, src.root)
    (image_folder / "train" / "a" / "extra.jpg").write_bytes((image_folder / "train" / "a" / "000.jpg").read_bytes())
    assert cache.cache_key(image_folder_source(image_folder).train, 32, src.root) != before


def test_the_statistics_are_the_same_for_any_threads_and_computed_once(tmp_path, monkeypatch):
    from alexnet.data import stats

    images = np.random.default_rng(2).integers(0, 256, (40, 3, 8, 8), dtype=np.uint8)
    rows = np.arange(0, 40, 3)
    one = image_stats(images, tmp_path / "one.npz", chunk=3, rows=rows, workers=1)
    three = image_stats(images, tmp_path / "three.npz", chunk=3, rows=rows, workers=3)
    assert all(np.array_equal(one[k], three[k]) for k in one)  # added in block order: bit-identical
    monkeypatch.setattr(stats, "_compute", lambda *a, **k: pytest.fail("computed again"))
    again = image_stats(images, tmp_path / "one.npz", rows=rows)  # another rank or job: reads it
    assert all(np.array_equal(one[k], again[k]) for k in one)


def test_mean_image_and_channel_stats_match_a_direct_computation(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (50, 3, 8, 8), dtype=np.uint8)
    stats = image_stats(images, tmp_path / "s.npz", chunk=7)
    as_float = images.astype(np.float64)
    np.testing.assert_allclose(stats["mean_image"], as_float.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats["channel_mean"], as_float.mean((0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(stats["channel_std"], as_float.std((0, 2, 3)), rtol=1e-4)
    again = image_stats(images[:1], tmp_path / "s.npz")  # cached: not recomputed
    np.testing.assert_array_equal(again["mean_image"], stats["mean_image"])


def test_random_crops_are_patches_and_flips_mirror_them():
    images = torch.arange(4 * 3 * 10 * 10, dtype=torch.float32).reshape(4, 3, 10, 10)
    g = torch.Generator().manual_seed(3)
    out = random_crop_flip(images, 7, g)
    assert out.shape == (4, 3, 7, 7)
    for i in range(4):
        found = False
        for top in range(4):
            for left in range(4):
                patch = images[i, :, top : top + 7, left : left + 7]
                if torch.equal(out[i], patch) or torch.equal(out[i], patch.flip(-1)):
                    found = True
        assert found
    # the same generator state gives the same crops (resumable); flips do happen
    again = random_crop_flip(images, 7, torch.Generator().manual_seed(3))
    assert torch.equal(out, again)
    many = random_crop_flip(images.repeat(50, 1, 1, 1), 10, torch.Generator().manual_seed(0))
    flipped = (many != images.repeat(50, 1, 1, 1)).flatten(1).any(1).float().mean()
    assert 0.3 < flipped < 0.7


def test_center_crop():
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    assert torch.equal(center_crop(x, 4), x[..., 1:5, 1:5])


def test_normalize_paper_input_keeps_the_0_255_scale():
    mean_image = np.full((3, 4, 4), 100.0, np.float32)
    mean_image[0, 0, 0] = 0.0
    n = Normalize(mean_image, np.array([100.0] * 3), np.array([50.0] * 3), mean="pixel")
    x = torch.full((1, 3, 4, 4), 200, dtype=torch.uint8)
    out = n(x)
    assert out[0, 0, 0, 0] == 200 and out[0, 1, 1, 1] == 100
    std = Normalize(mean_image, np.array([100.0] * 3), np.array([50.0] * 3), mean="channel", divide_std=True)
    assert torch.allclose(std(x), torch.full((1, 3, 4, 4), 2.0))


def test_epoch_shuffle_depends_on_seed_and_epoch_only():
    s = EpochShuffle(20, seed=1)
    first = list(s)
    s.set_epoch(1)
    second = list(s)
    assert sorted(first) == list(range(20)) and first != second
    t = EpochShuffle(20, seed=1)
    t.set_epoch(1)
    assert list(t) == second


class CountingDataset(torch.utils.data.Dataset):
    """Index i -> i, counting the reads: a skipped batch must not be read."""

    def __init__(self, n):
        self.n, self.reads = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.reads += 1
        return i


def epoch_batches(loader, epoch):
    loader.sampler.set_epoch(epoch)
    return [b.tolist() for b in loader]


@pytest.mark.parametrize("workers", [0, 1])
def test_resumable_loader_continues_an_epoch_where_the_checkpoint_left_it(workers):
    def loader(data):
        return ResumableLoader(data, batch_size=4, sampler=EpochShuffle(22, seed=3), drop_last=True,
                               num_workers=workers, persistent_workers=workers > 0)

    straight = loader(CountingDataset(22))
    epochs = [epoch_batches(straight, e) for e in range(3)]
    assert len(epochs[1]) == 5 and epochs[1] != epochs[2]

    killed = loader(CountingDataset(22))
    killed.sampler.set_epoch(1)
    taken = []
    for batch in killed:  # two batches of epoch 1 trained, then a checkpoint
        taken.append(batch.tolist())
        if len(taken) == 2:
            state = killed.state_dict()
            break
    assert state == {"epoch": 1, "taken": 2}

    data = CountingDataset(22)
    resumed = loader(data)
    resumed.load_state_dict(state)  # Lightning: before the resumed epoch, then it sets the epoch
    assert resumed.state_dict() == state  # a checkpoint before the first draw keeps the place
    rest = epoch_batches(resumed, 1)
    assert taken + rest == epochs[1]  # the epoch continues exactly
    if workers == 0:  # (worker processes count their own reads)
        assert data.reads == 3 * 4  # the skipped batches were never read
    assert resumed.state_dict() == {"epoch": 1, "taken": 5}
    assert epoch_batches(resumed, 2) == epochs[2]  # later epochs whole


def test_a_loader_with_persistent_workers_is_freed_with_them_when_dropped():
    """No reference cycle through the resumable batches: dropped, the loader goes at once and
    its worker stops. (A cycle left it to the garbage collector, which closed the workers'
    queues first: each worker then held the process for its 5 s join timeout.)"""
    import gc
    import weakref

    loader = ResumableLoader(CountingDataset(12), batch_size=4, sampler=EpochShuffle(12, seed=0),
                             num_workers=1, persistent_workers=True)
    next(iter(loader))
    workers, ref = list(loader._iterator._workers), weakref.ref(loader)
    gc.disable()
    try:
        del loader
        assert ref() is None and not any(w.is_alive() for w in workers)
    finally:
        gc.enable()


def test_a_checkpoint_from_an_epochs_end_skips_nothing_of_the_next():
    loader = ResumableLoader(CountingDataset(12), batch_size=4, sampler=EpochShuffle(12, seed=0))
    whole = epoch_batches(loader, 1)
    state = loader.state_dict()
    assert state == {"epoch": 1, "taken": 3}
    fresh = ResumableLoader(CountingDataset(12), batch_size=4, sampler=EpochShuffle(12, seed=0))
    fresh.load_state_dict(state)
    assert len(epoch_batches(fresh, 2)) == 3 and whole != epoch_batches(fresh, 2)


def test_datamodule_batches_are_uint8_then_augmented(image_folder):
    dm = AlexNetDataModule(**data_args(str(image_folder), stored_size=32, crop_size=28, batch_size=4))
    assert dm.num_classes == 3
    dm.setup()
    images, labels = next(iter(dm.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (4, 3, 32, 32)
    x, y = dm.on_after_batch_transfer((images, labels), 0)  # no trainer: evaluation path
    assert x.shape == (4, 3, 28, 28) and x.dtype == torch.float32
    assert (image_folder / ".alexnet-cache").is_dir()


def test_view_4_of_the_ten_crops_is_exactly_the_centre_crop(image_folder):
    dm = AlexNetDataModule(**data_args(str(image_folder), stored_size=32, crop_size=27, batch_size=4))
    dm.setup()
    images, _ = next(iter(dm.test_dataloader()))
    ten, centre = dm.eval_batch(images, ten_crop=True), dm.eval_batch(images)
    assert ten.shape == (4, 10, 3, 27, 27) and torch.equal(ten[:, 4], centre)


def test_ten_crop_batches_hold_about_as_many_crops_as_a_training_batch(image_folder):
    """Ten crops per image: the test loader (and validation outside fit) takes a tenth of the
    images per batch (rounded up), so ten-crop input at 227 px is ~79 MB per batch of 128, not 790 MB."""
    def first_batches(ten_crop):
        dm = AlexNetDataModule(**data_args(str(image_folder), stored_size=32, crop_size=28, batch_size=6, ten_crop=ten_crop))
        dm.setup()
        return [len(next(iter(loader))[0]) for loader in (dm.test_dataloader(), dm.val_dataloader(), dm.train_dataloader())]

    assert first_batches(ten_crop=True) == [1, 1, 6]  # val without a trainer: evaluate.py's ten-crop validation
    assert first_batches(ten_crop=False) == [6, 6, 6]


def test_take_reads_the_rows_of_a_split_not_the_whole_decoded_array(image_folder):
    dm = AlexNetDataModule(**data_args(str(image_folder), stored_size=32, crop_size=28, holdout=3))
    dm.setup()
    images, labels = dm.val_set.take()
    assert images.shape == (3, 3, 32, 32) and labels.tolist() == [0, 1, 2]
    assert np.array_equal(images, np.asarray(dm.train_set.images)[dm.val_set.rows])
    some, _ = dm.train_set.take([0, 2])
    assert np.array_equal(some, np.asarray(dm.train_set.images)[dm.train_set.rows[[0, 2]]])
