"""What every benchmark shares: the machine it ran on, the load, alternated timing, and the
dated rows it appends under its own heading of benchmarks/README.md."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "benchmarks" / "README.md"
sys.path.insert(0, str(ROOT / "src"))  # the checkout's code, installed or not

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")  # what decides fp32 and bf16 speed here


def machine() -> str:
    """CPU model, cores, the vector/matrix extensions that matter, torch and its threads."""
    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")),
               platform.processor() or "?")
    flags = next((ln.split(":", 1)[1].split() for ln in info if ln.startswith("flags")), [])
    extras = "+".join(f for f in FLAGS if f in flags) or "no AVX2"
    return (f"{cpu}, {os.cpu_count()} cores, {extras}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def git_sha() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip() or "?"


def alternate(contenders: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each contender, called in turn `repeats` times, so a change of load
    during the run falls on all of them alike."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def ratio(slow: list[float], fast: list[float]) -> tuple[float, float, float]:
    """median(slow)/median(fast), and the spread as the lowest and highest of the paired
    per-repeat ratios."""
    pairs = [s / f for s, f in zip(slow, fast, strict=True)]
    return statistics.median(slow) / statistics.median(fast), min(pairs), max(pairs)


def append_rows(heading: str, rows: list[str]) -> None:
    """Adds table rows at the end of the first table under `## {heading}` in benchmarks/README.md
    (each row already a `| ... |` line)."""
    lines = README.read_text().splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == f"## {heading}")
    except StopIteration:
        raise SystemExit(f"benchmarks/README.md has no '## {heading}' section to append to") from None
    end_of_section = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    first = next((i for i in range(start + 1, end_of_section) if lines[i].startswith("|")), None)
    if first is None:
        raise SystemExit(f"benchmarks/README.md: no table under '## {heading}'")
    end = first
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    lines[end:end] = rows
    README.write_text("\n".join(lines) + "\n")


def today() -> str:
    return datetime.date.today().isoformat()
