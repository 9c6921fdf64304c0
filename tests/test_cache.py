"""Messy images, unreadable files, and the cache's resume and verification."""

import json

import numpy as np
import pytest
from PIL import Image

from alexnet.data import cache, decode
from alexnet.data.datamodule import AlexNetDataModule
from alexnet.data.sources import DataError
from alexnet.data.sources import image_folder as folder_source  # `image_folder` is the fixture
from conftest import data_args


def messy_images(folder):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    files = {}
    files["grey.jpg"] = Image.fromarray(rgb[..., 0])
    files["cmyk.jpg"] = Image.fromarray(rgb).convert("CMYK")
    files["palette.png"] = Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE)
    rgba = np.dstack([rgb, np.full((30, 40), 255, np.uint8)])
    rgba[:, :20, 3] = 0  # left half fully transparent
    files["alpha.png"] = Image.fromarray(rgba)
    files["grey_alpha.png"] = Image.fromarray(np.ascontiguousarray(rgba[..., [0, 3]]))
    transparent = Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE)
    transparent.info["transparency"] = 0
    files["palette_transparent.png"] = transparent
    files["sixteen_bit.png"] = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
    paths = {}
    for name, image in files.items():
        paths[name] = folder / name
        image.save(paths[name], **({"transparency": 0} if name == "palette_transparent.png" else {}))
    return paths


def test_grey_cmyk_palette_alpha_and_16_bit_images_come_out_rgb(tmp_path):
    paths = messy_images(tmp_path)
    for name, path in paths.items():
        out = decode.decode_image(path, 24)
        assert out.shape == (3, 24, 24) and out.dtype == np.uint8, name
    # transparency is composited on white: the transparent half of alpha.png is 255
    with Image.open(paths["alpha.png"]) as im:
        assert im.mode == "RGBA"
    whole = decode.decode_image(paths["alpha.png"], 30)  # 40×30 → 40×30, centre 30×30: columns 5..34
    assert (whole[:, :, :15] == 255).all()
    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    sixteen = decode.decode_image(paths["sixteen_bit.png"], 30)  # 16 bits scaled, not clipped
    np.testing.assert_array_equal(sixteen[1], rgb[:, 5:35, 0])
    grey = decode.decode_image(paths["grey.jpg"], 24)
    assert (grey[0] == grey[1]).all() and (grey[1] == grey[2]).all()


