"""What the Hydra mains share: resolvers, the arm of a sweep job, the end-of-sweep report."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from alexnet import paper

log = logging.getLogger(__name__)

# One id per process: every job of a sweep shares it, and two sweeps started in the same second
# (two processes) never do.
RUN_ID = f"{os.getpid()}{secrets.token_hex(2)}"

# Overrides that say where or how a job runs, not which arm of an ablation it is.
NOT_ARM = ("seed", "ablation", "experiment", "hydra", "paths", "logger", "callbacks", "trainer", "debug",
           "data.root", "data.cache_dir", "data.num_workers", "data.decode_workers", "ckpt_path",
           "task_name", "compile")


def paper_value(name: str) -> Any:
    """`${paper:MOMENTUM}`: a constant of alexnet.paper, so the configs restate none of them."""
    value = getattr(paper, name)
    return list(value) if isinstance(value, tuple) else value


def register_resolvers(repo_root: Path) -> None:
    for name, fn in (("repo_root", lambda: str(repo_root)), ("run_id", lambda: RUN_ID),
                     ("paper", paper_value)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def _parse(value: str) -> Any:
    """An override's value as YAML reads it: 'true' → True, '0.5' → 0.5, 'relu' → 'relu'."""
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def job_arm(task_overrides: list[str]) -> dict[str, Any]:
    """The ablation arm of a job: its overrides minus seed and run plumbing, as typed values."""
    arm = {}
    for override in task_overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key.split(".")[0] in NOT_ARM or key in NOT_ARM:
            continue
        arm[key] = _parse(value)
    return arm


def _ddp_child_command(local_rank: int) -> tuple[list[str], str]:
    """The command a DDP child process runs: this one job, not the whole sweep.

    Lightning's `ddp` strategy starts ranks 1..N-1 by re-running `sys.argv`. Inside a Hydra
    multirun that command still holds `-m` and the sweep, so every rank would restart the
    whole sweep (Lightning #11300, Hydra #2070). The child gets instead the job's own
    overrides, run mode, and the job's output directory.
    """
    import sys

    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_original_cwd, to_absolute_path

    hc = HydraConfig.get()
    command = [sys.executable, to_absolute_path(sys.argv[0]), *hc.overrides.task]
    command += [
        "hydra.mode=RUN",
        f"hydra.run.dir=\"{hc.runtime.output_dir}\"",  # quoted: job dirs hold = and ,
        f"hydra.job.name={hc.job.name}_ddp_rank{local_rank}",
        "hydra.output_subdir=null",
    ]
    return command, get_original_cwd()


def make_ddp_rerun_one_job() -> None:
    """Install `_ddp_child_command` as Lightning's command for DDP children under Hydra."""
    from lightning.fabric.strategies.launchers import subprocess_script as fabric_launcher
    from lightning.pytorch.strategies.launchers import subprocess_script as trainer_launcher

    for module in (fabric_launcher, trainer_launcher):  # the second imports the name itself
        module._hydra_subprocess_cmd = _ddp_child_command


class SweepReportCallback(Callback):
    """Writes the sweep's report (report.md, index.html, figures) into the sweep directory when
    a multirun ends; with W&B logging on, also the W&B report (or how to build it later)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from alexnet.report import build_report

        sweep_dir = Path(config.hydra.sweep.dir)
        wb = OmegaConf.select(config, "logger.wandb", default=None) or {}
        wandb_mode = wb.get("mode", "auto") if wb.get("enabled", False) else None
        try:
            report = build_report([sweep_dir], sweep_dir, wandb=wandb_mode)
            log.info("report: %s", report.markdown)
            print(f"report: {report.markdown} (and {report.html.name})")
            if report.wandb:
                print(report.wandb)
        except Exception as e:  # noqa: BLE001 - a report failure must not hide the runs
            log.exception("could not write the sweep report: %s", e)
