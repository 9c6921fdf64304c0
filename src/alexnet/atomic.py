"""Files written all or nothing: a kill, a crash or a full disk leaves the previous file, never a
part of the new one. The one home of the idiom: a temporary file beside the destination (the
same filesystem), flushed and fsynced, renamed over it, the rename made durable."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

TMP_PREFIX = ".tmp-"  # <dir>/.tmp-<name>.<pid>.<n>: hidden, never matched by *.ckpt or *.json
_WRITES = itertools.count()


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


@contextmanager
def atomic_file(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """`with atomic_file(path, "wb") as f: ...` writes `path` whole when the block ends, or
    leaves it as it was (the temporary file removed) when the block raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique per write: one made by a signal handler (a preemption) in the middle of another must
    # not write into the same file (torch.save: "unexpected pos"); each renames a whole file
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}.{next(_WRITES)}")
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_file(path) as f:
        f.write(text)
