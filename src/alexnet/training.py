"""`train(cfg)`: one job, from a composed config to a run record on disk.

Plain and testable: it needs a config with the groups of `conf/` (data, model, recipe,
trainer, logger, callbacks) and an output directory, not a running Hydra.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar
from omegaconf import DictConfig, OmegaConf, open_dict

from alexnet import paper
from alexnet.atomic import atomic_write_text
from alexnet.checkpoint_io import AtomicCheckpointIO, clean_orphans
from alexnet.config_checks import config_problem
from alexnet.console import EpochLine, duration, progress_bar
from alexnet.data.datamodule import RECIPE_INPUTS, AlexNetDataModule
from alexnet.data.layouts import unshare_listing
from alexnet.data.parallel import data_parallel_rank, per_process_batch
from alexnet.data.sources import DataError
from alexnet.evaluation import FinalTest, ValidateAtStop
from alexnet.loggers import build_loggers, decide_wandb_mode, finish_wandb, log_final_hparams
from alexnet.module import AlexNetModule
from alexnet.record import (
    CONFIG_FILE,
    SUMMARY_FILE,
    RunRecord,
    Throughput,
    git_sha,
    machine,
)
from alexnet.resume import (
    CHECKPOINT_DIR,
    ResumeError,
    WithinEpochCheckpoint,
    check_fits,
    keep_in_sweep,
    mid_epoch_trigger,
    resume_point,
    saved_state,
    share_best_with_last,
)
from alexnet.submitit_task import executor, lightning_plugins

log = logging.getLogger(__name__)

LISTING_FILE = ".data-listing.pkl"  # rank 0's listing of the data for the ranks it starts (in fit)


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key and what would."""


MODULE_ARGUMENTS = set(inspect.signature(AlexNetModule).parameters)


def build_datamodule(cfg: DictConfig) -> AlexNetDataModule:
    data = OmegaConf.to_container(cfg.data, resolve=True)
    return AlexNetDataModule.from_config(data, divide_std=RECIPE_INPUTS[cfg.recipe.input],
                                         seed=OmegaConf.select(cfg, "seeds.data", default=cfg.seed))


def recipe_arguments(recipe: DictConfig) -> dict[str, Any]:
    """AlexNetModule's recipe arguments: the composed recipe's keys that are its parameters (the
    rest are the config's: `name`, `input` for the data, `lr_by_activation` read into `lr`); the
    schedule's epochs as tuples, as checkpoints have always stored them."""
    r = OmegaConf.to_container(recipe, resolve=True)
    return {k: tuple(v) if isinstance(v, list) else v for k, v in r.items()
            if k in MODULE_ARGUMENTS}


def build_module(cfg: DictConfig, num_classes: int) -> AlexNetModule:
    model = OmegaConf.to_container(cfg.model, resolve=True) | {"num_classes": num_classes}
    return AlexNetModule(
        model=model, **recipe_arguments(cfg.recipe),
        seed=OmegaConf.select(cfg, "seeds.init", default=cfg.seed),
        compile=bool(cfg.get("compile", False)),
        channels_last=(None if cfg.get("channels_last") == "auto"
                       else cfg.get("channels_last", False) is True),
    )


def build(cfg: DictConfig) -> tuple[AlexNetDataModule, AlexNetModule]:
    """The data and the module of a job, as `train` builds them: arms of one seed get the same
    initial weights wherever their shapes agree, the same batches and the same crops."""
    L.seed_everything(OmegaConf.select(cfg, "seeds.dropout", default=cfg.seed), workers=True,
                      verbose=False)  # dropout and loader workers
    datamodule = build_datamodule(cfg)
    return datamodule, build_module(cfg, datamodule.num_classes)


def build_callbacks(cfg: DictConfig, out_dir: Path, record: RunRecord) -> list[L.Callback]:
    c = cfg.callbacks
    callbacks: list[L.Callback] = [Throughput(), FinalTest(record), record, EpochLine(),
                                   ValidateAtStop()]
    if c.checkpoint.enabled:
        ckpt_dir = out_dir / CHECKPOINT_DIR
        if c.checkpoint.save_top_k:  # the best epochs by the monitored metric
            callbacks.append(ModelCheckpoint(
                dirpath=ckpt_dir, monitor=c.checkpoint.monitor, mode="min",
                save_top_k=c.checkpoint.save_top_k, filename="best-epoch{epoch:03d}",
                auto_insert_metric_name=False,
            ))
        if c.checkpoint.save_last:
            # Lightning's own save_last only refreshes last.ckpt when a top-k file is written;
            # a resume needs the latest epoch, so an unmonitored checkpoint keeps it, and a
            # second one refreshes it within the epoch (a resume continues mid-epoch).
            last = {"dirpath": ckpt_dir, "filename": "last", "save_top_k": 1,
                    "enable_version_counter": False}
            # at every training epoch's end, validated or not (check_val_every_n_epoch > 1):
            # Lightning's default would save after validation only, and a resume from there
            # re-ends the epoch without its metrics
            callbacks.append(ModelCheckpoint(**last, save_on_train_epoch_end=True))
            within = mid_epoch_trigger(c.checkpoint.get("every_n_steps"),
                                       c.checkpoint.get("every_minutes"))
            if within:
                callbacks.append(WithinEpochCheckpoint(**last, **within))
    if (bar := progress_bar(c.progress_bar)) is not None:
        callbacks.append(bar)
    if c.get("early_stopping"):
        from lightning.pytorch.callbacks import EarlyStopping

        callbacks.append(EarlyStopping(**c.early_stopping))
    return callbacks


