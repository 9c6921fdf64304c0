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
from alexnet.arms import job_dirname

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


def register_resolvers(repo_root: Path) -> None:
    for name, fn in (("repo_root", lambda: str(repo_root)), ("run_id", lambda: RUN_ID), ("job_dirname", job_dirname),
                     ("paper", paper_value), ("add", lambda *terms: sum(terms))):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
