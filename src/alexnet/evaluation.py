"""Evaluate a checkpoint on a data config: top-1/top-5 error, centre crop or §4.1's ten crops.

The checkpoint's own preprocessing (sizes, mean image, input scaling) is used, so only the
validation split is decoded; the metrics are the module's own (`val/top1_err`, `val/top5_err`),
computed by the same validation step that training logs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig

from alexnet import checkpoint
from alexnet.data.datamodule import AlexNetDataModule
from alexnet.data.sources import DataError

METRICS = ("val/top1_err", "val/top5_err", "val/loss", "val/center_top1_err", "val/center_top5_err")


def evaluate(cfg: DictConfig, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Scores `cfg.ckpt` on `cfg.data`'s validation split; writes `evaluation.json` to `out_dir`."""
    loaded = checkpoint.load(cfg.ckpt)
    d = cfg.data
    dm = AlexNetDataModule(
        source=d.source, root=d.root, batch_size=d.batch_size, num_workers=d.num_workers,
        cache_dir=d.cache_dir, val_split=d.val_split, ten_crop=d.ten_crop,
        skip_bad_images=d.skip_bad_images, decode_workers=d.decode_workers,
    )
    trained_on = list(loaded.data.get("classes", []))
    if trained_on and list(dm.classes) != trained_on:
        raise DataError(
            f"data.root={d.root!r} has {len(dm.classes)} classes that differ from the checkpoint's "
            f"{len(trained_on)} (e.g. {dm.classes[:3]} vs {trained_on[:3]}): evaluate on the data it was trained for"
        )
    dm.use_checkpoint_data(loaded.data)
    trainer = L.Trainer(
        accelerator=cfg.get("accelerator", "auto"), devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=bool(cfg.get("progress_bar", True)), enable_model_summary=False,
        limit_val_batches=cfg.get("limit_batches"),
    )
    (metrics,) = trainer.validate(loaded.module, datamodule=dm, verbose=False)
    result = {
        "checkpoint": str(Path(cfg.ckpt).resolve()), "eval_crops": dm.eval_crops,
        "images": len(dm.val_set), "data": dm.describe(),
    }
    result |= {k: float(metrics[k]) for k in METRICS if k in metrics}
    if out_dir is not None:
        out = Path(out_dir) / "evaluation.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        result["output"] = str(out)
    return result


def table(result: dict[str, Any]) -> str:
    """The result as a small aligned text table."""
    rows = [("checkpoint", result["checkpoint"]), ("data", result["data"]["root"]),
            ("crops", result["eval_crops"]), ("images", str(result["images"]))]
    rows += [(k, f"{result[k] * 100:.2f} %") for k in METRICS if k in result and k != "val/loss"]
    if "val/loss" in result:
        rows.append(("val/loss", f"{result['val/loss']:.4f}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