def batch_split(trainer: L.Trainer, batch_size: int) -> dict[str, int]:
    """How one SGD step's global batch (`data.batch_size`) is split: over the data-parallel
    processes (DDP ranks, or pairs of columns), read from the trainer before they start."""
    processes = data_parallel_rank(trainer)[1]
    return {"global": batch_size, "per_process": per_process_batch(batch_size, processes),
            "data_parallel_processes": processes}


def batch_text(batch: dict[str, int], strategy: str) -> str:
    """The line a run prints: the global batch and each device's share of it."""
    text = f"{batch['global']} images per step (data.batch_size, the global batch)"
    if batch["data_parallel_processes"] > 1:
        text += (f" = {batch['data_parallel_processes']} data-parallel processes × "
                 f"{batch['per_process']} each")
    if strategy == "columns":
        text += "; both columns of a pair take their pair's whole share"
    return text


def _leave_distributed(env_before: dict[str, str]) -> None:
    """End this job's process group and the variables DDP set, so the next job of a sweep in
    this process starts (and spawns its own ranks) afresh."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    for key in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "RANK"):
        if key not in env_before:
            os.environ.pop(key, None)


def arm_tag(arm: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in arm.items()) or "default"


def claim_arm(cfg: DictConfig) -> dict[str, Any]:
    """`ablation.arm` (experiment=ablate_all): this job is the paper's net with one claim's switch
    flipped to that claim's other arm, both read from `paper.CLAIMS` (their one home); `baseline`
    or null: the paper's net, shared by every claim of the seed. Sets the switch in `cfg` and
    returns the job's arm."""
    name = OmegaConf.select(cfg, "ablation.arm")
    if name in (None, "baseline"):
        return {}
    claim = paper.CLAIMS.get(name)
    if claim is None or claim.measure == "paired_eval" or claim.arch != "alexnet":
        choices = ["baseline"] + [k for k, c in paper.CLAIMS.items()
                                  if c.measure != "paired_eval" and c.arch == "alexnet"]
        raise ConfigError(f"ablation.arm={name!r} is not one of {choices}")
    with open_dict(cfg):
        OmegaConf.update(cfg, claim.switch, claim.other_arm, merge=False)
    return {claim.switch: claim.other_arm}


def resume_command(out_dir: Path, single_run: bool) -> str:
    """This process's command, pointed at the directory to continue: a single run's own, a
    sweep job's sweep (whose finished jobs are skipped). A job in a worker process (submitit,
    the parallel launcher) runs the worker's command, not the sweep's: it names the directory."""
    key, where = ("hydra.run.dir", out_dir) if single_run else ("hydra.sweep.dir", out_dir.parent)
    if executor() is not None or Path(sys.argv[0]).name != "train.py":
        return f"the sweep's command with {key}={where}"
    args = [a for a in sys.argv[1:] if not a.startswith(f"{key}=")]
    return shlex.join(["python", sys.argv[0], *args, f"{key}={where}"])


