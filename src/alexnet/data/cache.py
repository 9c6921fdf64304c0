"""Decode once, train many times: images as one uint8 array on disk (decoding one image:
data/decode.py; the training-set statistics: data/stats.py).

The paper rescaled ImageNet to 256×256 ahead of training (§2). We do the same for every source:
shorter side to `size`, centre crop, stored as an (N, 3, size, size) uint8 `.npy` that training
memory-maps. A cache file is named by a key over its settings and its file list, so one built
from other settings or other files is never picked up.

Building is resumable: rows are decoded in chunks into a preallocated `.partial.npy` memmap and
a `.progress.json` marker records how many rows are final; an interrupted build continues from
the marker. Only a finished build is renamed to `.npy`, after its `.json` manifest (the key,
the shape, skipped rows and a checksum of sampled rows) is written; a `.npy` whose manifest is
missing or disagrees is never used, it is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alexnet.atomic import atomic_write_text
from alexnet.data.decode import decode_arrays, decode_image
from alexnet.data.sources import DataError, Split

log = logging.getLogger(__name__)

CACHE_VERSION = 2


def cache_key(split: Split, size: int, root: Path) -> str:
    """A key over the settings, the labels and every file's path, size and mtime (one stat per
    file), computed once per listing (kept in `split.keys`)."""
    if size in split.keys:
        return split.keys[size]
    h = hashlib.sha256(f"v{CACHE_VERSION}|size={size}|n={len(split)}".encode())
    if split.arrays is not None:
        h.update(np.ascontiguousarray(split.arrays[:: max(1, len(split) // 64)]).tobytes())
    for f in split.files:
        stat = f.stat()
        h.update(f"{f.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    h.update(split.labels.tobytes())
    split.keys[size] = h.hexdigest()[:16]
    return split.keys[size]


def _writable_dir(preferred: Path, fallback: Path | None) -> Path:
    for folder in (preferred, fallback):
        if folder is None:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
            return folder
        except OSError:
            continue
    raise DataError(f"cannot write a cache in {preferred} or {fallback}; set data.cache_dir to a "
                    "writable folder")


def cache_dir_for(root: Path, cache_dir: str | Path | None) -> Path:
    """`cache_dir` if given, else `<root>/.alexnet-cache`, else the user's cache folder."""
    if cache_dir:
        return _writable_dir(Path(cache_dir).expanduser(), None)
    user = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "alexnet"
    return _writable_dir(root / ".alexnet-cache",
                         user / hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12])


# -- the cache files -------------------------------------------------------------------------------


@dataclass
class Decoded:
    """A decoded split: the memory-mapped images and the rows that could not be read."""

    images: np.ndarray  # (N, 3, S, S) uint8; rows of skipped files are zeros
    path: Path
    key: str = ""
    skipped: list[int] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)

    @property
    def keep(self) -> np.ndarray:
        """Indices of the rows that hold images."""
        mask = np.ones(len(self.images), dtype=bool)
        mask[self.skipped] = False
        return np.flatnonzero(mask)


def _paths(folder: Path, name: str, size: int, key: str) -> dict[str, Path]:
    stem = f"{name}-{size}px-{key}"
    return {
        "final": folder / f"{stem}.npy", "manifest": folder / f"{stem}.json",
        "partial": folder / f"{stem}.partial.npy", "progress": folder / f"{stem}.progress.json",
        "lock": folder / f"{stem}.lock",
    }


def _write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=1))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _checksum(images: np.ndarray) -> str:
    """A cheap fingerprint: a hash of up to 16 evenly spaced rows."""
    n = len(images)
    rows = sorted({int(i) for i in np.linspace(0, n - 1, min(n, 16))}) if n else []
    h = hashlib.sha256()
    for i in rows:
        h.update(np.ascontiguousarray(images[i]).tobytes())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive lock on `path` while a cache (or its statistics) is built: two jobs never
    write one file, and the second uses the first's."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _open_verified(p: dict[str, Path], key: str, shape: tuple) -> Decoded | None:
    """The finished cache if its manifest vouches for it; None when it must be (re)built."""
    if not p["final"].is_file():
        return None
    manifest = _read_json(p["manifest"])
    problem = None
    if manifest is None:
        problem = "has no manifest (an interrupted or foreign build)"
    elif (manifest.get("key") != key or tuple(manifest.get("shape", ())) != shape
          or not manifest.get("complete")):
        problem = (f"has a manifest for other settings ({manifest.get('key')}, "
                   f"{manifest.get('shape')})")
    else:
        try:
            images = np.load(p["final"], mmap_mode="r")
        except (OSError, ValueError) as e:
            images, problem = None, f"cannot be read ({e})"
        if images is not None and (images.shape != shape or images.dtype != np.uint8):
            problem = f"has shape {images.shape} {images.dtype}, expected {shape} uint8"
        elif images is not None and _checksum(images) != manifest.get("checksum"):
            problem = "does not match its manifest's checksum"
        if problem is None:
            return Decoded(images, p["final"], key, manifest.get("skipped", []),
                           manifest.get("skipped_files", []))
    log.warning("cache %s %s: rebuilding it", p["final"], problem)
    for f in (p["final"], p["manifest"]):
        f.unlink(missing_ok=True)
    return None


