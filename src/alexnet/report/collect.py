"""Read run records from disk: the report never sees live objects, so it can be rebuilt later,
merged across sweeps, or made on another machine."""

from __future__ import annotations

import csv
import fnmatch
import functools
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alexnet import paper
from alexnet.arms import is_arm_key, job_arm, parse_overrides
from alexnet.record import CONFIG_FILE, METRICS_FILE, OUTCOMES_FILE, SUMMARY_FILE
from alexnet.sequential import load_plan

SWEEP_FILE = "multirun.yaml"


@dataclass
class Run:
    path: Path
    summary: dict[str, Any]
    metrics: list[dict[str, float]] = field(default_factory=list)
    arm_name: str = ""
    expected_seeds: tuple = ()  # the seeds of the sweep this job belongs to (multirun.yaml)
    replaces: list[Run] = field(default_factory=list)  # earlier jobs of the same arm and seed

    @property
    def completed(self) -> bool:
        return self.summary.get("status") == "completed"

    @property
    def seed(self):
        return self.summary.get("seed")

    @property
    def ablation(self) -> str | None:
        return self.summary.get("ablation")

    @functools.cached_property
    def config(self) -> dict[str, Any]:  # the resolved config.yaml
        return read_yaml(self.path / CONFIG_FILE) or {}

    def outcomes(self) -> dict[str, list[int]]:
        """test_outcomes.csv as columns (label, center_top1, tencrop_top1, ...); {} if absent."""
        rows = _rows(self.path / OUTCOMES_FILE)
        return {k: [int(float(r[k])) for r in rows] for k in (rows[0] if rows else {})}

    def series(self, key: str) -> list[tuple[int, float]]:  # one metrics.csv column
        return [(int(r["epoch"]), r[key]) for r in self.metrics if key in r and "epoch" in r]


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines())) if path.is_file() else []


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def _unfinished_summary(job: Path) -> dict[str, Any]:
    """What a job without summary.json still tells, as training would have recorded it: its seed
    and ablation (the resolved config) and its arm (Hydra's record of its command line)."""
    arm = job_arm([str(o) for o in read_yaml(job / ".hydra" / "overrides.yaml") or []])
    cfg = read_yaml(job / CONFIG_FILE) or {}
    ablation = cfg.get("ablation")  # a dict; before the ablation group, the claim's name itself
    ablation = ablation if isinstance(ablation, dict) else {"claim": ablation}
    if (claim := paper.CLAIMS.get(ablation.get("arm"))) is not None:  # ablate_all's arms
        arm[claim.switch] = claim.other_arm
    return {"status": "missing", "error": "no summary.json (crashed hard or still running)",
            "seed": cfg.get("seed"), "ablation": ablation.get("claim"), "arm": arm}


@dataclass
class Sweep:
    """A Hydra sweep directory and the grid its multirun.yaml asked for."""

    path: Path
    params: dict[str, list]
    arm_seeds: dict[str, list] = field(default_factory=dict)  # ablate_all: a stopped arm's seeds

    @property
    def seeds(self) -> tuple:
        return tuple(self.params.get("seed", ()))

    def seeds_of(self, run: Run) -> tuple:
        """The seeds the sweep ran `run`'s arm with: in ablate_all a claim decided early stops
        its own arm (ablation.arm, recorded as that claim's switch at its other arm)."""
        arm = run.summary.get("arm") or {}
        key = "baseline" if not arm else paper.claim_switched(arm)
        return tuple(self.arm_seeds.get(key, self.seeds))


def _hydra(sweep_dir: Path) -> tuple[dict, list] | None:
    """A sweep's multirun.yaml: its sweeper's params and its command line's overrides."""
    path = Path(sweep_dir) / SWEEP_FILE
    if not path.is_file():
        return None
    hydra = (read_yaml(path) or {}).get("hydra", {})
    task = (hydra.get("overrides") or {}).get("task") or []
    return (hydra.get("sweeper") or {}).get("params") or {}, parse_overrides(list(map(str, task)))


