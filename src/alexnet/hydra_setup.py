"""The resolvers every composed config needs: `${paper:NAME}`, `${run_id:}`, `${repo_root:}`,
`${job_dirname:...}`. The mains call `register_resolvers` before Hydra composes."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from alexnet import paper
from alexnet.arms import claim_experiments, job_dirname

log = logging.getLogger(__name__)

# One id per process: every job of a sweep shares it, and two sweeps started in the same second
# (two processes) never do.
RUN_ID = f"{os.getpid()}{secrets.token_hex(2)}"

def paper_value(name: str) -> Any:
    """`${paper:MOMENTUM}`: a constant of alexnet.paper, so the configs restate none of them."""
    value = getattr(paper, name)
    # a tuple as a ListConfig: OmegaConf.resolve (Hydra's --cfg job --resolve) cannot put a plain
    # list where the interpolation was
    return OmegaConf.create(list(value)) if isinstance(value, tuple) else value


def switches_help(conf: Path) -> str:
    """`${switches_help:}` in --help: each claim's switch, its paper value and other arm
    (alexnet.paper.CLAIMS) and the experiment that flips it (its `ablation.claim`)."""
    experiments = claim_experiments(conf)
    rows = [(f"{c.switch}={c.paper_arm}|{c.other_arm}",
             f"experiment={experiments[k]}" if k in experiments else "", c.text)
            for k, c in paper.CLAIMS.items()]
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"  {a:<{width[0]}}  {b:<{width[1]}}  {t}" for a, b, t in rows)


def register_resolvers(repo_root: Path) -> None:
    for name, fn in (("repo_root", lambda: str(repo_root)), ("run_id", lambda: RUN_ID),
                     ("job_dirname", job_dirname),
                     ("paper", paper_value), ("add", lambda *terms: sum(terms)),
                     ("switches_help", lambda: switches_help(repo_root / "conf"))):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def compose_config(repo_root: Path, *overrides: str):
    """The config `python src/train.py OVERRIDES` would run, without running it (Hydra's compose
    API): for tests, benchmarks and notebooks, e.g.
    `AlexNetModule(**recipe_arguments(cfg.recipe))`."""
    from hydra import compose, initialize_config_dir

    register_resolvers(repo_root)
    with initialize_config_dir(config_dir=str(Path(repo_root) / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))
