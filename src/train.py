"""Train AlexNet: `python src/train.py [overrides]`, or a whole ablation with `experiment=ablate_*`.

A thin Hydra main around `alexnet.training.train(cfg)`; see README.md and docs/guide.md for the
commands.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from alexnet.arms import job_arm
from alexnet.cli import run
from alexnet.data.sources import DataError
from alexnet.ddp_rerun import ddp_in_sweep_problem, make_ddp_rerun_one_job
from alexnet.dotenv import load_dotenv
from alexnet.hydra_setup import register_resolvers
from alexnet.record import record_failure
from alexnet.submitit_task import executor
from alexnet.sweep_callbacks import note_failed_job, sweep_exit_status
from alexnet.training import ConfigError, train

REPO_ROOT = Path(__file__).resolve().parents[1]
register_resolvers(REPO_ROOT)
make_ddp_rerun_one_job()
load_dotenv(REPO_ROOT / ".env")
log = logging.getLogger("train")


def remove_if_only_hydras(run_dir: Path) -> None:
    """A run refused before any work leaves no folder: Hydra made it (its .hydra/ and log)
    before train() could check the config; a folder holding anything else (a run's record to
    resume) is kept."""
    if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {".hydra", "train.log"}:
        shutil.rmtree(run_dir, ignore_errors=True)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict | None:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    group = Path(hc.sweep.dir).name if multirun else None
    arm = job_arm(hc.overrides.task)
    try:
        if problem := ddp_in_sweep_problem(cfg.trainer, multirun):
            raise ConfigError(problem)
        summary = train(cfg, hc.runtime.output_dir, arm=arm, group=group, single_run=not multirun)
        if summary.get("status") == "failed":  # e.g. diverged after its last step: not a silent run
            raise FloatingPointError(summary.get("error") or "the run failed (summary.json)")
        return summary
    except (ConfigError, DataError, FloatingPointError) as e:
        message = str(e).strip().splitlines()[0]
        if not multirun:
            print(f"error: {message}", file=sys.stderr)
            remove_if_only_hydras(Path(hc.runtime.output_dir))
            sys.exit(2 if isinstance(e, ConfigError) else 1)
        log.error("job %s failed: %s", hc.job.num, message)
    except SIGTERMException:
        # this command's own run or sweep: it stops (alexnet.cli, status 143)
        if executor() is None:
            raise
        # one job of a submitit sweep (scancel, a lost node): its record says so, the sweep goes on
        message = "stopped by SIGTERM"
    except Exception as e:
        if not multirun:
            raise
        # One failed job must not end a sweep: its summary.json says "failed" and the
        # sweep report lists it.
        message = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        log.exception("job %s failed: %s", hc.job.num, message)
    # another rank of a submitit job: rank 0 keeps the record
    if int(os.environ.get("RANK", 0)) != 0:
        return None
    if record_failure(hc.runtime.output_dir, arm, cfg, message):
        note_failed_job(f"job {hc.job.num} ({Path(hc.runtime.output_dir).name}): {message}")
    else:  # a full disk: this line (stderr) is the only record
        note_failed_job(f"job {hc.job.num} ({hc.runtime.output_dir}): {message}; its summary.json "
                        "could not be written either")
    return None


if __name__ == "__main__":
    run(main, REPO_ROOT / "conf", "config")
    sys.exit(sweep_exit_status())  # a sweep with a failed job says so (a single run exits above)
