"""DDP inside a Hydra multirun: Lightning's `ddp` strategy starts ranks 1..N-1 by re-running
`sys.argv`, which in a sweep would restart the whole sweep in every rank; here a rank re-runs
only its own job (Lightning #11300, Hydra #2070)."""

from __future__ import annotations

from typing import Any

PATCHED = "_hydra_subprocess_cmd"  # Lightning's private name for the command its DDP children run


def _ddp_child_command(local_rank: int) -> tuple[list[str], str]:
    """The command a DDP child process runs: this one job, not the whole sweep.

    Lightning's `ddp` strategy starts ranks 1..N-1 by re-running `sys.argv`. Inside a Hydra
    multirun that command still holds `-m` and the sweep, so every rank would restart the
    whole sweep (Lightning #11300, Hydra #2070). The child gets instead the job's own
    overrides, run mode, and the job's output directory.
    """
    import sys

    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_original_cwd, to_absolute_path

    hc = HydraConfig.get()
    command = [sys.executable, to_absolute_path(sys.argv[0]), *hc.overrides.task]
    command += [
        "hydra.mode=RUN",
        f"hydra.run.dir=\"{hc.runtime.output_dir}\"",  # quoted: job dirs hold = and ,
        f"hydra.job.name={hc.job.name}_ddp_rank{local_rank}",
        "hydra.output_subdir=null",
    ]
    return command, get_original_cwd()


def _launchers() -> tuple:
    from lightning.fabric.strategies.launchers import subprocess_script as fabric_launcher
    from lightning.pytorch.strategies.launchers import subprocess_script as trainer_launcher

    return fabric_launcher, trainer_launcher  # the second imports the name itself


def _missing() -> list[str]:
    """Where Lightning's private name is gone (a later Lightning): there is nothing to patch."""
    return [f"{module.__name__}.{PATCHED}" for module in _launchers()
            if not callable(getattr(module, PATCHED, None))]


def make_ddp_rerun_one_job() -> None:
    """Install `_ddp_child_command` as Lightning's command for DDP children under Hydra, where
    the private name is there (`ddp_in_sweep_problem` refuses DDP in a sweep where it is gone)."""
    for module in _launchers():
        if callable(getattr(module, PATCHED, None)):
            setattr(module, PATCHED, _ddp_child_command)


def ddp_in_sweep_problem(trainer: Any, multirun: bool) -> str | None:
    """One line when this job would start DDP ranks inside a sweep without the patch: each rank
    would re-run the whole sweep. None when all is well — also when the ranks are started from
    outside (a submitit task, torchrun: LOCAL_RANK is set) and Lightning starts none."""
    import os

    strategy, devices = str(trainer.get("strategy", "auto")), trainer.get("devices", 1)
    # the strategies Lightning launches by re-running the script (not ddp_spawn, not one device)
    relaunches = strategy in ("ddp", "auto", "columns") or strategy.startswith("ddp_find")
    if not (multirun and relaunches and devices not in (1, "1")) or "LOCAL_RANK" in os.environ:
        return None
    if not (missing := _missing()):
        return None
    import lightning

    return (f"{', '.join(missing)} is gone in lightning {lightning.__version__}, so DDP inside a "
            "sweep would re-run the whole sweep in every rank: run the jobs one by one (without "
            "-m), or install lightning<=2.6.6")
