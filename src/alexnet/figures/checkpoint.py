"""Load a trained AlexNet from a Lightning checkpoint without unpickling code.

`torch.load(weights_only=True)` only rebuilds tensors and plain containers, so a checkpoint
from elsewhere cannot run code on load. The net is rebuilt from the checkpoint's
hyper-parameters (`hyper_parameters["model"]`, an AlexNetConfig dict) and the `net.`-prefixed
entries of its state dict; nothing else (optimizer, loops, callbacks) is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from alexnet.model import AlexNet, AlexNetConfig
from alexnet.record import CONFIG_FILE

PREFIX = "net."


@dataclass
class Loaded:
    net: AlexNet
    checkpoint: Path
    job_dir: Path | None  # the run directory holding config.yaml, when there is one


def resolve_checkpoint(path: str | Path) -> Path:
    """A .ckpt file, or a job directory (its checkpoints/last.ckpt)."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not a checkpoint (pass a .ckpt file or a job directory)")
    return path


def load_net(path: str | Path) -> Loaded:
    ckpt_path = resolve_checkpoint(path)
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    model = (ckpt.get("hyper_parameters") or {}).get("model")
    if not isinstance(model, dict):
        raise ValueError(f"{ckpt_path} has no hyper_parameters['model']: not an AlexNetModule checkpoint")
    model = dict(model)
    if model.pop("arch", "alexnet") != "alexnet":
        raise ValueError(f"{ckpt_path} is a model.arch={ckpt['hyper_parameters']['model']['arch']} checkpoint: "
                         "figures 3 and 4 are drawn for AlexNet only")
    net = AlexNet(AlexNetConfig(**model))
    state = {k[len(PREFIX):]: v for k, v in ckpt["state_dict"].items() if k.startswith(PREFIX)}
    net.load_state_dict(state)
    net.eval()
    job = ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else ckpt_path.parent
    return Loaded(net, ckpt_path, job if (job / CONFIG_FILE).is_file() else None)
