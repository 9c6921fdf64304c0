"""Checkpoints that a kill or a full disk cannot destroy, and the newest one that still loads.

Lightning's `TorchCheckpointIO` writes through a temporary file in `$TMPDIR` and then moves it;
when `$TMPDIR` is another filesystem the move is a copy that first truncates the good file, so a
kill or ENOSPC during it leaves no checkpoint at all. Here the temporary file sits next to its
destination (same filesystem), is flushed and fsynced, and only then renamed over it: at every
moment the destination is either the old checkpoint or the new one, never a part of either.
"""

from __future__ import annotations

import errno
import logging
import signal
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from alexnet.atomic import TMP_PREFIX, atomic_file

log = logging.getLogger(__name__)


# Ctrl+C, SIGTERM (Lightning's), SLURM's USR1 (Lightning's requeue), submitit's USR2
HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2")
                     if hasattr(signal, name))


@contextmanager
def signals_held() -> Iterator[None]:
    """Runs the Python handlers of HELD_SIGNALS that arrive inside the block once it ends.

    torch.save writes a file object through a callback into Python; a handler that raises there
    (Ctrl+C's KeyboardInterrupt, a requeue's exit) reaches torch's C++ writer, which turns it into
    "unexpected pos" (the run fails instead of stopping), aborts the process, or loses it (the
    run goes on). Held, the write ends whole and the signal acts right after it. A second Ctrl+C
    acts at once: a write that hangs can still be stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers run in the main thread only: a write elsewhere is not interrupted
        return
    arrived: list[tuple[int, Any]] = []
    previous: dict[int, Any] = {}
    holding = True

    def hold(signum, frame):
        if holding and not (signum == signal.SIGINT and any(n == signum for n, _ in arrived)):
            arrived.append((signum, frame))
        else:
            _act(previous, signum, frame)

    try:
        for signum in HELD_SIGNALS:
            if signal.getsignal(signum) is not None:  # None: not set from Python, left as is
                previous[signum] = signal.signal(signum, hold)
        yield
    finally:
        holding = False  # from here a signal acts at once, even while the others are restored
        try:
            raised = None
            for signum, frame in arrived:  # each of them, in order, even after one raised
                try:
                    _act(previous, signum, frame)
                except BaseException as e:
                    raised = raised or e
            if raised is not None:
                raise raised
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _act(handlers: dict[int, Any], signum: int, frame) -> None:
    """What the handler that `signals_held` replaced would have done with `signum`."""
    handler = handlers[signum]
    if callable(handler):
        handler(signum, frame)
    elif handler == signal.SIG_DFL:  # its default action (most end the process): restore, raise
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """`torch.save` all or nothing (alexnet.atomic) and whole even when a signal comes during
    it (signals_held); a full disk says what it kept."""
    try:
        with signals_held(), atomic_file(path, "wb") as f:
            torch.save(obj, f)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise OSError(errno.ENOSPC,
                          f"no space left on the device to write {path}; the previous "
                          "checkpoint is kept: free space and re-run to resume") from None
        raise


def clean_orphans(directory: str | Path) -> list[Path]:
    """Removes the temporary files of writes that a kill interrupted; returns them."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for tmp in directory.glob(f"{TMP_PREFIX}*"):
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            continue
    if removed:
        log.info("removed %d unfinished checkpoint file(s) of an interrupted write in %s",
                 len(removed), directory)
    return removed


def check_readable(path: str | Path) -> str | None:
    """None if `path` is a whole checkpoint (a zip whose every member's CRC matches), else why not,
    in a few words. Reads the file but unpickles nothing."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            return "empty file"
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
        return None if bad is None else f"corrupt member {bad}"
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as e:
        return str(e).splitlines()[0] if str(e) else type(e).__name__


def good_checkpoints(directory: str | Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The readable checkpoints of `directory`, newest first, and the unreadable ones with why."""
    paths = sorted(Path(directory).glob("*.ckpt"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    good, bad = [], []
    for p in paths:
        reason = check_readable(p)
        if reason is None:
            good.append(p)
        else:
            bad.append((p, reason))
    return good, bad


def older_good(path: str | Path) -> Path | None:
    """The newest readable checkpoint beside `path` that is not `path` (the one to offer
    instead)."""
    path = Path(path)
    good, _ = good_checkpoints(path.parent)
    return next((p for p in good if p.resolve() != path.resolve()), None)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, written atomically beside the destination (see the module)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        atomic_torch_save(checkpoint, path)
