"""The values a user is likely to get wrong, checked before any work: each gets one line that
names the key, the value and one that works. Lightning and PyTorch would accept several of them
and run anyway (`trainer.max_epochs=-1` trains forever) or fail deep inside a fit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from alexnet.columns import STRATEGY as COLUMNS
from alexnet.columns import columns_problem
from alexnet.data.datamodule import PCA_FROM, RECIPE_INPUTS
from alexnet.data.parallel import per_process_batch
from alexnet.module import SCHEDULES
from alexnet.optim import MOMENTUM_FORMS
from alexnet.resume import SWEEP_KEEP


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _positive_int(v):
    return _is_int(v) and v >= 1


def _optional_positive_int(v):
    return v is None or _positive_int(v)


def _limit(v):  # Lightning's limit_*_batches: a count ≥ 1 or a share in (0, 1]
    return v is None or _positive_int(v) or (isinstance(v, float) and 0 < v <= 1)


def _optional_positive_number(v):
    return v is None or (_is_number(v) and v > 0)


# (key, acceptable?, what works) — the key's value is read with OmegaConf.select (absent: skipped)
CHECKS: list[tuple[str, Callable[[Any], bool], str]] = [
    ("trainer.max_steps", lambda v: v is None or v == -1 or _positive_int(v),
     "a number of steps ≥ 1, or -1 for no step limit"),
    ("trainer.min_epochs", lambda v: v is None or (_is_int(v) and v >= 0),
     "a number of epochs ≥ 0"),
    ("trainer.check_val_every_n_epoch", _optional_positive_int, "an integer ≥ 1, e.g. 1"),
    ("trainer.log_every_n_steps", lambda v: v is None or (_is_int(v) and v >= 0),
     "an integer ≥ 0, e.g. 10"),
    ("trainer.num_sanity_val_steps", lambda v: v is None or (_is_int(v) and v >= -1),
     "0 (none), a count, or -1 (all)"),
    ("trainer.limit_train_batches", _limit, "a count of batches ≥ 1 or a share in (0, 1]"),
    ("trainer.limit_val_batches", _limit, "a count of batches ≥ 1 or a share in (0, 1]: "
     "validation picks the checkpoints and the learning-rate drops, and the record's final errors"),
    ("trainer.limit_test_batches", _limit, "a count of batches ≥ 1 or a share in (0, 1]: the "
     "final test scores that much of the test split"),
    ("data.num_workers", lambda v: _is_int(v) and v >= 0,
     "0 (load in the main process) or a number of worker processes"),
    ("data.crop_size", _positive_int, "a size in pixels ≥ 1"),
    ("data.batch_size", _positive_int, "a number of images ≥ 1, e.g. 128 (the paper's)"),
    ("data.mean", lambda v: v in ("pixel", "channel"),
     "pixel (the training set's mean image) or channel"),
    ("data.pca_from", lambda v: v in PCA_FROM, f"one of {', '.join(PCA_FROM)}"),
    ("data.train_all", lambda v: isinstance(v, bool), "true or false"),
    ("data.stored_size", _positive_int, "a size in pixels ≥ 1"),
    ("recipe.lr", lambda v: _is_number(v) and v > 0,
     "a positive learning rate, e.g. 0.01 (the paper's)"),
    ("recipe.momentum", lambda v: _is_number(v) and 0 <= v < 1,
     "a value in [0, 1), e.g. 0.9 (the paper's)"),
    ("recipe.weight_decay", lambda v: _is_number(v) and v >= 0,
     "a value ≥ 0, e.g. 0.0005 (the paper's)"),
    ("recipe.schedule", lambda v: v in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
    ("recipe.budget_drops",
     lambda v: v is None or (OmegaConf.is_list(v) and all(_is_number(f) and 0 < f < 1 for f in v)),
     "fractions of trainer.max_epochs between 0 and 1, e.g. [0.667,0.833]"),
    ("recipe.momentum_form", lambda v: v in MOMENTUM_FORMS, f"one of {', '.join(MOMENTUM_FORMS)}"),
    ("recipe.input", lambda v: v in RECIPE_INPUTS, f"one of {', '.join(RECIPE_INPUTS)}"),
    ("seed", lambda v: _is_int(v) and 0 <= v < 2**32, "an integer in [0, 2^32)"),
    ("callbacks.checkpoint.every_minutes", _optional_positive_number,
     "a positive number of minutes, or null"),
    ("callbacks.checkpoint.every_n_steps", _optional_positive_int, "an integer ≥ 1, or null"),
    ("callbacks.checkpoint.sweep_keep", lambda v: v in SWEEP_KEEP,
     f"one of {', '.join(SWEEP_KEEP)}"),
]


def data_parallel_processes(trainer: Any) -> int | None:
    """The data-parallel processes a trainer config asks for (DDP ranks; pairs of columns), where
    the config says it; None where only Lightning knows (devices=auto, another strategy)."""
    devices, nodes = trainer.get("devices", 1), trainer.get("num_nodes", 1)
    if isinstance(devices, str) and devices.isdigit():
        devices = int(devices)
    elif isinstance(devices, (list, tuple)) or OmegaConf.is_list(devices):
        devices = len(devices)
    if not (_positive_int(devices) and _positive_int(nodes)):
        return None
    strategy = str(trainer.get("strategy", "auto"))
    if strategy == COLUMNS:
        return max(1, devices * nodes // 2)
    return devices * nodes if strategy == "auto" or strategy.startswith("ddp") else None


def config_problem(cfg: DictConfig) -> str | None:
    """The first value of `cfg` that cannot work, as one line; None when all can."""
    for key, ok, works in CHECKS:
        value = OmegaConf.select(cfg, key, default="<absent>")
        if value == "<absent>":
            continue
        if not ok(value):
            return f"{key}={value!r} cannot work: pass {works}"
    trainer = cfg.get("trainer") or {}
    epochs = trainer.get("max_epochs")
    bounded = trainer.get("max_time") is not None or (trainer.get("max_steps") or -1) > 0
    if not (_positive_int(epochs) or (epochs in (None, -1) and bounded)):
        return (f"trainer.max_epochs={epochs!r} cannot work: pass a number of epochs ≥ 1 (or -1 "
                "together with trainer.max_steps or trainer.max_time, which then end the run)")
    if OmegaConf.select(cfg, "recipe.schedule") == "budget":
        if not OmegaConf.select(cfg, "recipe.budget_drops"):
            return ("recipe.schedule=budget needs its drops: pass "
                    "recipe.budget_drops=[0.667,0.833] (fractions of trainer.max_epochs)")
        if not (_is_int(epochs) and epochs >= 2):
            return ("recipe.schedule=budget places its drops at fractions of "
                    f"trainer.max_epochs={epochs!r}: pass trainer.max_epochs ≥ 2, or "
                    "recipe.schedule=plateau")
    crop, stored = (OmegaConf.select(cfg, "data.crop_size"),
                    OmegaConf.select(cfg, "data.stored_size"))
    if _positive_int(crop) and _positive_int(stored) and crop > stored:
        return (f"data.crop_size={crop} cannot work: the images are stored at "
                f"data.stored_size={stored}; pass a crop ≤ {stored} (or a larger stored size)")
    if OmegaConf.select(cfg, "channels_last", default=False) not in (True, False, "auto"):
        return f"channels_last={cfg.channels_last!r} cannot work: pass true, false or auto"
    batch, processes = OmegaConf.select(cfg, "data.batch_size"), data_parallel_processes(trainer)
    if _positive_int(batch) and processes:
        try:
            per_process_batch(batch, processes)
        except ValueError as e:
            return str(e)
    return columns_problem(trainer, cfg.get("model") or {})