_LISTED: set[tuple] = set()  # (folder, name, key) already listed by this process (a sweep's jobs)


def other_builds(folder: Path, name: str, size: int, key: str) -> list[Path]:
    """The cache files of this split under other settings or files (another key), finished or
    interrupted (`.partial.npy`): left by earlier runs, never read by this one."""
    mine = set(_paths(folder, name, size, key).values())
    return sorted(f for f in folder.glob(f"{name}-*px-*") if f.is_file() and f not in mine)


def _list_other_builds(folder: Path, name: str, size: int, key: str) -> None:
    """One line listing them with their size and how to delete them; not deleted here, since
    another run (other settings) may be using or building them."""
    if (folder, name, key) in _LISTED:
        return
    _LISTED.add((folder, name, key))
    files = other_builds(folder, name, size, key)
    if files:
        mb = sum(f.stat().st_size for f in files) / 1e6
        stems = sorted({f.name.split(".")[0] for f in files})
        log.info("cache %s holds %d file(s) of other settings or interrupted builds of %s "
                 "(%.1f MB), unused by this run: delete them with `rm %s` unless another run "
                 "uses them", folder, len(files), name, mb,
                 " ".join(f"'{folder / s}'.*" for s in stems))


def decoded(split: Split, name: str, size: int, root: Path, folder: Path,
            workers: int | None = None,
            skip_bad: bool = False, chunk: int | None = None, progress: bool = True) -> Decoded:
    """The split as an (N, 3, size, size) uint8 array memory-mapped from the cache, built (or
    its interrupted build continued) first if needed."""
    key = cache_key(split, size, root)
    shape = (len(split), 3, size, size)
    folder.mkdir(parents=True, exist_ok=True)
    p = _paths(folder, name, size, key)
    found = _open_verified(p, key, shape)
    if found is not None:
        _list_other_builds(folder, name, size, key)
        return found
    _list_other_builds(folder, name, size, key)
    with file_lock(p["lock"]):
        found = _open_verified(p, key, shape)  # another job may have built it meanwhile
        if found is None:
            _build(split, p, key, shape, workers, skip_bad, chunk, progress)
            found = _open_verified(p, key, shape)
    if found is None:
        raise DataError(f"cache {p['final']} failed verification right after it was built; "
                        f"delete {folder}")
    return found


def _build(split: Split, p: dict[str, Path], key: str, shape: tuple, workers: int | None,
           skip_bad: bool, chunk: int | None, progress: bool) -> None:
    n, size = shape[0], shape[-1]
    state = _read_json(p["progress"])
    resumable = (
        state is not None and state.get("key") == key and tuple(state.get("shape", ())) == shape
        and p["partial"].is_file()
    )
    if resumable:
        images = np.lib.format.open_memmap(p["partial"], mode="r+")
        resumable = images.shape == shape and images.dtype == np.uint8
    if resumable:
        done, skipped = int(state["done"]), list(state.get("skipped", []))
        log.info("cache %s: resuming at image %d of %d", p["final"].name, done, n)
    else:
        images = np.lib.format.open_memmap(p["partial"], mode="w+", dtype=np.uint8, shape=shape)
        done, skipped = 0, []
        _write_json(p["progress"], {"key": key, "shape": shape, "done": 0, "skipped": []})
    start = time.perf_counter()
    if split.arrays is not None:
        images[:] = decode_arrays(split.arrays, size)
        done = n
    else:
        workers = workers or min(32, os.cpu_count() or 1)
        chunk = chunk or max(256, 64 * workers)

        def one(i: int):
            try:
                return decode_image(split.files[i], size)
            except DataError:
                if not skip_bad:
                    raise
                return None

        bar = progress_bar(n, done, f"decoding {p['final'].name}", progress)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            while done < n:
                stop = min(n, done + chunk)
                for i, image in zip(range(done, stop), pool.map(one, range(done, stop)),
                                    strict=True):
                    if image is None:
                        images[i] = 0
                        skipped.append(i)
                        log.warning("skipped unreadable image %s", split.files[i])
                    else:
                        images[i] = image
                images.flush()  # rows reach the disk before the marker says they did
                bar.update(stop - done)
                done = stop
                _write_json(p["progress"],
                            {"key": key, "shape": shape, "done": done, "skipped": skipped})
        bar.close()
    images.flush()
    manifest = {
        "key": key, "shape": shape, "complete": True, "version": CACHE_VERSION, "skipped": skipped,
        "skipped_files": [str(split.files[i]) for i in skipped], "checksum": _checksum(images),
        "build_seconds": round(time.perf_counter() - start, 2),
    }
    del images
    _write_json(p["manifest"], manifest)  # manifest first: a crash before the rename resumes at n
    os.replace(p["partial"], p["final"])
    p["progress"].unlink(missing_ok=True)
    log.info("cache %s built in %.1f s", p["final"].name, manifest["build_seconds"])


def progress_bar(total: int, initial: int, desc: str, enabled: bool):
    """A bar on a terminal (tqdm's own test), none when not `enabled`; `update` works either way."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="img", mininterval=1.0,
                disable=None if enabled else True)
