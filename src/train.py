"""Train AlexNet: `python src/train.py [overrides]`, or a whole ablation with `experiment=ablate_*`.

A thin Hydra main around `alexnet.training.train(cfg)`; see README.md for the commands.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from alexnet.hydra_setup import job_arm, make_ddp_rerun_one_job, register_resolvers
from alexnet.loggers import load_dotenv
from alexnet.training import ConfigError, train

REPO_ROOT = Path(__file__).resolve().parents[1]
register_resolvers(REPO_ROOT)
make_ddp_rerun_one_job()
load_dotenv(REPO_ROOT / ".env")
log = logging.getLogger("train")


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict | None:
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    group = Path(hc.sweep.dir).name if multirun else None
    try:
        return train(cfg, hc.runtime.output_dir, arm=job_arm(hc.overrides.task), group=group)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except Exception as e:
        if not multirun:
            raise
        # One failed job must not end a sweep: its summary.json says "failed" and the
        # sweep report lists it.
        log.exception("job %s failed: %s", hc.job.num, e)
        return None


if __name__ == "__main__":
    main()
