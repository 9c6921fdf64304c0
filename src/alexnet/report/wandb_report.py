"""A W&B Report for the same runs, built as a `wandb_workspaces` spec in code (testable with no
network) and saved by one guarded, time-limited call only when W&B is online. Its run set is the
sweeps' W&B groups (training logs group = the sweep directory, job_type = the arm; a FilterExpr,
not the legacy filter string), grouped by the switches the arms differ in. Bands and bars are
W&B's standard errors over seeds; the intervals and verdicts are the offline report's (W&B has no
Student t interval or sequential level), pasted in as Markdown beside W&B's live panels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alexnet.loggers import decide_wandb_mode
from alexnet.report.collect import Run, by_ablation
from alexnet.report.verdict import TEXT
from alexnet.timeout import call_with_timeout

CURVES = (("train_eval/top1_err", "training top-1 error (eval mode)"),
          ("val/top1_err", "validation top-1 error"), ("val/top5_err", "validation top-5 error"),
          ("train/loss", "training loss"))
SAVE_TIMEOUT_S = 60.0


def wandb_target(runs: list[Run]) -> tuple[str, str | None]:
    """(project, entity) the jobs logged to, from their resolved config.yaml."""
    wb = next((wb for r in runs if (wb := (r.config.get("logger") or {}).get("wandb") or {})
               .get("project")), {"project": "alexnet-ablations"})
    return wb["project"], wb.get("entity")


def report_spec(runs: list[Run], markdown_tables: str, project: str, entity: str = "",
                title: str = "AlexNet ablation report"):
    """The wandb_workspaces Report object; nothing here touches the network."""
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    groups = (sorted({r.summary.get("group") for r in runs} - {None})
              or sorted({r.path.parent.name for r in runs}))
    blocks: list[Any] = [wr.P(TEXT["wandb_intro"].format(", ".join(groups)))]
    for ablation, members in by_ablation(runs).items():
        switches = list(dict.fromkeys(k for r in members for k in (r.summary.get("arm") or {})))
        runset = wr.Runset(
            entity=entity, project=project, name=f"{ablation or 'runs'} by arm",
            filters=expr.And(expr.Metric("group").isin(groups)),
            groupby=[f"config.{k}" for k in switches],
        )
        panels = [wr.LinePlot(title=label, x="epoch", y=[key], groupby_aggfunc="mean",
                              groupby_rangefunc="stderr", title_x="epoch", title_y=label)
                  for key, label in CURVES]
        panels.append(wr.BarPlot(title=TEXT["wandb_bars"],
                                 metrics=["test/top1_err", "test/top5_err"],
                                 groupby_aggfunc="mean", groupby_rangefunc="stderr"))
        blocks += [wr.H2(f"Ablation {ablation}" if ablation else "Runs"),
                   wr.PanelGrid(runsets=[runset], panels=panels)]
    blocks += [wr.H2("Errors, differences and verdicts"), wr.MarkdownBlock(text=markdown_tables)]
    return wr.Report(project=project, entity=entity, title=title,
                     description="What each of AlexNet's ideas is worth, seeds and CIs included.",
                     blocks=blocks)


def _save(report, timeout_s: float) -> str:
    """report.save(), its URL."""
    import wandb

    if not report.entity:  # its run sets save to the same entity
        report.entity = wandb.Api(timeout=int(timeout_s)).default_entity
        for runset in (r for block in report.blocks for r in getattr(block, "runsets", [])):
            runset.entity = report.entity
    report.save()
    return report.url


def _sync_glob(run_dir: Path, dirs: list[Path]) -> str:
    """One shell glob per input directory instead of one path per job."""
    for d in dirs:
        if run_dir.parent.parent == Path(d):
            return f"{d}/wandb/offline-run-*"
        if run_dir.parent.parent.parent == Path(d):
            return f"{d}/*/wandb/offline-run-*"
    return str(run_dir.parent / "offline-run-*")


def publish(runs: list[Run], dirs: list[Path], markdown_tables: str, requested: str = "auto",
            timeout_s: float = SAVE_TIMEOUT_S) -> str:
    """One line for the user: the W&B report's URL, or how to get one later."""
    if requested == "disabled":
        return "W&B: disabled"
    logged = [p for r in runs for p in (r.path / "wandb").glob("*run-*")]
    if not logged:
        return "W&B: these jobs logged no W&B runs (logger.wandb disabled): no W&B report"
    if (mode := decide_wandb_mode(requested)) == "disabled":
        return "W&B: disabled"
    command = "python src/report.py " + " ".join(str(d) for d in dirs) + " --wandb online"
    offline = [p for r in runs for p in (r.path / "wandb").glob("offline-run-*")]
    if mode != "online":
        where = (" ".join(sorted({_sync_glob(p, dirs) for p in offline}))
                 or "<job>/wandb/offline-run-*")
        return (f"W&B offline: sync with `wandb sync {where}`, then build the W&B report with "
                f"`{command}`")
    project, entity = wandb_target(runs)
    try:
        spec = report_spec(runs, markdown_tables, project, entity or "")
    except ImportError:
        return "W&B report needs wandb-workspaces: `pip install 'alexnet-ablations[wandb-reports]'`"
    try:  # a slow or dead network costs `timeout_s`, never a hang
        saved, url = call_with_timeout(lambda: _save(spec, timeout_s), timeout_s)
        error = "" if saved else f"timed out after {timeout_s:.0f} s"
    except Exception as e:  # noqa: BLE001 - a W&B failure must not break the report
        url, error = None, f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}"
    if url:
        return f"W&B report: {url}"
    hint = " (unsynced offline runs: `wandb sync` them first)" if offline else ""
    return f"W&B report not saved ({error}){hint}; retry later with `{command}`"
