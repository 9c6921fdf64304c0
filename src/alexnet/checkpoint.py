"""Reading a checkpoint as data: tensors and plain values only, never code.

`torch.load(weights_only=True)` refuses any pickled object other than tensors, containers and
numbers; a tampered file (a pickle whose `__reduce__` would run a command) is refused before
anything in it runs. The model is rebuilt from the saved hyper-parameters, and the data module's
saved state (class names, mean image, sizes) lets a checkpoint classify images on its own. The one
loader for evaluate, predict and the figures.
"""

from __future__ import annotations

import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from alexnet.data.transforms import Normalize
from alexnet.model import AlexNet
from alexnet.module import AlexNetModule
from alexnet.record import CONFIG_FILE

# Lightning stores LightningDataModule.state_dict() under its class name
DATA_STATE_KEY = "AlexNetDataModule"


class CheckpointError(ValueError):
    """A checkpoint that cannot or must not be loaded; the message is one line."""


@dataclass
class Loaded:
    module: AlexNetModule
    data: dict[str, Any]  # classes, class_names, stored_size, crop_size, mean image, ...
    path: Path

    @property
    def net(self) -> AlexNet:
        return self.module.net

    @property
    def job_dir(self) -> Path | None:
        """The run directory holding config.yaml (`<job>/checkpoints/<name>.ckpt`), if any."""
        job = (self.path.parent.parent if self.path.parent.name == "checkpoints"
               else self.path.parent)
        return job if (job / CONFIG_FILE).is_file() else None

    @property
    def class_names(self) -> list[str]:
        return list(self.data.get("class_names") or self.data.get("classes") or [])

    def preprocessing(self) -> dict[str, Any]:
        """The data facts new images need (sizes, mean image, scaling), or a one-line refusal."""
        if "mean_image" not in self.data:
            raise CheckpointError(f"{self.path} carries no preprocessing (class names, mean "
                                  "image): it predates them; retrain or evaluate with the "
                                  "training data")
        return self.data

    def normalize(self) -> Normalize:
        d = self.preprocessing()
        return Normalize(d["mean_image"], d["channel_mean"], d["channel_std"], mean=d["mean"],
                         divide_std=d["divide_std"])


def resolve(path: str | Path) -> Path:
    """A .ckpt file, or a job directory (its checkpoints/last.ckpt)."""
    path = Path(path).expanduser()
    return path / "checkpoints" / "last.ckpt" if path.is_dir() else path


def read(path: str | Path) -> dict[str, Any]:
    """The checkpoint's dict, loaded with weights_only=True (no code runs)."""
    path = resolve(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist "
                              "(pass a .ckpt file or a job directory)")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols; the verdict is ours
            warnings.simplefilter("ignore")
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        reason = next((line.strip() for line in str(e).splitlines()
                       if "GLOBAL" in line or "Unsupported" in line), "")
        raise CheckpointError(
            f"refusing to load {path}: it holds pickled Python objects, not only tensors and plain "
            f"values, and a checkpoint is data, not code ({reason or 'rejected by weights_only'})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"cannot read checkpoint {path}: "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if (not isinstance(checkpoint, dict) or "state_dict" not in checkpoint
            or "hyper_parameters" not in checkpoint):
        raise CheckpointError(f"{path} is not a checkpoint written by src/train.py "
                              "(no state_dict/hyper_parameters)")
    return checkpoint


# The one upgrade step for old checkpoints: recipe arguments added after the first ones were
# written, at the values those runs trained with.
ADDED_SINCE = {"budget_drops": (), "momentum_form": "pytorch", "bias_lr_mult": 1.0,
               "bias_weight_decay": True, "layer_weight_decay": None}


def load(path: str | Path, device: str | torch.device = "cpu") -> Loaded:
    """The trained module (eval mode) and the data facts it was trained with; `path` is a .ckpt
    file or a job directory."""
    checkpoint = read(path)
    module = AlexNetModule(**(ADDED_SINCE | checkpoint["hyper_parameters"]))
    module.load_state_dict(checkpoint["state_dict"])
    return Loaded(module.to(device).eval(), checkpoint.get(DATA_STATE_KEY) or {}, resolve(path))