def read_sweep(sweep_dir: Path) -> Sweep | None:
    if (read := _hydra(sweep_dir)) is None:
        return None
    params, task = read
    grid = {str(k): f"{k}={v}" for k, v in params.items()}
    for o in task:  # plumbing (ckpt_path=, data.root=) is no grid
        key = o.key_or_group
        # the command line wins over the config's sweep: `seed=0` alone runs seed 0 only
        if (key == "seed" or is_arm_key(key)) and (key in grid or o.is_sweep_override()):
            grid[key] = o.input_line
    plan = load_plan(sweep_dir)  # seeds added until decided: those its plan ran
    if plan is not None and plan.seeds:
        grid["seed"] = "seed=" + ",".join(map(str, plan.seeds))
    return Sweep(sweep_dir, {o.key_or_group: list(o.sweep_iterator()) if o.is_sweep_override()
                             else [o.value()] for o in parse_overrides(list(grid.values()))},
                 plan.arm_seeds if plan is not None else {})


# This machine's paths in a sweep's overrides, shown to others as placeholders (fnmatch patterns).
MACHINE_PATHS = {"data.root": "DIR", "data.cache_dir": "CACHE", "ckpt_path": "CKPT",
                 "paths.*": "PATH"}


# What a preset or a default may change later, pinned in a re-run command at the value the
# sweep's jobs ran with (their config.yaml) unless the command sets it.
PINNED = ("trainer.max_epochs", "recipe.schedule")


def sweep_command(sweep_dir: Path) -> str | None:
    """The command that runs the sweep again, from its multirun.yaml: the task's overrides,
    shell-quoted, with this machine's paths (data.root, caches, hydra.*) left for the user, and
    its seeds and the PINNED keys as its jobs ran them."""
    if (read := _hydra(sweep_dir)) is None:
        return None
    params, task = read
    given = {o.key_or_group for o in task}
    args = [next((f"{o.key_or_group}={place}" for pattern, place in MACHINE_PATHS.items()
                  if fnmatch.fnmatchcase(o.key_or_group, pattern)), o.input_line)
            for o in task if not fnmatch.fnmatchcase(o.key_or_group, "hydra[./]*")]
    if params.get("seed") is not None and "seed" not in given:  # the seeds as they were then
        args.append(f"seed={params['seed']}")
    jobs = sorted(Path(sweep_dir).glob(f"*/{CONFIG_FILE}"))
    cfg = (read_yaml(jobs[0]) if jobs else None) or {}
    for key in PINNED:
        section, _, name = key.partition(".")
        if (value := (cfg.get(section) or {}).get(name)) is not None and key not in given:
            args.append(f"{key}={value}")
    return shlex.join(["python", "src/train.py", *args])


def find_sweeps(dirs: list[str | Path]) -> list[Sweep]:
    found = []
    for d in dirs:
        for path in sorted({Path(d), *(p.parent for p in Path(d).rglob(SWEEP_FILE))}):
            sweep = read_sweep(path)
            if sweep is not None and all(s.path.resolve() != path.resolve() for s in found):
                found.append(sweep)
    return found


def find_runs(dirs: list[str | Path], pooled: bool = True) -> list[Run]:
    """Every job under `dirs` (sweep or run directories). A job directory with a config but
    no summary (crashed hard, or still running) is returned with status 'missing'. The same
    arm and seed met twice (a re-run, or two merged sweeps) counts once: the completed, first
    job, which lists the others in `replaces`. `pooled` (to be analysed together): sweeps of one
    ablation must have run one protocol (IncomparableSweeps otherwise); a listing passes False."""
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
            summary = job / SUMMARY_FILE
            metrics = [{k: float(v) for k, v in row.items() if v not in ("", None)}
                       for row in _rows(job / METRICS_FILE)]
            runs.append(Run(job, json.loads(summary.read_text()) if summary.is_file()
                            else _unfinished_summary(job), metrics))
    sweeps = find_sweeps(dirs)
    for run in runs:
        for sweep in sweeps:
            if sweep.path.resolve() in run.path.resolve().parents:
                run.expected_seeds = tuple(dict.fromkeys(run.expected_seeds + sweep.seeds_of(run)))
    if pooled:  # before repeats are dropped: a mixed protocol would hide behind them
        check_comparable(runs)
    runs = _drop_repeats(runs)
    for members in by_ablation(runs).values():
        name_arms(members)
    return runs