def train(cfg: DictConfig, out_dir: str | Path, arm: dict[str, Any] | None = None,
          group: str | None = None, single_run: bool = True) -> dict[str, Any]:
    """Trains one job and returns its summary (also written to `out_dir/summary.json`).

    A job whose directory already holds its record continues it (`alexnet.resume`): skipped if
    completed, else resumed from its newest good checkpoint, unless `resume=false`."""
    out_dir = Path(out_dir)
    arm = dict(arm or {})
    # Everything that can be checked is checked before any work or any file is written.
    try:
        if problem := config_problem(cfg):
            raise ConfigError(problem)
        arm |= claim_arm(cfg)
        start = resume_point(cfg.get("resume", "auto"), cfg.get("ckpt_path"), out_dir, single_run)
        if start.completed is not None:
            log.info("%s already completed (summary.json); not run again", out_dir)
            return start.completed
        out_dir, ckpt_path = start.out_dir, start.ckpt_path
        datamodule, module = build(cfg)
        num_classes = datamodule.num_classes
        data_facts = datamodule.describe()  # also checks data.holdout against the data
        decide_wandb_mode(cfg.logger.wandb.get("mode", "auto"))  # validates the value only
        record = RunRecord(out_dir, {}, resume_from=ckpt_path,
                           resume_command=resume_command(out_dir, single_run))
        if ckpt_path is not None:
            previous = saved_state(check_fits(ckpt_path, dict(module.hparams)),
                                   type(record).__qualname__)
            record.wandb_id = previous.get("wandb_id") or record.wandb_id  # the same W&B run
            log.info("resuming %s from %s", out_dir, ckpt_path)
        trainer_kwargs = {k: v for k, v in OmegaConf.to_container(cfg.trainer, resolve=True).items()
                          if v is not None}
        torch.backends.cuda.matmul.allow_tf32 = bool(cfg.get("tf32", False))  # CUDA matmuls only
        # loggers are attached below, once the config is known to be runnable
        callbacks = build_callbacks(cfg, out_dir, record)
        trainer = L.Trainer(
            **trainer_kwargs, logger=False, callbacks=callbacks,
            enable_progress_bar=any(isinstance(c, ProgressBar) for c in callbacks),
            default_root_dir=str(out_dir), enable_model_summary=False,
            # under submitit on SLURM: it requeues
            plugins=[AtomicCheckpointIO(), *lightning_plugins()],
            # the datamodule shards itself, the same on every Lightning
            use_distributed_sampler=False,
        )
        batch = batch_split(trainer, datamodule.batch_size)  # one line when it does not divide
    except (DataError, ConfigError, ResumeError, ValueError, MisconfigurationException) as e:
        raise ConfigError(str(e).strip().splitlines()[0]) from None

    out_dir.mkdir(parents=True, exist_ok=True)
    log.info("run directory: %s", out_dir)
    if trainer.is_global_zero:
        log.info("batch: %s", batch_text(batch, str(cfg.trainer.get("strategy"))))
    clean_orphans(out_dir / CHECKPOINT_DIR)  # the temporary files of a write a kill interrupted
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if trainer.is_global_zero:
        atomic_write_text(out_dir / CONFIG_FILE, OmegaConf.to_yaml(OmegaConf.create(resolved)))

    record.facts |= {
        "arm": arm, "arm_name": arm_tag(arm), "seed": int(cfg.seed),
        "ablation": OmegaConf.select(cfg, "ablation.claim"),
        "model": resolved["model"] | {"num_classes": num_classes},
        "recipe": resolved["recipe"]["name"],
        "init": resolved["recipe"]["init"], "data": data_facts,
        "eval_crops": datamodule.eval_crops,
        "parameters": module.num_parameters, "git_sha": git_sha(Path(__file__).parent),
        "machine": machine(), "group": group, "batch": batch,
    }
    tags = [f"{k}={v}" for k, v in arm.items()] + [f"recipe={record.facts['recipe']}"]
    trainer.loggers = build_loggers(
        OmegaConf.to_container(cfg.logger, resolve=True), out_dir, run_name=out_dir.name,
        group=group, tags=tags, config=resolved | {"arm": arm}, run_id=record.wandb_id,
    )
    env_before = dict(os.environ)
    # the ranks Lightning starts by re-running this job read this process's listing of the data
    launches = trainer.world_size > 1 and "LOCAL_RANK" not in os.environ
    if launches:
        datamodule.share_listing(out_dir / LISTING_FILE)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    finally:
        finish_wandb(float(cfg.logger.wandb.get("finish_timeout_s", 10)))
        if launches:
            unshare_listing()
        _leave_distributed(env_before)
    summary_file = out_dir / SUMMARY_FILE
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    if trainer.is_global_zero and summary:
        log_final_hparams(trainer.loggers, {
            "arm": arm_tag(arm) or "default", "seed": int(cfg.seed),
            "epochs": summary.get("epochs"),
            "ablation": str(record.facts["ablation"]), "model": resolved["model"],
            "recipe": resolved["recipe"]}, summary)
        log.info("%s in %s: %s", summary.get("status"), duration(summary.get("wall_time_s") or 0),
                 out_dir)
        if summary.get("status") == "completed" and (shared := share_best_with_last(out_dir)):
            log.info("%s: the final state, shared with last.ckpt (one file on disk)",
                     ", ".join(p.name for p in shared))
        if not single_run and summary.get("status") == "completed":
            policy = cfg.callbacks.checkpoint.get("sweep_keep", "all")
            if removed := keep_in_sweep(out_dir, policy):
                log.info("removed %s (callbacks.checkpoint.sweep_keep=%s: an earlier seed of this "
                         "configuration keeps its checkpoint)", ", ".join(p.name for p in removed),
                         policy)
    return summary
