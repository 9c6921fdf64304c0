"""What a run says while it trains: one line per epoch (train.log, and the console), a progress
bar only on a terminal, and the dependencies' known noise silenced at its source.

In a sweep or on a cluster `train.log` is the file people read, and a progress bar written to a
file is a column of carriage returns; so the epoch line is a log record (Hydra sends it to both),
and the bar is drawn only when stdout is a terminal.
"""

from __future__ import annotations

import io
import logging
import sys
import time
import warnings

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

log = logging.getLogger("alexnet.progress")

PROGRESS_BARS = ("rich", "tqdm", "none")


def quiet_dependencies() -> None:
    """Lightning's start-up banner (`GPU available: ...`, `TPU available: ...`, the litlogger tip,
    `max_epochs reached`) are info records of one logger: warnings from it still show. The one
    deprecation warning Lightning 2.6 raises from torch 2.14 on every fit is filtered by its
    text."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                            category=FutureWarning)


def duration(seconds: float) -> str:
    """`45 s`, `8 min 31 s`, `2 h 05 min`: wall times as people read them."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class _NoVersionMixin:
    def get_metrics(self, trainer, pl_module):
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)  # the logger's version: the run directory already says which run
        return items


def epoch_text(trainer) -> str:
    """`Epoch 3/6`: counted from 1, as the epoch lines count (Lightning's bars count from 0)."""
    total = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else "?"
    return f"Epoch {trainer.current_epoch + 1}/{total}"


class _AboveTheBar(io.TextIOBase):
    """A stream whose lines a live bar prints above itself."""

    def __init__(self, write):
        self._write = write

    def write(self, text: str) -> int:
        if text.strip():
            self._write(text.rstrip("\n"))
        return len(text)


class _LogsAboveTheBar:
    """While a bar is live, the console's log lines (the epoch lines, warnings) go through the
    bar, which prints them above itself: written to the terminal directly, they land on the
    bar's line. Files (train.log) are untouched; the streams come back when the bar ends."""

    def _print_above(self, text: str, stream) -> None:
        raise NotImplementedError

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        self._swapped = []
        for h in logging.getLogger().handlers:
            if type(h) is logging.StreamHandler and h.stream in _terminals():
                stream = h.stream
                self._swapped.append((h, h.setStream(_AboveTheBar(
                    lambda text, stream=stream: self._print_above(text, stream)))))

    def teardown(self, trainer, pl_module, stage: str) -> None:
        for handler, stream in getattr(self, "_swapped", []):
            handler.setStream(stream)
        self._swapped = []
        super().teardown(trainer, pl_module, stage)


def _terminals() -> tuple:  # read when a bar starts: pytest and Hydra swap the streams
    return (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)


class _RichBar(_LogsAboveTheBar, _NoVersionMixin, RichProgressBar):
    def _print_above(self, text: str, stream) -> None:
        self._console.print(text, markup=False, highlight=False, soft_wrap=True)

    def _get_train_description(self, current_epoch: int) -> str:
        text = epoch_text(self.trainer)
        return f"{text:{len(self.validation_description)}}"  # padded: no flicker against it


class _TQDMBar(_LogsAboveTheBar, _NoVersionMixin, TQDMProgressBar):
    def _print_above(self, text: str, stream) -> None:
        Tqdm.write(text, file=stream)  # clears the bars, writes the line, redraws them

    def on_train_epoch_start(self, trainer, *args) -> None:
        super().on_train_epoch_start(trainer, *args)
        self.train_progress_bar.set_description(epoch_text(trainer))


def progress_bar(kind: str, terminal: bool | None = None) -> L.Callback | None:
    """The bar `callbacks.progress_bar` asks for, or None when stdout is not a terminal (the
    epoch lines are the progress there)."""
    if kind not in PROGRESS_BARS:
        raise ValueError(f"callbacks.progress_bar={kind!r} is not one of {list(PROGRESS_BARS)}")
    if terminal is None:
        terminal = sys.stdout.isatty()
    if kind == "none" or not terminal:
        return None
    return _RichBar(leave=True) if kind == "rich" else _TQDMBar()


def _pct(metrics, key: str) -> str | None:
    value = metrics.get(key)
    return None if value is None else f"{100 * float(value):.2f} %"


class EpochLine(L.Callback):
    """`epoch 3/6 · train loss 1.234 · val top-1 45.10 % top-5 12.30 % · 412 img/s · 1 min 22 s`
    at every training epoch's end, on rank 0; validation has run by then."""

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_start(self, trainer, pl_module) -> None:
        self.on_train_epoch_start(trainer, pl_module)  # a resume in mid-epoch gets no epoch start

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.global_rank != 0:
            return
        m = trainer.callback_metrics
        parts = [epoch_text(trainer).lower(), f"step {trainer.global_step}"]
        if "train/loss" in m:
            parts.append(f"train loss {float(m['train/loss']):.3f}")
        top1, top5 = _pct(m, "val/top1_err"), _pct(m, "val/top5_err")
        if top1 is not None:
            parts.append(f"val error top-1 {top1}" + (f" top-5 {top5}" if top5 else ""))
        if "train/images_per_sec" in m:
            parts.append(f"{float(m['train/images_per_sec']):.0f} img/s")
        parts.append(duration(time.perf_counter() - self._start))
        log.info(" · ".join(parts))
