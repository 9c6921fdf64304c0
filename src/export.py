"""Export a checkpoint for use outside the platform:
`python src/export.py ckpt=PATH format=onnx|torchscript [out=PATH]`.

A thin Hydra main around `alexnet.export.export`: the net as ONNX or TorchScript, its
preprocessing in a JSON file beside it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from alexnet.checkpoint import CheckpointError
from alexnet.cli import run
from alexnet.export import ExportError, export


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
def main(cfg: DictConfig) -> None:
    try:
        card = export(cfg.ckpt, cfg.format, cfg.out)
    except (CheckpointError, ExportError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    model, *beside = map(Path, card["written"])
    shape = "x".join(map(str, card["input"]["shape"]))
    print(f"exported: {model} ({card['format']}, input {shape}); beside it: "
          f"{', '.join(p.name for p in beside)}")


if __name__ == "__main__":
    run(main, Path(__file__).resolve().parents[1] / "conf", "export")