def _drop_repeats(runs: list[Run]) -> list[Run]:
    """A completed job wins; else the first met, in path order (file times are a checkout's, not
    the runs', so they cannot decide). A job without a seed has nothing to be compared with."""
    same: dict[Any, list[Run]] = {}
    for run in runs:
        arm = json.dumps(run.summary.get("arm") or {}, sort_keys=True)
        same.setdefault(id(run) if run.seed is None else
                        (run.ablation, arm, json.dumps(run.seed)), []).append(run)
    kept = []
    for group in same.values():
        kept.append(winner := next((r for r in group if r.completed), group[0]))
        winner.replaces = [r for r in group if r is not winner]
    return [r for r in runs if any(r is k for k in kept)]


class IncomparableSweeps(ValueError):
    """Sweeps of one ablation that ran different protocols: not seeds of one experiment."""


def _flat(node: dict | None) -> dict:  # {"model": {"lrn": True}} → {"model.lrn": True}
    return {f"{k}.{sub}" if sub else k: leaf for k, v in (node or {}).items()
            for sub, leaf in (_flat(v).items() if isinstance(v, dict) else [("", v)])}


def protocol(run: Run, arms: set[str] = frozenset()) -> dict:
    """What a run trained, as its config.yaml says: every key an arm could be (but `arms`) and
    the epochs; plumbing (paths, workers, seeds) not."""
    cfg = run.config
    ran = _flat({k: cfg.get(k) for k in ("model", "data", "recipe")}).items()
    return {k: v for k, v in ran if is_arm_key(k) and k not in arms} | {
        "trainer.max_epochs": (cfg.get("trainer") or {}).get("max_epochs")}


def check_comparable(runs: list[Run]) -> None:
    """Refuses to pool sweeps of one ablation whose protocols differ beyond their arms (say a
    3-epoch and a 2-epoch sweep): the later runs would silently stand in for the same seeds."""
    for members in by_ablation(runs).values():
        arms = {k for r in members for k in (r.summary.get("arm") or {})}
        seen: dict[Path, dict] = {}
        for run in members:
            if run.path.parent not in seen and run.config:
                seen[run.path.parent] = protocol(run, arms)
        (first, a), *others = list(seen.items()) or [(None, {})]
        for other, b in others:
            # keys both have: one that a later version of the code added is no protocol change
            if keys := sorted(k for k in a.keys() & b.keys() if a[k] != b[k]):
                more = f"; {len(keys) - 1} more" if len(keys) > 1 else ""
                raise IncomparableSweeps(
                    f"{first} and {other} ran different protocols ({keys[0]}: {a[keys[0]]!r} vs "
                    f"{b[keys[0]]!r}{more}): they are not seeds of one experiment; report them "
                    "apart")


def distinct(runs: list[Run], key: str) -> list:  # summary `key`'s values, once each
    return sorted({r.summary.get(key) for r in runs} - {None})


def wall_time(runs: list[Run]) -> float:  # seconds
    return sum(r.summary.get("wall_time_s") or 0.0 for r in runs)


def by_ablation(runs: list[Run]) -> dict[str | None, list[Run]]:  # in the order first met
    groups: dict[str | None, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.ablation, []).append(run)
    return groups


def name_arms(runs: list[Run]) -> None:
    """An arm is named by the keys whose values differ between runs (seed excluded)."""
    arms = [r.summary.get("arm") or {} for r in runs]
    keys = list(dict.fromkeys(k for a in arms for k in a))
    varying = [k for k in keys if len({json.dumps(a.get(k)) for a in arms}) > 1]
    for run, arm in zip(runs, arms, strict=True):
        run.arm_name = ",".join(f"{k}={arm.get(k)}" for k in varying) or "all runs"
