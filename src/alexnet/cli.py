"""How the Hydra mains (train, evaluate, export) end: a mistyped override or option gets one line
with the closest valid names instead of Hydra's internals, and a run stopped by SIGTERM exits
with status 143 (128 + 15), so schedulers and scripts see that it did not finish.

Hydra prints its own composition errors and exits 1 unless `HYDRA_FULL_ERROR` is set; `run`
sets it (unless the user did) so the errors reach us, then explains them.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

from alexnet.arms import parse_overrides
from alexnet.console import quiet_dependencies

SIGTERM_STATUS = 128 + 15


def _keys(cfg: DictConfig, prefix: str = "") -> list[str]:
    keys = []
    for k, v in cfg.items_ex(resolve=False):
        key = f"{prefix}{k}"
        keys.append(key)
        if isinstance(v, DictConfig):
            keys += _keys(v, f"{key}.")
    return keys


def _composed_keys(conf_dir: Path, config_name: str, argv: list[str]) -> list[str]:
    """Every key of the config the command line composes, with its group choices (the first
    value of a swept one) but none of its key overrides."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    choices = []
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        try:
            (o,) = parse_overrides([arg])
        except Exception:  # noqa: BLE001 - a bad override is what is being explained
            continue
        key = o.get_key_element().lstrip("+~")
        if o.is_delete() or not (conf_dir / key).is_dir():
            continue
        value = (next(iter(o.sweep_string_iterator())) if o.is_sweep_override()
                 else o.get_value_element_as_str())
        choices.append(f"{key}={value}")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=choices)
    return _keys(cfg)


def _closest(word: str, candidates: list[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    return difflib.get_close_matches(word, candidates, n=n, cutoff=cutoff)


def explain(error: BaseException, conf_dir: Path, config_name: str, argv: list[str],
            script: str) -> str:
    """One line for a Hydra composition error: what is wrong, the closest valid names."""
    from hydra.errors import MissingConfigException, OverrideParseException

    cause = error.__cause__
    full_key = getattr(cause, "full_key", None)
    if full_key and "not in struct" in str(cause):
        try:
            keys = _composed_keys(conf_dir, config_name, argv)
        except Exception:  # noqa: BLE001 - the suggestion is a courtesy; the line still says
            # what is wrong
            keys = []
        parent, _, leaf = full_key.rpartition(".")
        siblings = {k.rpartition(".")[2]: k for k in keys if k.rpartition(".")[0] == parent}
        near = ([siblings[n] for n in _closest(leaf, list(siblings), n=2, cutoff=0.75)]
                or _closest(full_key, keys, n=2))
        hint = f"did you mean {' or '.join(near)}?" if near else "it is not in the config"
        return (f"error: {full_key} is not a key of this config: {hint} "
                f"(python {script} --cfg job lists every key)")
    if isinstance(error, MissingConfigException) and error.missing_cfg_file:
        group, _, name = error.missing_cfg_file.rpartition("/")
        options = list(error.options or [])
        if group and options:
            near = _closest(name, options)
            hint = f"did you mean {' or '.join(near)}? " if near else ""
            return (f"error: {group}={name} is not an option of {group}: {hint}choices: "
                    f"{', '.join(options)}")
    if isinstance(error, OverrideParseException):
        return (f"error: cannot read the override {error.override!r}: "
                f"{str(error).strip().splitlines()[0]}; "
                "quote a value with spaces or special characters: \"key='value'\"")
    return "error: " + (str(error).strip().splitlines() or [type(error).__name__])[0]


def run(main: Callable[[], object], conf_dir: Path, config_name: str) -> None:
    """Calls a `@hydra.main` function the way its script should end."""
    from hydra.errors import ConfigCompositionException, OverrideParseException
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    quiet_dependencies()
    user_wants_traces = "HYDRA_FULL_ERROR" in os.environ
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        main()
    except SIGTERMException:
        print("error: stopped by SIGTERM; its summary.json says interrupted and the command "
              "that resumes it",
              file=sys.stderr)
        sys.exit(SIGTERM_STATUS)
    except (ConfigCompositionException, OverrideParseException) as e:
        # the command line's; a bug's traceback stays
        if user_wants_traces:
            raise
        print(explain(e, conf_dir, config_name, sys.argv[1:], f"src/{Path(sys.argv[0]).name}"),
              file=sys.stderr)
        sys.exit(2)
    finally:
        # a caller in the same process (a test, runpy) keeps its own setting
        if not user_wants_traces:
            os.environ.pop("HYDRA_FULL_ERROR", None)
