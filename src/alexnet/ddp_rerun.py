"""DDP inside a Hydra multirun: Lightning's `ddp` strategy starts ranks 1..N-1 by re-running
`sys.argv`, which in a sweep would restart the whole sweep in every rank; here a rank re-runs
only its own job (Lightning #11300, Hydra #2070)."""

from __future__ import annotations


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


def make_ddp_rerun_one_job() -> None:
    """Install `_ddp_child_command` as Lightning's command for DDP children under Hydra."""
    from lightning.fabric.strategies.launchers import subprocess_script as fabric_launcher
    from lightning.pytorch.strategies.launchers import subprocess_script as trainer_launcher

    for module in (fabric_launcher, trainer_launcher):  # the second imports the name itself
        module._hydra_subprocess_cmd = _ddp_child_command
