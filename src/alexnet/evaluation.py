"""Scoring trained weights: a checkpoint on a data config, and the test pass that ends a fit.

`evaluate` scores a checkpoint on the source's own val/ (or test/) split — the split training
tests on — with the checkpoint's preprocessing (sizes, mean image, input scaling), so only that
split is decoded; its metrics are the module's own (`val/top1_err`, ...), from the same
validation step that training logs. `FinalTest` scores the final weights of a fit once on that
split, per image: centre crop, and with `data.ten_crop` §4.1's ten crops of the same pass.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from alexnet import checkpoint
from alexnet.data.datamodule import AlexNetDataModule
from alexnet.data.parallel import data_parallel_rank
from alexnet.data.sources import DataError
from alexnet.module import AlexNetModule
from alexnet.record import RunRecord

log = logging.getLogger(__name__)

METRICS = ("val/top1_err", "val/top5_err", "val/loss", "val/center_top1_err", "val/center_top5_err")


def evaluate(cfg: DictConfig, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Scores `cfg.ckpt` on `cfg.data`'s validation split; writes `evaluation.json` to `out_dir`."""
    loaded = checkpoint.load(cfg.ckpt)
    d = cfg.data
    dm = AlexNetDataModule.from_config(OmegaConf.to_container(d, resolve=True))
    trained_on = list(loaded.data.get("classes", []))
    if trained_on and list(dm.classes) != trained_on:
        raise DataError(
            f"data.root={d.root!r} has {len(dm.classes)} classes that differ from the checkpoint's "
            f"{len(trained_on)} (e.g. {dm.classes[:3]} vs {trained_on[:3]}): evaluate on the data "
            "it was trained for"
        )
    dm.use_checkpoint_data(loaded.preprocessing())
    trainer = L.Trainer(
        accelerator=cfg.get("accelerator", "auto"), devices=1, logger=False,
        enable_checkpointing=False,
        enable_progress_bar=bool(cfg.get("progress_bar", True)), enable_model_summary=False,
        limit_val_batches=cfg.get("limit_batches"),
    )
    (metrics,) = trainer.validate(loaded.module, datamodule=dm, verbose=False)
    data = dm.describe()
    result = {
        "checkpoint": str(Path(cfg.ckpt).resolve()), "eval_crops": dm.eval_crops,
        "images": len(dm.val_set), "data": data,
    }
    split = "test" if data.get("val_is_test") else "val"  # named by the images scored
    result |= {k.replace("val/", f"{split}/", 1): float(metrics[k]) for k in METRICS
               if k in metrics}
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
    rows += [(k, f"{v * 100:.2f} %") for k, v in result.items() if k.endswith("_err")]
    rows += [(k, f"{v:.4f}") for k, v in result.items() if k.endswith("/loss")]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _outcomes(module: AlexNetModule, datamodule: AlexNetDataModule, loader, ten_crop: bool,
              limit_batches: int | float | None, context) -> dict[str, torch.Tensor]:
    """Per image of `loader`, in its order: the module's test outcomes in eval mode."""
    batches = len(loader)
    # Lightning's convention: an int counts batches, a float is a share
    if limit_batches is not None:
        batches = min(batches, limit_batches if isinstance(limit_batches, int)
                      else int(batches * limit_batches))
    was_training, parts = module.training, []
    module.eval()
    try:
        for i, (images, labels) in enumerate(loader):
            if i >= batches:
                break
            images, labels = images.to(module.device), labels.to(module.device)
            x = datamodule.eval_batch(images, ten_crop=ten_crop)
            with context():
                parts.append({k: v.cpu() for k, v in module.test_outcomes(x, labels).items()})
    finally:
        module.train(was_training)
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]} if parts else {}


def _errors(outcomes: dict[str, torch.Tensor], prefix: str) -> dict[str, float]:
    """The centre crop's top-1 and top-5 errors and mean loss, as fractions, named `prefix/*`."""
    return {f"{prefix}/top1_err": 1 - outcomes["center_top1"].double().mean().item(),
            f"{prefix}/top5_err": 1 - outcomes["center_top5"].double().mean().item(),
            f"{prefix}/loss": outcomes.pop("center_loss").double().mean().item()}


