"""A trained net for use outside the platform: ONNX or TorchScript, with its preprocessing.

The exported file holds the one-device net in eval mode (no dropout), float32 NCHW input with a
free batch size, logits out. What the net cannot carry — how an image becomes its input — goes
into a JSON file beside it (and the mean image, when the net subtracts one per pixel, into a
.npy): the same steps `alexnet.prediction` applies, written out so that numpy and an image
library are enough to reproduce them.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alexnet import checkpoint
from alexnet.atomic import atomic_write_text
from alexnet.record import SUMMARY_FILE, git_sha

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
INPUT, OUTPUT = "image", "logits"


class ExportError(ValueError):
    """An export that cannot be made as asked; the message is one line."""


def default_out(loaded: checkpoint.Loaded, fmt: str) -> Path:
    """`<job>/export/<checkpoint name>.onnx`: beside the run it came from, one file per
    checkpoint."""
    return (loaded.job_dir or loaded.path.parent) / "export" / (loaded.path.stem + FORMATS[fmt])


def preprocessing(loaded: checkpoint.Loaded, mean_image_file: str) -> dict[str, Any]:
    """The steps from an image file to the net's input, as the training data was prepared
    (`data/decode.py`, `transforms.Normalize`, `transforms.center_crop`)."""
    d = loaded.preprocessing()
    s, c = int(d["stored_size"]), int(d["crop_size"])
    pixel = d["mean"] == "pixel"
    steps = [
        "decode the image as RGB (transparent pixels composited on white)",
        f"resize it bilinearly so its shorter side is {s} px, then keep the central {s}x{s} patch",
        f"as float32 on the 0-255 scale (not divided by 255), channels first: (3, {s}, {s}), "
        "RGB order",
        f"subtract the mean image ({mean_image_file}, float32 (3, {s}, {s}))" if pixel
        else "subtract channel_mean from each channel",
    ]
    if d["divide_std"]:
        steps.append("divide each channel by channel_std")
    steps += [f"keep the central {c}x{c} patch: rows and columns from ({s} - {c}) // 2 = "
              f"{(s - c) // 2}",
              f"stack the images into a float32 batch (N, 3, {c}, {c}); softmax of the logits "
              "gives class probabilities"]
    return {
        "steps": steps, "stored_size": s, "crop_size": c, "channel_order": "RGB", "layout": "NCHW",
        "value_range": [0, 255], "resize": "bilinear", "mean": d["mean"],
        "mean_image": mean_image_file if pixel else None,
        "channel_mean": [float(v) for v in d["channel_mean"]],
        "channel_std": [float(v) for v in d["channel_std"]],
        "divide_std": bool(d["divide_std"]),
    }


def _trained_git_sha(loaded: checkpoint.Loaded) -> str | None:
    job = loaded.job_dir
    try:
        return json.loads((job / SUMMARY_FILE).read_text()).get("git_sha") if job else None
    except (OSError, ValueError):
        return None


def _torchscript(net: torch.nn.Module, example: torch.Tensor, out: Path, card: str) -> None:
    # PyTorch 2.14 marks torch.jit deprecated; its files still load everywhere
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated",
                                category=FutureWarning)
        # convnet4's input-size check is a constant for the traced size: nothing to record
        warnings.filterwarnings("ignore", message="Converting a tensor to a Python boolean",
                                category=torch.jit.TracerWarning)
        torch.jit.save(torch.jit.trace(net, example), str(out),
                       _extra_files={"preprocessing.json": card})


def _onnx(net: torch.nn.Module, example: torch.Tensor, out: Path, card: str) -> None:
    try:
        import onnx  # noqa: F401  (the exporter needs both; say so before it fails deep inside)
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise ExportError(f"format=onnx needs the onnx and onnxscript packages ({e.name} is "
                          'missing): pip install -e ".[export]"') from None
    program = torch.onnx.export(net, (example,), None, input_names=[INPUT], output_names=[OUTPUT],
                                dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True,
                                verbose=False)
    program.model.metadata_props["preprocessing"] = card
    program.save(str(out), external_data=False)  # one self-contained file (AlexNet: 244 MB < 2 GB)


@torch.no_grad()
def export(ckpt: str | Path | None, fmt: str, out: str | Path | None = None) -> dict[str, Any]:
    """Writes the net of `ckpt` as `fmt` to `out` (default: `default_out`), `<out>.json` beside it
    and, with a per-pixel mean, `<out>.mean_image.npy`; returns what the JSON holds plus the
    paths written."""
    if fmt not in FORMATS:
        raise ExportError(f"format={fmt!r} is not one of {', '.join(FORMATS)}: pass e.g. "
                          "format=onnx")
    if not ckpt:
        raise ExportError("pass ckpt=PATH: a checkpoint written by src/train.py, or its job "
                          "directory")
    loaded = checkpoint.load(ckpt)
    out = Path(out).expanduser() if out else default_out(loaded, fmt)
    card_path, mean_path = (out.with_name(out.name + ".json"),
                            out.with_name(out.name + ".mean_image.npy"))
    pre = preprocessing(loaded, mean_path.name)
    net = loaded.net.eval()
    example = torch.zeros(2, 3, pre["crop_size"], pre["crop_size"])
    card = {
        "format": fmt, "file": out.name,
        "input": {"name": INPUT, "shape": ["batch", 3, pre["crop_size"], pre["crop_size"]],
                  "dtype": "float32"},
        "output": {"name": OUTPUT, "shape": ["batch", net(example).shape[-1]], "dtype": "float32",
                   "meaning": "logits: index i is classes[i]"},
        "preprocessing": pre, "class_names": loaded.class_names,
        # the folder names (ImageNet: wnids)
        "classes": [str(c) for c in loaded.data.get("classes", [])],
        "model": dict(loaded.module.hparams.get("model") or {}),
        "checkpoint": str(loaded.path.resolve()), "trained_git_sha": _trained_git_sha(loaded),
        "exported_git_sha": git_sha(Path(__file__).parent), "torch": torch.__version__,
    }
    text = json.dumps(card, indent=2) + "\n"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"cannot write to {out.parent} ({type(e).__name__}: {e.strerror}): "
                          "pass out=PATH in a writable folder") from None
    (_onnx if fmt == "onnx" else _torchscript)(net, example, out, text)
    written = [out, card_path]
    if pre["mean_image"]:
        np.save(mean_path, np.asarray(loaded.data["mean_image"], dtype=np.float32))
        written.append(mean_path)
    atomic_write_text(card_path, text)
    return card | {"written": [str(p) for p in written]}
