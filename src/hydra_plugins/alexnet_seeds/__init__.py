"""Hydra sweeper: the grid sweep of Hydra's basic sweeper, or — with `ablation.max_seeds` set —
seeds added one at a time until every claim's verdict is decided (alexnet.report.sequential).

Hydra only instantiates sweepers from the `hydra_plugins` package, hence this home; the rule
itself lives in `alexnet.report.sequential` (the plan) and `alexnet.report.stopping` (each look),
which read run records from disk, like the report.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from alexnet.sweep_callbacks import plan_jobs

log = logging.getLogger(__name__)


class SeedsSweeper(BasicSweeper):
    """Both arms of a seed run together; after `min_seeds` seeds and after every seed that
    follows, the sweep's records are judged and the sweep stops once every verdict is decided,
    when more seeds cannot decide (censored runs: train longer; no completed pair), at
    `max_seeds`, or when `budget_minutes` is spent.

    In both modes a job that fails — a full disk included — never ends the sweep: the next jobs
    run and the failure is counted for the command's exit status (alexnet.sweep_callbacks)."""

    def launch(self, batch: list[list[str]], initial_job_idx: int) -> list[Any]:
        """The launcher's batch; if the launcher itself raises (Hydra could not write a job's
        .hydra/ files on a full disk), the batch again one job at a time, each failure said in
        one line. Jobs that completed meanwhile are skipped by train() (their summary says so)."""
        from hydra.core.utils import JobStatus

        from alexnet.sweep_callbacks import note_failed_job

        try:
            results = list(self.launcher.launch(batch, initial_job_idx=initial_job_idx))
        except Exception as e:  # noqa: BLE001 - one job's failure must not end the sweep
            log.error("launching jobs %d-%d failed (%s: %s); running them one at a time",
                      initial_job_idx, initial_job_idx + len(batch) - 1, type(e).__name__, e)
            results = []
            for i, job in enumerate(batch):
                try:
                    results += list(self.launcher.launch([job], initial_job_idx=initial_job_idx + i))
                except Exception as e:  # noqa: BLE001
                    note_failed_job(f"job {initial_job_idx + i} ({' '.join(job)}): {type(e).__name__}: {e}")
        for i, r in enumerate(results):
            if r.status == JobStatus.FAILED:
                note_failed_job(f"job {initial_job_idx + i}: {type(r._return_value).__name__}: {r._return_value}")
        return results

    def _grid(self, arguments: list[str]) -> Any:
        """Hydra's basic grid sweep, launched through `launch` above."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        self.overrides = self.split_arguments(parser.parse_overrides(self._parse_config() + list(arguments)),
                                              self.max_batch_size)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        plan_jobs(sum(len(batch) for batch in self.overrides))
        returns, job_idx = [], 0
        while not self.is_done():
            batch = self.get_job_batch()
            self.validate_batch_is_legal(batch)
            returns.append(self.launch(batch, initial_job_idx=job_idx))
            job_idx += len(batch)
        return returns

    def sweep(self, arguments: list[str]) -> Any:
        from alexnet.report.sequential import CONTINUE, STOP_BUDGET, STOP_MAX, Plan
        from alexnet.report.stopping import look

        settings = OmegaConf.select(self.config, "ablation", default=None) or {}
        if settings.get("max_seeds") is None:
            return self._grid(arguments)
        try:
            plan = Plan(min_seeds=settings.get("min_seeds"), max_seeds=settings.get("max_seeds"),
                        budget_minutes=settings.get("budget_minutes"))
        except ValueError as e:  # one line, like train.py's config errors, before any job runs
            print(f"error: {e}", file=sys.stderr)
            raise SystemExit(2) from None

        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides(self._parse_config() + list(arguments))
        start, rest = 0, []
        for o in overrides:
            if o.get_key_element() == "seed":  # the first seed value is where the seeds start
                values = list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.get_value_element_as_str()]
                start = int(values[0])
            else:
                rest.append(o)
        grid = self.split_arguments(rest, None)[0]
        plan_jobs(len(grid) * plan.max_seeds, at_most=True)

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        began, job_idx, returns = time.monotonic(), 0, []
        batch_seeds = list(range(start, start + plan.min_seeds))
        while batch_seeds:
            batch = [[*job, f"seed={s}"] for s in batch_seeds for job in grid]
            self.validate_batch_is_legal(batch)
            plan.seeds += batch_seeds  # saved first: a report read mid-batch expects these seeds
            plan.save(sweep_dir)
            returns.append(self.launch(batch, initial_job_idx=job_idx))
            job_idx += len(batch)
            done = len(plan.seeds)
            seeds = list(plan.seeds)  # only this plan's seeds: never stale jobs of the dir
            status, verdicts = look(sweep_dir, plan, seeds)
            elapsed = time.monotonic() - began
            plan.looks.append({"seeds": done, "seed_values": seeds, "elapsed_s": round(elapsed, 1), "verdicts": verdicts})
            if status != CONTINUE:  # decided, or more seeds of the same cannot decide
                plan.stopped = status
            elif done >= plan.max_seeds:
                plan.stopped = STOP_MAX
            elif plan.budget_minutes is not None and elapsed >= 60 * plan.budget_minutes:
                plan.stopped = STOP_BUDGET
            plan.save(sweep_dir)
            summary = "; ".join(f"{v['claim']}: {v['outcome']}" for v in verdicts) or "no verdict yet"
            log.info("look %d after %d seeds per arm: %s", len(plan.looks), done, summary)
            print(f"[seeds] {done} seeds per arm: {summary}" + (f" → {plan.stop_reason()}" if plan.stopped else ""))
            batch_seeds = [] if plan.stopped else [start + done]
        return returns