def score_test_split(module: AlexNetModule, datamodule: AlexNetDataModule,
                     limit_batches: int | float | None = None, context=contextlib.nullcontext,
                     ) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """(metrics, per-image outcomes) of `module` on the datamodule's test split, in dataset
    order: `test/top1_err`, `test/top5_err`, `test/loss` of the centre crop and, with
    `datamodule.ten_crop`, `test/tencrop_top1_err`, `test/tencrop_top5_err` of the same weights
    and images. One process sees the whole split (no sampler, nothing padded or sharded)."""
    outcomes = _outcomes(module, datamodule, datamodule.test_dataloader(), datamodule.ten_crop,
                         limit_batches, context)
    if not outcomes:
        return {}, {}
    metrics = _errors(outcomes, "test")
    if "tencrop_top1" in outcomes:
        metrics["test/tencrop_top1_err"] = 1 - outcomes["tencrop_top1"].double().mean().item()
        metrics["test/tencrop_top5_err"] = 1 - outcomes["tencrop_top5"].double().mean().item()
    return metrics, outcomes


def score_training_split(module: AlexNetModule, datamodule: AlexNetDataModule,
                         limit_batches: int | float | None = None,
                         context=contextlib.nullcontext) -> tuple[dict[str, float], int]:
    """(metrics, images scored) of `module` on every training image not held out, in eval mode
    (centre crop, no augmentation, no dropout): `final_train_all/top1_err`, `.../top5_err`,
    `.../loss`. The whole split, not train_eval's fixed subset, so the training side of the
    dropout gap adds no sampling noise of its own."""
    loader = datamodule.train_all_dataloader()
    outcomes = _outcomes(module, datamodule, loader, False, limit_batches, context)
    if not outcomes:
        return {}, 0
    return _errors(outcomes, "final_train_all"), len(outcomes["label"])


class FinalTest(L.Callback):
    """Scores the final weights on the test split once, when training ends (before Lightning
    moves the model off its device), on the whole split, by the processes of data-parallel rank
    0 (rank 0 alone; under `trainer.strategy=columns` both columns of the first pair, each
    holding half the net), recorded by rank 0; with `data.train_all`, also every training image
    not held out, in eval mode. The record puts the metrics in summary.json and the per-image
    test outcomes in test_outcomes.csv; a fit that fails never gets here, so its test keys (and
    final_train_all/*) stay null."""

    def __init__(self, record: RunRecord):
        self.record = record
        self.done = False

    def on_fit_end(self, trainer, pl_module) -> None:
        # a resume from the last epoch's checkpoint trains nothing, and Lightning then skips
        # on_train_end: the test is scored here instead (a job killed after its last checkpoint)
        if not self.done:
            self.on_train_end(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        dm = trainer.datamodule
        self.done = True
        if data_parallel_rank(trainer)[0] != 0 or not isinstance(dm, AlexNetDataModule):
            return
        metrics, outcomes = score_test_split(pl_module, dm, trainer.limit_test_batches,
                                             trainer.precision_plugin.forward_context)
        whole, images = {}, 0
        if dm.train_all and dm.train_set is not None:
            whole, images = score_training_split(pl_module, dm, trainer.limit_test_batches,
                                                 trainer.precision_plugin.forward_context)
        if trainer.global_rank != 0:
            return
        self.record.add_test(metrics | whole, outcomes)
        for logger in trainer.loggers:
            logger.log_metrics(metrics | whole, step=trainer.global_step)
        if metrics:
            ten = metrics.get("test/tencrop_top1_err")
            log.info("test split (%d images): top-1 error %.2f %% centre crop%s",
                     len(outcomes["label"]), 100 * metrics["test/top1_err"],
                     "" if ten is None else f", {100 * ten:.2f} % ten crops")
        if whole:
            log.info("training split (%d images, eval mode): top-1 error %.2f %%", images,
                     100 * whole["final_train_all/top1_err"])


class ValidateAtStop(L.Callback):
    """A fit that `trainer.max_steps` ends within an epoch is validated once at that step, as
    every epoch end is: its record then has the final validation metrics (Lightning validates
    at epoch ends only, and when something asks it to stop, as `max_time` and early stopping do).
    It asks by setting `trainer.should_stop` after the last step; the epoch then ends as usual."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if (0 < trainer.max_steps <= trainer.global_step
                and not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch):
            trainer.should_stop = True
