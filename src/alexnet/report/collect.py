"""Read run records from disk: the report never sees live objects, so it can be rebuilt later,
merged across sweeps, or made on another machine."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alexnet.record import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE


@dataclass
class Run:
    path: Path
    summary: dict[str, Any]
    metrics: list[dict[str, float]] = field(default_factory=list)
    arm_name: str = ""

    @property
    def completed(self) -> bool:
        return self.summary.get("status") == "completed"


def _read_metrics(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with open(path) as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def find_runs(dirs: list[str | Path]) -> list[Run]:
    """Every job under `dirs` (sweep or run directories). A job directory with a config but
    no summary (crashed hard, or still running) is returned with status 'missing'."""
    runs, seen = [], set()
    for d in dirs:
        d = Path(d)
        if not d.exists():
            raise FileNotFoundError(f"{d} does not exist: pass sweep or run directories")
        candidates = {p.parent for p in d.rglob(SUMMARY_FILE)}
        candidates |= {p.parent for p in d.rglob(CONFIG_FILE) if p.parent.name != ".hydra"}
        for job in sorted(candidates):
            if job.resolve() in seen:
                continue
            seen.add(job.resolve())
            summary_path = job / SUMMARY_FILE
            summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {"status": "missing"}
            runs.append(Run(job, summary, _read_metrics(job / METRICS_FILE)))
    _name_arms(runs)
    return runs


def _name_arms(runs: list[Run]) -> None:
    """An arm is named by the keys whose values differ between runs (seed excluded)."""
    arms = [r.summary.get("arm") or {} for r in runs]
    keys = list(dict.fromkeys(k for a in arms for k in a))
    varying = [k for k in keys if len({json.dumps(a.get(k)) for a in arms}) > 1]
    for run, arm in zip(runs, arms, strict=True):
        run.arm_name = ",".join(f"{k}={arm.get(k)}" for k in varying) or "all runs"
