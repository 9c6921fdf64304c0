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

log = logging.getLogger(__name__)

# One id per process: every job of a sweep shares it, and two sweeps started in the same second
# (two processes) never do.
RUN_ID = f"{os.getpid()}{secrets.token_hex(2)}"

# Overrides that say where or how a job runs, not which arm of an ablation it is.
NOT_ARM = ("seed", "experiment", "hydra", "paths", "logger", "callbacks", "trainer", "debug",
           "data.root", "data.cache_dir", "data.num_workers", "data.decode_workers", "ckpt_path",
           "task_name")


def register_resolvers(repo_root: Path) -> None:
    for name, fn in (("repo_root", lambda: str(repo_root)), ("run_id", lambda: RUN_ID)):
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


class SweepReportCallback(Callback):
    """Writes report.md into the sweep directory when a multirun ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from alexnet.report import write_sweep_report

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            path = write_sweep_report([sweep_dir], sweep_dir)
            log.info("report: %s", path)
            print(f"report: {path}")
        except Exception as e:  # noqa: BLE001 - a report failure must not hide the runs
            log.exception("could not write the sweep report: %s", e)
