"""Checkpoints that a kill or a full disk cannot destroy, and the newest one that still loads.

Lightning's `TorchCheckpointIO` writes through a temporary file in `$TMPDIR` and then moves it;
when `$TMPDIR` is another filesystem the move is a copy that first truncates the good file, so a
kill or ENOSPC during it leaves no checkpoint at all. Here the temporary file sits next to its
destination (same filesystem), is flushed and fsynced, and only then renamed over it: at every
moment the destination is either the old checkpoint or the new one, never a part of either.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

log = logging.getLogger(__name__)

_SAVES = itertools.count()
TMP_PREFIX = ".tmp-"  # <dir>/.tmp-<name>.<pid>.<n>: never matched by *.ckpt, removed by clean_orphans


def _fsync_dir(directory: Path) -> None:
    """Makes a rename in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """`torch.save` to a temporary file beside `path`, fsync, rename: all or nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique per call: a save made by a signal handler (a preemption) in the middle of another
    # must not write into the same file (torch: "unexpected pos"); each renames a whole file
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}.{next(_SAVES)}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            raise OSError(errno.ENOSPC, f"no space left on the device to write {path}; the previous "
                                        "checkpoint is kept: free space and re-run to resume") from None
        raise
    _fsync_dir(path.parent)


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
        log.info("removed %d unfinished checkpoint file(s) of an interrupted write in %s", len(removed), directory)
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
    """The newest readable checkpoint beside `path` that is not `path` (the one to offer instead)."""
    path = Path(path)
    good, _ = good_checkpoints(path.parent)
    return next((p for p in good if p.resolve() != path.resolve()), None)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, written atomically beside the destination (see the module)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        atomic_torch_save(checkpoint, path)
