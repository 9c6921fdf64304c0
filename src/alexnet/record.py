"""The run record: what a report or a resume needs, on disk, in plain formats.

Every job directory gets `config.yaml` (resolved, written by train.py), `metrics.csv` (one row
per epoch, every logged metric), `summary.json` (the arm, the seed, final and best errors,
the test split's errors — with `data.train_all` the whole training split's too — epochs, steps,
wall time, parameter count, git SHA) and
`test_outcomes.csv` (per test image: right or wrong, centre and ten crops — for paired tests
between crop modes). Reports read these files only.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import platform
import secrets
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import OmegaConf

from alexnet.atomic import atomic_write_text
from alexnet.data.parallel import data_parallel_rank
from alexnet.submitit_task import Requeued

log = logging.getLogger(__name__)

METRICS_FILE, SUMMARY_FILE, CONFIG_FILE = "metrics.csv", "summary.json", "config.yaml"
OUTCOMES_FILE = "test_outcomes.csv"
# the test split, scored once on the final weights (alexnet.evaluation.FinalTest); null until then
TEST_KEYS = ("test/top1_err", "test/top5_err", "test/loss", "test/tencrop_top1_err",
             "test/tencrop_top5_err")
# the whole training split in eval mode, scored once with the test split (data.train_all)
TRAIN_ALL_KEYS = ("final_train_all/top1_err", "final_train_all/top5_err", "final_train_all/loss")
OUTCOME_COLUMNS = ("label", "center_top1", "center_top5", "tencrop_top1", "tencrop_top5")
FINAL_KEYS = ("val/top1_err", "val/top5_err", "val/loss", "train/running_top1_err", "train/loss",
              "train_eval/top1_err", "train_eval/top5_err", "train_eval/loss")


def git_sha(cwd: str | Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    sha = out.stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True,
        text=True
    ).stdout.strip()
    return sha + ("-dirty" if dirty else "")


def peak_rss_mb() -> float | None:
    """The process's peak resident memory so far (MB): in a sweep, over this job and the ones
    before it in the same process; loader workers not included."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux (bytes on macOS)
    return round(kb / (1024 if platform.system() != "Darwin" else 1024**2), 1)


def machine() -> dict[str, Any]:
    return {
        "host": platform.node(), "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__, "cpus": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        # which GPUs the job was given (hydra/launcher=parallel pins each job), and its threads
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "threads": torch.get_num_threads(),
    }


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in metrics.items():
        if (isinstance(v, torch.Tensor) and v.numel() == 1) or isinstance(v, (int, float)):
            out[k] = float(v)
    return out


