"""Hydra launcher `hydra/launcher=parallel`: a sweep's jobs several at a time on this machine,
each pinned to its own GPU(s), or on a CPU-only machine each with its share of the cores.

The engine is loky (joblib's process pool, which hydra-joblib-launcher also runs on), used
directly: one single-worker pool per slot, started with that slot's CUDA_VISIBLE_DEVICES (and
OMP_NUM_THREADS) in its environment before the worker imports anything, so CUDA can only ever
see the slot's GPUs. hydra-joblib-launcher itself cannot pin: it hands every job to one shared
pool of reused workers, where a job lands on whichever worker is free and a worker's CUDA,
once initialised by its first job, keeps that job's GPU for every later one. A slot's worker
runs its jobs one after another, as Hydra's basic launcher runs a whole sweep in one process
(the job code is written for that). Jobs fill the free slots in order; slots take the GPUs
round-robin, so `jobs` above the GPU count puts several jobs on a GPU (CIFAR-size nets leave
one mostly idle).

Hydra only instantiates launchers from the `hydra_plugins` package, hence this home; imports
of torch and joblib wait until a sweep uses it (Hydra imports every plugin module at start).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, ListConfig

log = logging.getLogger(__name__)


class LauncherError(ValueError):
    """A launcher setting that cannot work; the message is one line."""


def _count(value: Any, key: str) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LauncherError(f"{key}={value!r} cannot work: pass a whole number ≥ 1")
    return value


def visible_gpus(devices: Any = None) -> list[str]:
    """The GPUs the jobs share: `devices` when given (a list of ids, or "0,1"), else the parent's
    CUDA_VISIBLE_DEVICES, else every GPU torch sees; [] on a machine without one."""
    if devices is None:
        env = os.environ.get("CUDA_VISIBLE_DEVICES")
        if env is not None:
            return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    if isinstance(devices, str):
        devices = devices.split(",")
    return [str(d).strip() for d in devices if str(d).strip()]


def job_slots(gpus: list[str], jobs: int | None, gpus_per_job: int) -> list[str | None]:
    """What each of the jobs run at once sees: a CUDA_VISIBLE_DEVICES value per slot, the GPUs
    taken `gpus_per_job` at a time and dealt round-robin (more jobs than groups: several per
    group); `None` per slot on a CPU-only machine. `jobs` None: one per group (one on a CPU)."""
    if not gpus:
        return [None] * (jobs or 1)
    groups = [
        ",".join(gpus[i : i + gpus_per_job])
        for i in range(0, len(gpus) - gpus_per_job + 1, gpus_per_job)
    ]
    if not groups:
        raise LauncherError(
            f"each job uses trainer.devices={gpus_per_job} GPUs but only {len(gpus)} are visible "
            f"({','.join(gpus)}): lower trainer.devices or make more GPUs visible"
        )
    return [groups[i % len(groups)] for i in range(jobs or len(groups))]


def thread_share(jobs: int, cores: int | None = None) -> int:
    """CPU threads per job: the machine's cores split evenly between the jobs run at once."""
    return max(1, (cores or os.cpu_count() or 1) // jobs)


def slot_env(slot: str | None, threads: int) -> dict[str, str]:
    """The environment a slot's worker starts with."""
    env = {"OMP_NUM_THREADS": str(threads)}
    if slot is not None:
        env["CUDA_VISIBLE_DEVICES"] = slot
    return env


def run_one_job(
    idx: int,
    overrides: Sequence[str],
    hydra_context: HydraContext,
    config: DictConfig,
    task_function: TaskFunction,
    singleton_state: dict,
    threads: int,
    planned: dict,
) -> tuple[JobReturn, list[str], float, float]:
    """One job in a slot's worker, as Hydra's launchers run one (hydra-joblib-launcher's
    `execute_job`); returns (its JobReturn, the failures it noted, its start and end time)."""
    import torch
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job
    from omegaconf import open_dict

    from alexnet import sweep_callbacks
    from alexnet.console import quiet_dependencies
    from alexnet.ddp_rerun import make_ddp_rerun_one_job

    began = time.time()
    quiet_dependencies()  # as cli.run does in the sweep's own process
    setup_globals()
    Singleton.set_state(singleton_state)
    make_ddp_rerun_one_job()  # a DDP job's ranks re-run this job alone
    torch.set_num_threads(threads)
    sweep_callbacks.plan_jobs(**planned)  # for the progress line this worker prints
    sweep_callbacks.SWEEP.failed_jobs.clear()
    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    ret = run_job(
        hydra_context=hydra_context,
        task_function=task_function,
        config=sweep_config,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    return ret, list(sweep_callbacks.SWEEP.failed_jobs), began, time.time()


class ParallelLauncher(Launcher):
    """`jobs` at once (null: one per GPU, or per `gpus_per_job` GPUs; one on a CPU-only
    machine), on `devices` (null: the visible GPUs), each with `threads_per_job` CPU threads
    (null: the cores ÷ jobs)."""

    def __init__(
        self,
        jobs: int | None = None,
        devices: Any = None,
        gpus_per_job: Any = 1,
        threads_per_job: int | None = None,
    ) -> None:
        self.jobs, self.devices, self.gpus_per_job, self.threads_per_job = (
            jobs,
            devices,
            gpus_per_job,
            threads_per_job,
        )
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        self._pools: dict[int, Any] = {}

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def slots(self) -> list[str | None]:
        jobs = None if self.jobs is None else _count(self.jobs, "hydra.launcher.jobs")
        devices = list(self.devices) if isinstance(self.devices, ListConfig) else self.devices
        gpus = visible_gpus(devices)
        per_job = (
            _count(self.gpus_per_job, "hydra.launcher.gpus_per_job (trainer.devices)")
            if gpus
            else 1
        )
        return job_slots(gpus, jobs, per_job)

    def _pool(self, slot: int, env: dict[str, str]):
        from joblib.externals.loky import ProcessPoolExecutor

        if slot not in self._pools:
            self._pools[slot] = ProcessPoolExecutor(max_workers=1, env=env)
        return self._pools[slot]

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from concurrent.futures import FIRST_COMPLETED, wait

        from hydra.core.singleton import Singleton

        from alexnet import sweep_callbacks

        setup_globals()
        assert (
            self.config is not None
            and self.hydra_context is not None
            and self.task_function is not None
        )
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        try:
            slots = self.slots()
        except LauncherError as e:
            import sys

            print(f"error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        threads = self.threads_per_job or thread_share(len(slots))
        sweep = sweep_callbacks.SWEEP
        planned = {"jobs": sweep.planned_jobs, "at_most": sweep.at_most, "at_once": len(slots)}
        state = Singleton.get_state()
        pending = deque(enumerate(job_overrides))
        free, running, results = list(range(len(slots))), {}, [None] * len(job_overrides)
        try:
            while pending or running:
                while pending and free:
                    slot = free.pop(0)
                    i, overrides = pending.popleft()
                    idx = initial_job_idx + i
                    where = f"GPU {slots[slot]}" if slots[slot] is not None else "CPU"
                    log.info(
                        "job %d on %s, %d threads: %s",
                        idx,
                        where,
                        threads,
                        " ".join(filter_overrides(overrides)),
                    )
                    future = self._pool(slot, slot_env(slots[slot], threads)).submit(
                        run_one_job,
                        idx,
                        list(overrides),
                        self.hydra_context,
                        self.config,
                        self.task_function,
                        state,
                        threads,
                        planned,
                    )
                    running[future] = (i, slot, idx)
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    i, slot, idx = running.pop(future)
                    results[i] = self._result(future, idx, job_overrides[i], slot)
                    free.append(slot)
                    free.sort()
        except BaseException:  # Ctrl+C, or a bug here: stop the workers, not only this loop
            self.shutdown(kill=True)
            raise
        return results

    def _result(self, future, idx: int, overrides: Sequence[str], slot: int) -> JobReturn:
        from concurrent.futures.process import BrokenProcessPool

        from alexnet import sweep_callbacks

        try:
            ret, failures, began, ended = future.result()
        except Exception as e:  # noqa: BLE001 - it failed outside its task, or its worker died
            if isinstance(e, BrokenProcessPool):  # killed, out of memory: a new worker for the slot
                self._pools.pop(slot).shutdown(wait=False, kill_workers=True)
                e = RuntimeError(f"its process died ({type(e).__name__}: {e})")
            ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
            ret.return_value = e
            return ret
        sweep_callbacks.SWEEP.failed_jobs.extend(failures)  # the exit status counts them here
        log.info("job %d ended after %.1f s (%s)", idx, ended - began, ret.status.name.lower())
        return ret

    def shutdown(self, kill: bool = False) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.shutdown(wait=not kill, kill_workers=kill)
