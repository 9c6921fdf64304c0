"""Hydra launchers for `hydra/launcher=slurm` and `slurm_local`: hydra-submitit-launcher's, each
job a DDP run of one task per device (alexnet.submitit_task; the resources are checked against
the trainer before the launcher is built, by alexnet.sweep_callbacks.SubmititResourcesCheck).

Hydra only instantiates launchers from the `hydra_plugins` package, hence this home. Without
the `slurm` extra this module defines nothing (Hydra imports every plugin module at start).
"""

from __future__ import annotations

from typing import Any

from alexnet.submitit_task import prepare_task

try:
    from hydra_plugins.hydra_submitit_launcher import submitit_launcher
except ImportError:  # pip install -e '.[slurm]'
    submitit_launcher = None


class _TaskPerDevice:
    """Prepares each task of a job (one DDP rank) before Hydra runs the job in it."""

    def __call__(self, sweep_overrides: list[str], *args: Any) -> Any:
        # submitit's checkpoint() requeues with the original arguments: the same job directory
        return super().__call__([*sweep_overrides, *prepare_task(str(self.config.hydra.job.name))],
                                *args)


if submitit_launcher is not None:
    class SlurmLauncher(_TaskPerDevice, submitit_launcher.SlurmLauncher):
        """One SLURM job per sweep job: trainer.num_nodes × trainer.devices tasks."""

    class LocalLauncher(_TaskPerDevice, submitit_launcher.LocalLauncher):
        """The same jobs on this machine (submitit's local executor): trainer.devices tasks."""
