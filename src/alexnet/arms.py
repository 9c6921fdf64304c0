"""Which of a job's overrides are the arm of an ablation, and the job directory's name made of
them: the one list of plumbing keys, read by the sweep machinery (resolvers, train.py) and by the
report alike, so it imports no Hydra but its override parser. The one home of override parsing."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import yaml

# Overrides that say where or how a job runs, not which arm of an ablation it is (fnmatch
# patterns: `trainer` is the group choice, `trainer.*` its keys; `data` — which dataset — is not
# an arm, `data.pca_lighting` is). The one list for both the arm and the job directory's name.
NOT_ARM = ("seed", "seeds", "seeds.*", "ablation", "ablation.*", "experiment", "hydra", "hydra.*",
           "hydra/*", "paths.*", "logger", "logger.*", "callbacks", "callbacks.*", "trainer",
           "trainer.*", "debug", "debug.*", "data", "data.root", "data.cache_dir",
           "data.num_workers", "data.decode_workers", "ckpt_path", "resume", "task_name", "compile",
           "preset")
# A job directory's name is safe unquoted in a Hydra override and in YAML: `key-value` items
# joined by `+`, characters other than these replaced by `_`.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def parse_overrides(overrides: list[str], config_loader=None) -> list:
    """Overrides as Hydra reads them (`0,1,2` and `range(0,4)` sweep, `[4,5]` is one list)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create(config_loader=config_loader).parse_overrides(overrides)


def split_override(override: str) -> tuple[str, str]:
    """`+model.lrn=false` → ("model.lrn", "false"): the key without +, ++ or ~, the value as
    written."""
    # Not parse_overrides: Hydra re-renders values (false → False, 1e-3 → 0.001), and job
    # directories and recorded arms are named by the text a job's overrides hold.
    key, _, value = str(override).lstrip("+~").partition("=")
    return key, value


def is_arm_key(key: str) -> bool:
    return not any(fnmatch.fnmatchcase(key, pattern) for pattern in NOT_ARM)


def job_dirname(task_overrides) -> str:
    """`model.lrn-false+seed-0` for the overrides `seed=0 model.lrn=false`: the arm's keys sorted,
    then the seed (plumbing left out)."""
    items = {}
    for override in task_overrides:
        key, value = split_override(override)
        # ablation.arm: ablate_all names its arm so
        if is_arm_key(key) or key in ("seed", "ablation.arm") or key.startswith("seeds."):
            items[key] = f"{_UNSAFE.sub('_', key)}-{_UNSAFE.sub('_', value)}"
    return "+".join(items[k] for k in sorted(items, key=lambda k: (k == "seed", k))) or "default"


def _parse(value: str) -> Any:
    """An override's value as YAML reads it: 'true' → True, '0.5' → 0.5, 'relu' → 'relu'."""
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def job_arm(task_overrides: list[str]) -> dict[str, Any]:
    """The ablation arm of a job: its overrides minus seed and run plumbing, as typed values."""
    arm = {}
    for override in task_overrides:
        key, value = split_override(override)
        if not is_arm_key(key):
            continue
        arm[key] = _parse(value)
    return arm


def claim_experiments(conf: Path) -> dict[str, str]:
    """{claim: the conf/experiment/ablate_*.yaml preset that tests it (its `ablation.claim`)},
    the first in name order where several do."""
    found: dict[str, str] = {}
    for path in sorted((Path(conf) / "experiment").glob("ablate_*.yaml")):
        claim = ((yaml.safe_load(path.read_text()) or {}).get("ablation") or {}).get("claim")
        found.setdefault(claim, path.stem)
    return found