class Throughput(L.Callback):
    """Logs `train/images_per_sec`: training images over the epoch's training time (with data
    loading, without validation)."""

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start, self._end, self._images = time.perf_counter(), None, 0

    def on_train_start(self, trainer, pl_module) -> None:
        # a resume in mid-epoch gets no on_train_epoch_start: time the rest of that epoch
        self.on_train_epoch_start(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._images += len(batch[1])
        self._end = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._end is not None:
            # summed over the data-parallel processes: the whole job's throughput (the two
            # columns of a pair, trainer=columns, train on the same images: counted once)
            share = data_parallel_rank(trainer)[1] / trainer.world_size
            rate = share * self._images / max(self._end - self._start, 1e-9)
            pl_module.log("train/images_per_sec", rate, sync_dist=True, reduce_fx="sum")


class RunRecord(L.Callback):
    """Writes metrics.csv after every epoch and summary.json when training stops."""

    def __init__(self, out_dir: str | Path, facts: dict[str, Any] | None = None,
                 resume_from: str | Path | None = None, resume_command: str | None = None):
        self.out_dir = Path(out_dir)
        self.resume_command = resume_command  # said on the console and in the summary if stopped
        self.facts = dict(facts or {})
        # a resume continues the record of the job the checkpoint came from (its job dir is
        # the checkpoint's grandparent), even when it writes into a new directory
        self.previous = Path(resume_from).parent.parent / METRICS_FILE if resume_from else None
        self.rows: list[dict[str, float]] = []
        self.test: dict[str, float] = {}
        self._start = None
        # start of fit to the end of its first step (compile=true: compiling)
        self.first_step_s: float | None = None
        self._created = time.perf_counter()  # the clock of a job that fails before fit starts
        self._started_at = time.time()  # this attempt's start, in the record (jobs run at once)
        # carried in every checkpoint: a resumed job is one record (and one W&B run) over all its
        # attempts
        self.attempts, self.earlier_wall_time_s = 1, 0.0
        self.wandb_id = secrets.token_hex(4)

    def _wall_time(self) -> float:
        return (self.earlier_wall_time_s
                + max(0.0, time.perf_counter() - (self._start or self._created)))

    def state_dict(self) -> dict[str, Any]:
        return {"attempts": self.attempts, "wall_time_s": self._wall_time(),
                "wandb_id": self.wandb_id}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.attempts = int(state.get("attempts", 1)) + 1
        self.earlier_wall_time_s = float(state.get("wall_time_s", 0.0))
        self.wandb_id = state.get("wandb_id") or self.wandb_id

    def on_fit_start(self, trainer, pl_module) -> None:
        self._start, self._started_at = time.perf_counter(), time.time()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.previous
        if path is not None and path.is_file():
            with open(path) as f:
                self.rows = [
                    {k: float(v) for k, v in r.items() if v != ""} for r in csv.DictReader(f)
                ]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.first_step_s is None:
            self.first_step_s = round(time.perf_counter() - self._start, 2)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.global_rank != 0:
            return
        epoch = float(trainer.current_epoch)
        self.rows = [r for r in self.rows if r["epoch"] < epoch]  # a resume replaces, never repeats
        row = {"epoch": epoch, "step": float(trainer.global_step)}
        row |= _floats(trainer.callback_metrics)
        self.rows.append(row)
        columns = list(dict.fromkeys(k for r in self.rows for k in r))
        lines = [",".join(columns)]
        for r in self.rows:
            lines.append(",".join("" if k not in r else repr(r[k]) for k in columns))
        atomic_write_text(self.out_dir / METRICS_FILE, "\n".join(lines) + "\n")

    def add_test(self, metrics: dict[str, float], outcomes: dict[str, Any]) -> None:
        """The test pass's metrics (for summary.json; also the training split's, TRAIN_ALL_KEYS)
        and test_outcomes.csv, one row per test image."""
        self.test = dict(metrics)
        columns = [c for c in OUTCOME_COLUMNS if c in outcomes]
        if not columns:
            return
        rows = zip(*(outcomes[c].tolist() for c in columns), strict=True)
        lines = [",".join(columns)] + [",".join(str(int(v)) for v in row) for row in rows]
        self.out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out_dir / OUTCOMES_FILE, "\n".join(lines) + "\n")

    def on_fit_end(self, trainer, pl_module) -> None:
        if trainer.global_rank == 0:
            self.write_summary(trainer, pl_module, status="completed")

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if trainer.global_rank == 0:
            error, status = f"{type(exception).__name__}: {exception}", "failed"
            if isinstance(exception, Requeued):  # pre-empted or timed out: it continues by itself
                status, error = "requeued", (f"pre-empted or timed out at step "
                                             f"{trainer.global_step}: submitit requeued the job, "
                                             "which continues here from its last checkpoint")
            elif isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
                signal = "SIGTERM" if isinstance(exception, SIGTERMException) else "SIGINT (Ctrl+C)"
                status, error = "interrupted", (
                    f"stopped by {signal} at step {trainer.global_step}: resume from its last "
                    f"checkpoint with {self.resume_command or 'the same command'}")
                log.warning(error)
            # a full disk: the original error is what the caller must see
            with contextlib.suppress(OSError):
                self.write_summary(trainer, pl_module, status=status, error=error)

    def write_summary(self, trainer, pl_module, status: str, error: str | None = None) -> dict:
        def series(key):
            return [r[key] for r in self.rows if key in r and not math.isnan(r[key])]

        summary = dict(self.facts)
        datamodule = getattr(trainer, "datamodule", None)
        if hasattr(datamodule, "describe"):  # after setup: what decoding found (skipped images)
            summary["data"] = datamodule.describe()
        summary |= {
            "status": status,
            "epochs": len(self.rows),
            "steps": int(trainer.global_step),
            "wall_time_s": round(self._wall_time(), 2),
            "started_at": _utc(self._started_at), "ended_at": _utc(time.time()),  # this attempt's
            "attempts": self.attempts,
            "first_step_s": self.first_step_s,
            "peak_rss_mb": peak_rss_mb(),
        }
        # the final values are the last epoch's as metrics.csv has them: a NaN there is no earlier
        # epoch's number here, it is null and the run failed (it diverged after its last step)
        diverged = []
        for key in FINAL_KEYS:
            logged = [r[key] for r in self.rows if key in r]
            final = logged[-1] if logged else None
            if final is not None and not math.isfinite(final):
                diverged.append(f"final {key}={final}")
                final = None
            summary[f"final_{key}"] = final
            if key.startswith("val/"):
                values = series(key)
                summary[f"best_{key}"] = min(values) if values else None
        for key in TEST_KEYS + TRAIN_ALL_KEYS:
            value = self.test.get(key)
            if value is not None and not math.isfinite(value):
                diverged.append(f"{key}={value}")
                value = None
            summary[key] = value
        if diverged and status == "completed":
            status, error = "failed", (f"non-finite metrics at the end ({', '.join(diverged)}): "
                                       "the run diverged; lower recipe.lr or check the input "
                                       "scaling of the recipe")
            summary["status"] = status
        rates = series("train/images_per_sec")
        summary["images_per_sec"] = sum(rates) / len(rates) if rates else None
        if error:
            summary["error"] = error
        atomic_write_text(self.out_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
        return summary


def record_failure(out_dir: str | Path, arm: dict[str, Any], cfg, error: str) -> bool:
    """A failed job's summary.json, unless training already wrote one (RunRecord.on_exception).
    False when it cannot be written (a full disk): the caller says so in the sweep's log."""
    path = Path(out_dir) / SUMMARY_FILE
    try:
        if path.is_file():
            return True
        path.parent.mkdir(parents=True, exist_ok=True)
        summary = {"status": "failed", "error": error, "arm": arm, "seed": cfg.get("seed"),
                   "ablation": OmegaConf.select(cfg, "ablation.claim"), "epochs": 0}
        summary |= dict.fromkeys(TEST_KEYS + TRAIN_ALL_KEYS)
        atomic_write_text(path, json.dumps(summary, indent=2) + "\n")
    except OSError:
        return False
    return True
