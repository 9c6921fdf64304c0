"""Evaluate a checkpoint:
`python src/evaluate.py ckpt=PATH data=imagenet data.root=DIR data.ten_crop=true`.

A thin Hydra main around `alexnet.evaluation.evaluate(cfg)`: prints a table, writes evaluation.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from alexnet.checkpoint import CheckpointError
from alexnet.cli import run
from alexnet.data.sources import DataError
from alexnet.evaluation import evaluate, table
from alexnet.hydra_setup import register_resolvers

REPO_ROOT = Path(__file__).resolve().parents[1]
register_resolvers(REPO_ROOT)


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> dict:
    try:
        result = evaluate(cfg, cfg.output_dir or HydraConfig.get().runtime.output_dir)
    except (CheckpointError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(table(result))
    print(f"written: {result['output']}")
    return json.loads(json.dumps(result))


if __name__ == "__main__":
    run(main, REPO_ROOT / "conf", "evaluate")
