"""export.py: the exported net computes what the checkpoint's net computes, and the JSON beside it
is enough to prepare an image the way the platform does."""

import json
import runpy
import sys

import numpy as np
import pytest
import torch

from alexnet.checkpoint import load
from alexnet.data.decode import decode_image
from alexnet.data.transforms import center_crop
from alexnet.export import export
from alexnet.training import train
from conftest import REPO, make_config, write_image_folder
from test_evaluate import SMALL


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """A tiny net trained one epoch on a three-class folder (per-pixel mean, the paper's input)."""
    tmp = tmp_path_factory.mktemp("export")
    root = write_image_folder(tmp / "data", classes=("cat", "dog", "emu"), size=(50, 40))
    summary = train(make_config(*SMALL, "data=folder", f"data.root={root}"), tmp / "job")
    assert summary["status"] == "completed"
    return tmp / "job", root


def run_exported(path, fmt, x: torch.Tensor) -> torch.Tensor:
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(None, {"image": x.numpy()})[0])
    return torch.jit.load(str(path))(x)


def prepare(card_path, stored: np.ndarray) -> np.ndarray:
    """An image (3, S, S) uint8 as decoded, made into the net's input by the JSON alone, numpy only."""
    pre = json.loads(card_path.read_text())["preprocessing"]
    x = stored.astype(np.float32)
    x -= np.load(card_path.parent / pre["mean_image"]) if pre["mean"] == "pixel" else np.float32(pre["channel_mean"])[:, None, None]
    if pre["divide_std"]:
        x /= np.float32(pre["channel_std"])[:, None, None]
    top = (pre["stored_size"] - pre["crop_size"]) // 2
    return x[:, top : top + pre["crop_size"], top : top + pre["crop_size"]]


@pytest.mark.parametrize("fmt, suffix", [("onnx", ".onnx"), ("torchscript", ".pt")])
@torch.no_grad()
def test_the_exported_net_equals_the_checkpoints_and_its_json_prepares_images_as_the_platform(job, fmt, suffix):
    job_dir, root = job
    card = export(job_dir / "checkpoints" / "last.ckpt", fmt)
    model, card_path, mean_path = map(type(job_dir), card["written"])
    assert model == job_dir / "export" / f"last{suffix}" and card_path == model.with_name(model.name + ".json")
    assert json.loads(card_path.read_text()) == {k: v for k, v in card.items() if k != "written"}

    loaded = load(job_dir)
    crop = loaded.data["crop_size"]
    for batch in (3, 1):  # not the batch size it was traced with: the batch axis is free
        x = torch.randn(batch, 3, crop, crop, generator=torch.Generator().manual_seed(batch)) * 60
        torch.testing.assert_close(run_exported(model, fmt, x), loaded.net(x), rtol=1e-5, atol=1e-5)

    assert card["class_names"] == ["cat", "dog", "emu"] and card["input"]["shape"] == ["batch", 3, crop, crop]
    pre = card["preprocessing"]
    assert (pre["channel_order"], pre["value_range"], pre["mean"], pre["divide_std"]) == ("RGB", [0, 255], "pixel", False)
    assert card["checkpoint"] == str((job_dir / "checkpoints" / "last.ckpt").resolve()) and "trained_git_sha" in card
    # an image file → the net's input, following the JSON with numpy: what predict.py feeds the net
    stored = decode_image(next((root / "val" / "dog").iterdir()), pre["stored_size"])
    platform = center_crop(loaded.normalize()(torch.from_numpy(stored)[None]), crop)[0]
    np.testing.assert_allclose(prepare(card_path, stored), platform.numpy(), rtol=0, atol=1e-4)
    assert mean_path.name == model.name + ".mean_image.npy"
    # and the JSON travels inside the model file too
    if fmt == "onnx":
        import onnx

        embedded = {p.key: p.value for p in onnx.load(str(model)).metadata_props}["preprocessing"]
    else:
        extra = {"preprocessing.json": ""}
        torch.jit.load(str(model), _extra_files=extra)
        embedded = extra["preprocessing.json"].decode()
    assert embedded == card_path.read_text()


def test_bad_input_gets_one_line(job, tmp_path, monkeypatch, capsys):
    """The real main, in this process (a subprocess would spend its time importing torch)."""
    cases = {"format=tflite": "error: format='tflite' is not one of onnx, torchscript: pass e.g. format=onnx",
             f"ckpt={tmp_path / 'nothing.ckpt'}": f"error: checkpoint {tmp_path / 'nothing.ckpt'} does not exist (pass a .ckpt file or a job directory)",
             "format=onnx": "error: pass ckpt=PATH: a checkpoint written by src/train.py, or its job directory"}
    for args, line in cases.items():
        ckpt = [f"ckpt={job[0]}"] if args == "format=tflite" else []
        monkeypatch.setattr(sys, "argv", ["export.py", *ckpt, args])
        with pytest.raises(SystemExit) as exit_:
            runpy.run_path(str(REPO / "src" / "export.py"), run_name="__main__")
        out = capsys.readouterr()
        assert (exit_.value.code, out.out, out.err.splitlines()) == (2, "", [line])