def truncated_folder(root, write_image_folder):
    write_image_folder(root)
    bad = root / "train" / "b" / "002.jpg"
    bad.write_bytes(bad.read_bytes()[: len(bad.read_bytes()) // 2])
    return bad


def test_a_truncated_jpeg_fails_with_its_path_or_is_skipped_and_counted(tmp_path):
    from conftest import write_image_folder

    bad = truncated_folder(tmp_path / "d", write_image_folder)
    src = folder_source(tmp_path / "d")
    with pytest.raises(DataError, match=r"b/002\.jpg.*data.skip_bad_images=true"):
        cache.decoded(src.train, "train", 16, src.root, tmp_path / "c1")
    got = cache.decoded(src.train, "train", 16, src.root, tmp_path / "c2", skip_bad=True)
    index = src.train.files.index(bad)
    assert got.skipped == [index] and got.skipped_files == [str(bad)]
    assert index not in got.keep and len(got.keep) == len(src.train) - 1
    dm = AlexNetDataModule(**data_args(str(tmp_path / "d"), stored_size=16, crop_size=12, batch_size=4,
                                       skip_bad_images=True, cache_dir=str(tmp_path / "c3")))
    dm.setup()
    assert len(dm.train_set) == len(src.train) - 1
    assert dm.describe()["skipped_images"] == 1


class Interrupt(Exception):
    pass


def test_an_interrupted_build_resumes_where_it_stopped(image_folder, tmp_path, monkeypatch):
    src = folder_source(image_folder)
    reference = cache.decoded(src.train, "train", 16, src.root, tmp_path / "ref", workers=1).images
    real, calls = cache.decode_image, []

    def flaky(path, size):
        calls.append(path)
        if len(calls) == 9:
            raise Interrupt  # the 9th image: chunks 1-2 (4 images each) are on disk
        return real(path, size)

    monkeypatch.setattr(cache, "decode_image", flaky)
    folder = tmp_path / "c"
    with pytest.raises(Interrupt):
        cache.decoded(src.train, "train", 16, src.root, folder, workers=1, chunk=4)
    progress = json.loads(next(folder.glob("*.progress.json")).read_text())
    assert progress["done"] == 8 and not [p for p in folder.glob("*.npy") if ".partial" not in p.name]
    calls.clear()
    monkeypatch.setattr(cache, "decode_image", lambda p, s: (calls.append(p), real(p, s))[1])
    done = cache.decoded(src.train, "train", 16, src.root, folder, workers=1, chunk=4)
    assert len(calls) == len(src.train) - 8  # only the rest was decoded
    np.testing.assert_array_equal(done.images, reference)
    assert not list(folder.glob("*.progress.json")) and not list(folder.glob("*.partial.npy"))


def test_a_stale_or_partial_cache_is_detected_and_rebuilt(image_folder, tmp_path, caplog):
    src = folder_source(image_folder)
    folder = tmp_path / "c"
    good = cache.decoded(src.train, "train", 16, src.root, folder)
    expected = np.array(good.images)
    path, manifest = good.path, good.path.with_suffix(".json")

    # 1. a finished-looking file without its manifest (e.g. copied, or a crash of an old build)
    manifest.unlink()
    again = cache.decoded(src.train, "train", 16, src.root, folder)
    assert "has no manifest" in caplog.text
    np.testing.assert_array_equal(again.images, expected)

    # 2. a file whose content does not match its manifest (another build copied over it)
    del again, good
    other = np.lib.format.open_memmap(path, mode="r+")
    other[0] = 255 - other[0]
    other.flush()
    del other
    caplog.clear()
    again = cache.decoded(src.train, "train", 16, src.root, folder)
    assert "checksum" in caplog.text
    np.testing.assert_array_equal(again.images, expected)

    # 3. a manifest written for other settings
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(data | {"key": "0123456789abcdef"}))
    caplog.clear()
    again = cache.decoded(src.train, "train", 16, src.root, folder)
    assert "other settings" in caplog.text

    # 4. a partial build of other settings under this name is not resumed
    del again
    for f in folder.glob("train-16px-*.npy"):
        f.unlink()
    for f in folder.glob("train-16px-*.json"):
        f.unlink()
    stem = path.name[: -len(".npy")]
    np.lib.format.open_memmap(folder / f"{stem}.partial.npy", mode="w+", dtype=np.uint8, shape=(3, 3, 16, 16))
    (folder / f"{stem}.progress.json").write_text(json.dumps({"key": "other", "shape": [3, 3, 16, 16], "done": 3}))
    again = cache.decoded(src.train, "train", 16, src.root, folder)
    np.testing.assert_array_equal(again.images, expected)


def test_other_settings_and_interrupted_builds_are_listed_with_size_and_a_clean_command(image_folder, tmp_path, caplog,
                                                                                        monkeypatch):
    import logging

    src = folder_source(image_folder)
    folder = tmp_path / "c"
    cache.decoded(src.train, "train", 16, src.root, folder)
    stale = folder / "train-16px-0123456789abcdef.partial.npy"  # an interrupted build of other files
    stale.write_bytes(b"\0" * 2_000_000)
    (folder / "train-24px-fedcba9876543210.npy").write_bytes(b"\0" * 500_000)  # another stored size
    monkeypatch.setattr(cache, "_LISTED", set())  # a new process
    with caplog.at_level(logging.INFO):
        cache.decoded(src.train, "train", 16, src.root, folder)
        cache.decoded(src.train, "train", 16, src.root, folder)  # the next job of a sweep: said once
    lines = [r.getMessage() for r in caplog.records if "other settings or interrupted builds" in r.getMessage()]
    assert len(lines) == 1
    assert "holds 2 file(s)" in lines[0] and "(2.5 MB)" in lines[0]
    assert f"rm '{folder}/train-16px-0123456789abcdef'.* '{folder}/train-24px-fedcba9876543210'.*" in lines[0]
    assert stale.exists()  # listed, never deleted behind a user's back
