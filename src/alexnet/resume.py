"""Which checkpoint a job continues from: resume by re-running, read from the records on disk.

A job re-run in its own directory (`hydra.run.dir=<job dir>`, or a sweep re-run with
`hydra.sweep.dir=<old sweep>`) is skipped when its summary.json says completed and otherwise
continues from the newest checkpoint of its directory that still reads; `resume=true` on a
fresh single run continues the newest unfinished run beside it; `resume=false` starts afresh.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from alexnet.checkpoint_io import check_readable, good_checkpoints, older_good
from alexnet.record import CONFIG_FILE, SUMMARY_FILE

log = logging.getLogger(__name__)

RESUME_VALUES = ("auto", True, False)
CHECKPOINT_DIR, LAST = "checkpoints", "last.ckpt"


class ResumeError(ValueError):
    """Nothing to resume, or a checkpoint that cannot be resumed; the message is one line."""


@dataclass
class ResumePoint:
    out_dir: Path                 # where the job's record goes (its own directory)
    ckpt_path: Path | None        # the checkpoint to continue from; None: from the start
    completed: dict | None = None  # the job's summary when it already completed (nothing to do)


def completed_summary(job_dir: Path) -> dict | None:
    path = job_dir / SUMMARY_FILE
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return summary if summary.get("status") == "completed" else None


def newest_good(job_dir: Path) -> Path | None:
    """The checkpoint a job continues from: last.ckpt when it reads (a best-*.ckpt can be newer
    by a moment, written just before a kill interrupted last.ckpt's write, and resuming from it
    would leave last.ckpt stale), else the newest that reads; says in one line each which do not."""
    good, bad = good_checkpoints(job_dir / CHECKPOINT_DIR)
    good.sort(key=lambda p: p.name != LAST)  # stable: the others stay newest first
    for path, reason in bad:
        offer = (f"using {good[0].name} instead" if good
                 else "no older good checkpoint: starting afresh")
        log.warning("checkpoint %s is unreadable (%s); %s", path, reason, offer)
    return good[0] if good else None


def _unfinished_sibling(out_dir: Path) -> Path | None:
    """The most recent run beside `out_dir` (same task's runs/) with a checkpoint and no completed
    record."""
    runs = ([d for d in out_dir.parent.iterdir() if d.is_dir() and d != out_dir]
            if out_dir.parent.is_dir() else [])
    runs = [d for d in runs
            if completed_summary(d) is None and any((d / CHECKPOINT_DIR).glob("*.ckpt"))]
    return max(runs, key=lambda d: max(p.stat().st_mtime_ns
                                       for p in (d / CHECKPOINT_DIR).glob("*.ckpt")),
               default=None)


def explicit_checkpoint(ckpt_path: str | Path) -> Path:
    """`ckpt_path=` as given, checked to read whole; else one line naming it and a good one."""
    path = Path(ckpt_path).expanduser()
    if not path.is_file():
        raise ResumeError(f"ckpt_path={str(ckpt_path)!r} is not a file; pass a checkpoint such as "
                          "<job dir>/checkpoints/last.ckpt")
    reason = check_readable(path)
    if reason is not None:
        other = older_good(path)
        offer = (f"the newest good one beside it is {other}: pass ckpt_path={other}" if other
                 else "no good checkpoint is beside it: start afresh")
        raise ResumeError(f"ckpt_path={str(ckpt_path)!r} is unreadable ({reason}); {offer}")
    return path


def resume_point(resume: Any, ckpt_path: str | Path | None, out_dir: str | Path,
                 single_run: bool) -> ResumePoint:
    """Where a job starts from (see the module docstring); checks only, writes nothing."""
    out_dir = Path(out_dir)
    if resume not in RESUME_VALUES or isinstance(resume, int) and not isinstance(resume, bool):
        raise ResumeError(f"resume={resume!r} is not one of auto, true, false")
    if ckpt_path:  # explicit: a new record that continues the checkpoint's job (RunRecord)
        return ResumePoint(out_dir, explicit_checkpoint(ckpt_path))
    if resume is False:
        return ResumePoint(out_dir, None)
    done = completed_summary(out_dir)
    if done is not None:
        return ResumePoint(out_dir, None, completed=done)
    ckpt = newest_good(out_dir)
    if ckpt is None and resume is True and single_run:
        sibling = _unfinished_sibling(out_dir)
        if sibling is not None:
            out_dir, ckpt = sibling, newest_good(sibling)
    if ckpt is None and resume is True:
        raise ResumeError(f"resume=true: no checkpoint to continue in {out_dir} or an unfinished "
                          "run beside it; re-run in the job's own directory "
                          "(hydra.run.dir=<job dir>, or hydra.sweep.dir=<sweep dir>)")
    return ResumePoint(out_dir, ckpt)


def saved_state(checkpoint: dict[str, Any], callback: str) -> dict[str, Any]:
    """A callback's state in a Lightning checkpoint (stored under its class name)."""
    return (checkpoint.get("callbacks") or {}).get(callback) or {}


def check_fits(ckpt_path: Path, hparams: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint (read as data); one line, before any training, when its net differs from
    this config's."""
    from alexnet.checkpoint import CheckpointError, read

    try:
        checkpoint = read(ckpt_path)
    except CheckpointError as e:
        raise ResumeError(str(e)) from None
    saved = checkpoint.get("hyper_parameters") or {}
    old, new = saved.get("model") or {}, hparams.get("model") or {}
    diff = [f"model.{k}={old.get(k)!r} there, {new.get(k)!r} here"
            for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if diff:
        job = ckpt_path.parent.parent / "config.yaml"
        raise ResumeError(f"{ckpt_path} does not fit this config ({'; '.join(diff[:3])}): resume "
                          f"with the config it was trained with ({job}) or start a new run")
    return checkpoint


def mid_epoch_trigger(every_n_steps: int | None, every_minutes: float | None) -> dict[str, Any]:
    """When last.ckpt is also written within an epoch (`callbacks.checkpoint.*`): every N
    training steps, or every N minutes of training (a long ImageNet epoch); {}: epoch ends only."""
    if every_n_steps:
        return {"every_n_train_steps": int(every_n_steps)}
    return {"train_time_interval": timedelta(minutes=float(every_minutes))} if every_minutes else {}


class WithinEpochCheckpoint(ModelCheckpoint):
    """last.ckpt within an epoch, so a resume continues mid-epoch (the loader's place and the
    epoch's metric sums travel with it) — but never after an epoch's last batch: resumed from
    there, Lightning (2.6) would skip that epoch's validation and end, and the epoch-end
    checkpoint comes a moment later anyway. Nor after the step a stop was asked at (max_steps,
    max_time): resumed from there, the run would end without the validation that stop runs.

    Every N minutes (`train_time_interval`) under data parallelism, the ranks must agree on when;
    Lightning's own callback broadcasts rank 0's clock after every step (a collective and a host
    sync per step). Here rank 0 reads its clock only at checks some steps apart and broadcasts,
    with its answer, the steps to the next check: about CHECKS_PER_INTERVAL checks per interval
    at the step time measured so far, between MIN_GAP and MAX_GAP steps apart (a save comes at
    most that late). One process checks every step (no collective to save)."""

    FIRST_GAP, MIN_GAP, MAX_GAP, CHECKS_PER_INTERVAL = 10, 10, 1000, 20

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)  # the interval's clock starts here
        self._batches, self._next_check = 0, 1 if trainer.world_size == 1 else self.FIRST_GAP
        self._rate_from = (self._last_time_checked, 0)  # (time, batches) the step time is read from

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        stop_here = batch_idx + 1 >= trainer.num_training_batches or trainer.should_stop
        if self._train_time_interval is None:  # every N steps: no collective in Lightning's either
            if not stop_here:
                super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
            return
        self._batches += 1  # the same count on every rank: each checks at the same batches
        if self._batches < self._next_check:
            return
        due, gap = self._check(time.monotonic(), trainer.world_size)
        if trainer.world_size > 1:
            due, gap = trainer.strategy.broadcast((due, gap))  # rank 0's answer
        self._next_check = self._batches + gap
        if due and not stop_here and not self._should_skip_saving_checkpoint(trainer):
            self._last_time_checked = time.monotonic()
            candidates = self._monitor_candidates(trainer)
            self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)

    def _check(self, now: float, world: int) -> tuple[bool, int]:
        """(a save is due, steps to the next check) by this process's clock."""
        interval = self._train_time_interval.total_seconds()
        due = now - self._last_time_checked >= interval
        since, at = self._rate_from
        self._rate_from = (now, self._batches)
        if world == 1:
            return due, 1
        step_s = (now - since) / max(1, self._batches - at)
        gap = int(interval / self.CHECKS_PER_INTERVAL / max(step_s, 1e-9))
        return due, min(self.MAX_GAP, max(self.MIN_GAP, gap))


SWEEP_KEEP = ("one_per_arm", "all", "none")


def _config_but_seed(job_dir: Path) -> dict | None:
    import yaml

    try:
        config = yaml.safe_load((job_dir / CONFIG_FILE).read_text())
    except (OSError, yaml.YAMLError):
        return None
    return ({k: v for k, v in config.items() if k not in ("seed", "seeds")}
            if isinstance(config, dict) else None)


def share_best_with_last(job_dir: str | Path) -> list[Path]:
    """A completed job whose best checkpoint is its last state (the final epoch was the best: the
    rule once the rate is annealed) keeps one file, not two copies of the same weights: the best
    becomes a hard link to last.ckpt (a later write of last.ckpt is a rename, a new file, so the
    best keeps its contents). Returns the best checkpoints now shared."""
    ckpt_dir = Path(job_dir) / CHECKPOINT_DIR
    last = ckpt_dir / "last.ckpt"
    if not last.is_file():
        return []

    def step(path: Path):
        try:
            saved = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
        except Exception:  # unreadable: left as it is
            return None
        return saved.get("epoch"), saved.get("global_step")

    shared, at = [], step(last)
    for best in sorted(ckpt_dir.glob("best-*.ckpt")):
        if at is not None and at[1] is not None and step(best) == at and not best.samefile(last):
            tmp = best.with_name(f".{best.name}.link")
            tmp.unlink(missing_ok=True)
            os.link(last, tmp)
            os.replace(tmp, best)
            shared.append(best)
    return shared


def keep_in_sweep(job_dir: str | Path, policy: str) -> list[Path]:
    """What a completed job of a sweep keeps of its checkpoints (`callbacks.checkpoint.sweep_keep`):
    `all`; `none`; or `one_per_arm` — the first job of each configuration to complete (its
    config.yaml but the seed: an arm, a dataset, an epoch count) keeps its files (for
    `figures.py`, `evaluate.py` and `export.py`), later seeds of it delete theirs. Nothing a
    resume needs is lost: a completed job is never resumed (its summary.json says so), and the
    records (metrics, summary, test outcomes) stay. Returns the files deleted."""
    if policy not in SWEEP_KEEP:
        raise ValueError(f"callbacks.checkpoint.sweep_keep={policy!r} is not one of "
                         f"{list(SWEEP_KEEP)}")
    job_dir = Path(job_dir)
    if policy == "all":
        return []
    if policy == "one_per_arm":
        mine = _config_but_seed(job_dir)
        for sibling in sorted(d for d in job_dir.parent.iterdir() if d.is_dir() and d != job_dir):
            if (mine is not None and completed_summary(sibling)
                    and any((sibling / CHECKPOINT_DIR).glob("*.ckpt"))
                    and _config_but_seed(sibling) == mine):
                break  # this configuration's checkpoint is kept there
        else:
            return []
    removed = sorted((job_dir / CHECKPOINT_DIR).glob("*.ckpt"))
    for path in removed:
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: something else of the user's is in it
        (job_dir / CHECKPOINT_DIR).rmdir()
    return removed
