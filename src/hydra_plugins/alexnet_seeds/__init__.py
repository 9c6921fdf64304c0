"""Hydra sweeper: the grid sweep of Hydra's basic sweeper, or — with `ablation.max_seeds` set —
seeds added one at a time until every claim's verdict is decided (alexnet.sequential: the plan).

Hydra only instantiates sweepers from the `hydra_plugins` package, hence this home. A look
judges the sweep's records as the report does (alexnet.report.measures.analyse_runs) and decides
from the verdicts' typed fields only (final, no_pair, censored), never from their words.
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
# alexnet.sequential (scipy) is imported where used: Hydra imports this module on every start
ARM_KEY, BASELINE = "ablation.arm", "baseline"


def look(sweep_dir: Path, seeds: list[int]) -> list[dict]:
    """Every claim judged on the sweep's records of `seeds`, each at the plan's level for its
    number of paired seeds (the report reads the plan from sequential.json itself)."""
    from alexnet.report.collect import find_runs
    from alexnet.report.measures import analyse_runs

    runs = [r for r in find_runs([sweep_dir]) if r.seed in seeds]
    return [{"claim": ab.name, "outcome": ab.verdict.outcome, "reason": ab.verdict.reason,
             "final": ab.verdict.final, "no_pair": ab.verdict.no_pair,
             "censored": ab.verdict.censored}
            for ab in analyse_runs(runs) if ab.claim is not None and ab.verdict is not None]


def closed(v: dict) -> bool:
    """More seeds of the same would not turn it round: final (not measurable included). An end
    left open by some censored seeds is not: more seeds can still close the other end."""
    return v["final"]


def decide(verdicts: list[dict]) -> str:
    """The sweep's status after a look, from the verdicts' typed fields."""
    from alexnet import sequential as seq
    from alexnet.report.verdict import NOT_MEASURABLE

    if all(v["no_pair"] for v in verdicts):  # also: no verdict at all
        return seq.STOP_FAILED
    if not all(closed(v) for v in verdicts):
        return seq.CONTINUE
    if all(v["final"] for v in verdicts) and any(v["outcome"] != NOT_MEASURABLE for v in verdicts):
        return seq.STOP_DECIDED
    return seq.STOP_CENSORED


def arm_of(job: list[str]) -> str | None:
    return next((o.split("=", 1)[1] for o in job if o.startswith(f"{ARM_KEY}=")), None)


def refuse(line: str) -> None:
    print(f"error: {line}", file=sys.stderr)
    raise SystemExit(2)


def check_plan(sweep_dir: Path, plan) -> dict[tuple[int, ...], float]:
    """A plan fixed before seed 0: refuses a sweep dir with another plan, or with records made
    before any plan (their data were seen); the same plan resumes. Returns the clock of each look
    it made before (by the seeds it judged): a resume replays them as they were."""
    from alexnet.sequential import SEQUENTIAL_FILE, load_plan

    try:
        old = load_plan(sweep_dir)
    except (ValueError, TypeError, OSError) as e:
        refuse(f"{sweep_dir / SEQUENTIAL_FILE} cannot be read ({e}); use a new hydra.sweep.dir")
    if old is not None and old.design != plan.design:
        refuse(f"{sweep_dir / SEQUENTIAL_FILE} plans min_seeds={old.min_seeds}, max_seeds="
               f"{old.max_seeds}, alpha={old.alpha:g}, {old.spending}; a plan may not change once "
               "data exist: rerun with that plan to resume, or use a new hydra.sweep.dir")
    if old is None and any((d / "summary.json").is_file() for d in sweep_dir.iterdir()):
        refuse(f"{sweep_dir} holds job records but no {SEQUENTIAL_FILE}: they were made before "
               "any plan; run the sweep in a new hydra.sweep.dir")
    if old is not None:  # a resume replays the same looks on the same records (no new α);
        plan.prior_looks = old.prior_looks  # looks before the plan still count against α
        plan.resumed_after_s = spent_before(sweep_dir, old)  # and the budget goes on
        return {look_seeds(look, old): look["elapsed_s"] for look in old.looks}
    return {}


def look_seeds(look: dict, plan) -> tuple[int, ...]:
    return tuple(look.get("seed_values") or plan.seeds[:look.get("seeds", 0)])


def spent_before(sweep_dir: Path, old) -> float:
    """The budget's clock at a resume: the last look's elapsed_s (every run before it), plus the
    wall time of each record after it, as the record says — a sweep stopped before its first look,
    or mid-batch, has spent that too, and so has a job stopped unfinished: this sweep's clock then
    counts only its remaining attempt (its final record's wall time counts both, and is what the
    next resume reads instead)."""
    from alexnet.report.collect import find_runs

    last = old.looks[-1] if old.looks else {}
    looked = set(look_seeds(last, old))
    after = [r for r in find_runs([sweep_dir], pooled=False) if r.seed not in looked]
    return last.get("elapsed_s", 0.0) + sum(r.summary.get("wall_time_s") or 0.0 for r in after)


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
                    results += list(self.launcher.launch([job],
                                                         initial_job_idx=initial_job_idx + i))
                except Exception as e:  # noqa: BLE001
                    note_failed_job(f"job {initial_job_idx + i} ({' '.join(job)}): "
                                    f"{type(e).__name__}: {e}")
        for i, r in enumerate(results):
            if r.status == JobStatus.FAILED:
                error = r._return_value
                note_failed_job(f"job {initial_job_idx + i}: {type(error).__name__}: {error}")
        return results

    def _grid(self, arguments: list[str]) -> Any:
        """Hydra's basic grid sweep, launched through `launch` above."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        parsed = parser.parse_overrides(self._parse_config() + list(arguments))
        self.overrides = self.split_arguments(parsed, self.max_batch_size)
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
        from alexnet.sequential import CONTINUE, STOP_BUDGET, STOP_MAX, Plan

        settings = OmegaConf.select(self.config, "ablation", default=None) or {}
        if settings.get("max_seeds") is None:
            return self._grid(arguments)
        try:
            plan = Plan(min_seeds=settings.get("min_seeds"), max_seeds=settings.get("max_seeds"),
                        budget_minutes=settings.get("budget_minutes"))
        except ValueError as e:  # one line, like train.py's config errors, before any job runs
            refuse(str(e))

        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides(self._parse_config() + list(arguments))
        start, rest = 0, []
        for o in overrides:
            if o.get_key_element() == "seed":  # the first seed value is where the seeds start
                values = (list(o.sweep_string_iterator()) if o.is_sweep_override()
                          else [o.get_value_element_as_str()])
                start = int(values[0])
            else:
                rest.append(o)
        grid = self.split_arguments(rest, None)[0]
        plan_jobs(len(grid) * plan.max_seeds, at_most=True)

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        looked_at = check_plan(sweep_dir, plan)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        began, job_idx, returns, done_claims = time.monotonic(), 0, [], set()
        began -= plan.resumed_after_s
        batch_seeds = list(range(start, start + plan.min_seeds))
        while batch_seeds:
            # a decided claim's arm runs no more seeds; the baseline runs while any claim is open
            jobs = [job for job in grid if arm_of(job) not in done_claims]
            arms = sorted({a for job in jobs if (a := arm_of(job)) is not None})
            batch = [[*job, f"seed={s}"] for s in batch_seeds for job in jobs]
            self.validate_batch_is_legal(batch)
            plan.seeds += batch_seeds  # saved first: a report read mid-batch expects these seeds
            for arm in arms:
                plan.arm_seeds.setdefault(arm, []).extend(batch_seeds)
            plan.save(sweep_dir)
            returns.append(self.launch(batch, initial_job_idx=job_idx))
            job_idx += len(batch)
            done = len(plan.seeds)
            verdicts = look(sweep_dir, list(plan.seeds))  # this plan's seeds: never stale jobs
            # a look replayed on a resume keeps its clock: the next resume adds the records
            # after it to that, and would count the ones before a later reading twice
            elapsed = looked_at.get(tuple(plan.seeds), time.monotonic() - began)
            status = decide(verdicts)
            done_claims |= {v["claim"] for v in verdicts if closed(v)}
            plan.looks.append({"seeds": done, "seed_values": list(plan.seeds),
                               "arms": arms or None, "elapsed_s": round(elapsed, 1),
                               "verdicts": verdicts})
            if status != CONTINUE:  # decided, or more seeds of the same cannot decide
                plan.stopped = status
            elif done >= plan.max_seeds:
                plan.stopped = STOP_MAX
            elif plan.budget_minutes is not None and elapsed >= 60 * plan.budget_minutes:
                plan.stopped = STOP_BUDGET
            plan.save(sweep_dir)
            summary = "; ".join(f"{v['claim']}: {v['outcome']}" for v in verdicts) or "no verdict"
            log.info("look %d after %d seeds per arm: %s", len(plan.looks), done, summary)
            print(f"[seeds] {done} seeds per arm: {summary}"
                  + (f" → {plan.stop_reason()}" if plan.stopped else ""))
            batch_seeds = [] if plan.stopped else [start + done]
        return returns
