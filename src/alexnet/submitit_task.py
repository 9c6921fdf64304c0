"""A sweep's job as one task of a submitit job (`hydra/launcher=slurm`, `slurm_local`): every
task is one DDP rank, started by srun (or submitit's local controller), never by Lightning.

submitit owns requeue: on a time-out or a pre-emption its USR2 handler on global rank 0 resubmits
the job with the same arguments — the same job number and overrides, so the same job directory,
where `alexnet.resume` continues from the newest good checkpoint — and exits. Lightning's own
SLURM requeue (USR1) is switched off so that only one of them acts.
"""

from __future__ import annotations

import os
import re
import signal
from typing import Any

EXECUTORS = ("slurm", "local")  # submitit's executors of these launchers (SUBMITIT_EXECUTOR)
OUR_LAUNCHERS = "hydra_plugins.alexnet_submitit."


class Requeued(SystemExit):
    """submitit requeued this job and is ending its process: its record says `requeued`, not
    failed (the same exit status as submitit's own exit, which the local controller reads)."""


def executor() -> str | None:
    """`slurm` or `local` inside a submitit task, else None."""
    name = os.environ.get("SUBMITIT_EXECUTOR")
    return name if name in EXECUTORS else None


def main_port(job_id: str) -> int:
    """One port per job, the same on every task of it (from submitit's job id: `123` or, in an
    array, `123_4`), so two jobs on one node never share one."""
    return 20000 + int(re.sub(r"\D", "", job_id) or 0) % 20000


def torch_distributed_env(env: Any) -> dict[str, str]:
    """torch.distributed's variables from submitit's job environment. With LOCAL_RANK set,
    Lightning takes the processes as started from outside (LightningEnvironment; on a cluster
    SLURMEnvironment reads the same from SLURM_*) and does not re-run the script for the ranks."""
    return {
        "MASTER_ADDR": env.hostnames[0], "MASTER_PORT": str(main_port(env.job_id)),
        "WORLD_SIZE": str(env.num_tasks), "RANK": str(env.global_rank),
        "LOCAL_RANK": str(env.local_rank), "NODE_RANK": str(env.node),
    }


def rank_overrides(global_rank: int, job_name: str) -> list[str]:
    """Hydra overrides of a task other than rank 0: its own log file, and no .hydra/ files (rank
    0 writes them), like the ranks `alexnet.ddp_rerun` starts."""
    return ([] if global_rank == 0
            else [f"hydra.job.name={job_name}_rank{global_rank}", "hydra.output_subdir=null"])


def say_requeued() -> None:
    """Wraps submitit's USR2 handler (installed before the job runs): when it requeues and exits,
    the exit is a `Requeued`, which RunRecord writes as status `requeued`. When it does not
    requeue (timed out too often) it raises its own error and the record says failed."""
    usr2 = getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"))
    previous = signal.getsignal(usr2)

    def handler(signum, frame):
        try:
            previous(signum, frame)
        except SystemExit as e:
            raise Requeued(e.code) from None

    signal.signal(usr2, handler)


def prepare_task(job_name: str) -> list[str]:
    """In a submitit task, before Hydra runs the job: the distributed variables exported, the
    requeue said in the record; returns this rank's Hydra overrides."""
    import submitit

    env = submitit.JobEnvironment()
    os.environ.update(torch_distributed_env(env))
    say_requeued()
    return rank_overrides(env.global_rank, job_name)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def resources_problem(launcher: Any, trainer: Any) -> str | None:
    """One line when a launcher of this project (`hydra/launcher=slurm`, `slurm_local`) cannot run
    the trainer's DDP job, one task per device on every node; None otherwise, and for any other
    launcher. Read before the launcher is built: its counts are the trainer's, interpolated."""
    target = str(launcher.get("_target_", ""))
    if not target.startswith(OUR_LAUNCHERS):
        return None
    local = target.endswith("LocalLauncher")
    devices, nodes = _count(trainer.get("devices")), _count(trainer.get("num_nodes"))
    if devices is None:
        return (f"trainer.devices={trainer.get('devices')!r}: a submitit launcher starts one task "
                "per device, so it needs their number per node, e.g. trainer.devices=4")
    if nodes is None or local and nodes != 1:
        return (f"trainer.num_nodes={trainer.get('num_nodes')!r}: "
                + ("submitit's local executor runs on this machine only, set 1" if local
                   else "set a number of nodes"))
    if launcher.get("gpus_per_task"):
        return (f"hydra.launcher.gpus_per_task={launcher.gpus_per_task}: one task per GPU comes "
                "from tasks_per_node = gpus_per_node = trainer.devices; leave gpus_per_task unset")
    wanted = {"tasks_per_node": devices, "nodes": nodes}
    if launcher.get("gpus_per_node"):  # 0 or null: a CPU cluster, or this machine
        wanted["gpus_per_node"] = devices
    for key, value in wanted.items():
        if launcher.get(key) != value:
            source = "trainer.num_nodes" if key == "nodes" else "trainer.devices"
            return (f"hydra.launcher.{key}={launcher.get(key)!r} but {source}={value}: the "
                    f"launcher follows the trainer, set {source} instead")
    return None


def lightning_plugins() -> list[Any]:
    """The Trainer's cluster plugin in a submitit task on SLURM: Lightning's SLURM environment
    without its auto-requeue (submitit requeues; see the module docstring)."""
    if executor() != "slurm":
        return []
    from lightning.pytorch.plugins.environments import SLURMEnvironment

    return [SLURMEnvironment(auto_requeue=False)]
