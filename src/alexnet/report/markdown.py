"""report.md: one row per arm (mean ± std over seeds), the difference between arms, the
paper's claim beside it, and every failed or missing job listed."""

from __future__ import annotations

from pathlib import Path

from alexnet import paper
from alexnet.report.collect import find_runs
from alexnet.report.stats import ArmStats, difference, group_arms


def _pm(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:.2f} ± {std:.2f}" if std is not None else f"{mean:.2f} (1 seed, no std)"


def _claim_for(runs) -> paper.Claim | None:
    names = {r.summary.get("ablation") for r in runs} - {None}
    return paper.CLAIMS.get(names.pop()) if len(names) == 1 else None


def _paper_arm_first(arms: list[ArmStats], claim: paper.Claim | None) -> list[ArmStats]:
    if claim is None:
        return arms
    def is_paper(a: ArmStats) -> bool:
        return any(r.summary.get("arm", {}).get(claim.switch) == claim.paper_arm for r in a.runs + a.failed)
    return sorted(arms, key=lambda a: not is_paper(a))


def render(dirs: list[str | Path]) -> str:
    runs = find_runs(dirs)
    claim = _claim_for(runs)
    arms = _paper_arm_first(group_arms(runs), claim)
    lines = ["# Ablation report", ""]
    if claim:
        lines += [f"Claim under test: {claim.text}.", ""]
    lines += [f"Sources: {', '.join(str(d) for d in dirs)}", ""]
    lines += [
        "| arm | seeds | final val top-1 err % | final val top-5 err % | best val top-1 err % | epochs | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in arms:
        epochs = sorted({r.summary.get("epochs") for r in a.runs})
        lines.append(
            f"| {a.name} | {a.n} | {_pm(a.mean('final_val/top1_err'), a.std('final_val/top1_err'))} "
            f"| {_pm(a.mean('final_val/top5_err'), a.std('final_val/top5_err'))} "
            f"| {_pm(a.mean('best_val/top1_err'), a.std('best_val/top1_err'))} "
            f"| {', '.join(map(str, epochs)) or '-'} | {len(a.failed)} |"
        )
    if len(arms) >= 2:
        base = arms[0]
        lines += ["", f"Differences against `{base.name}` (other arm minus it, percentage points; "
                  "± one standard error over seeds):", "",
                  "| arm | Δ top-1 | Δ top-5 | paper's Δ top-1 / top-5 |", "|---|---|---|---|"]
        for other in arms[1:]:
            cells = []
            for metric in ("final_val/top1_err", "final_val/top5_err"):
                d, se = difference(base, other, metric)
                cells.append("n/a" if d is None else f"{d:+.2f}" + (f" ± {se:.2f}" if se is not None else " (no std: one seed)"))
            claimed = "-"
            if claim and claim.top1_delta is not None:
                claimed = f"{claim.top1_delta:+.1f} / {claim.top5_delta:+.1f}"
            lines.append(f"| {other.name} | {cells[0]} | {cells[1]} | {claimed} |")
    bad = [r for a in arms for r in a.failed]
    if bad:
        lines += ["", "Jobs that did not complete (not averaged in):", ""]
        lines += [f"- `{r.path}`: {r.summary.get('status')} {r.summary.get('error', '')}".rstrip() for r in bad]
    done = [r for a in arms for r in a.runs]
    if done:
        s = done[0].summary
        wall = sum(r.summary.get("wall_time_s", 0) for r in done)
        lines += ["", "Run facts:", "",
                  f"- data: {s.get('data', {}).get('root')} ({s.get('data', {}).get('train_images')} train / "
                  f"{s.get('data', {}).get('val_images')} val images, {s.get('data', {}).get('classes')} classes)",
                  f"- recipe: {s.get('recipe')} (init {s.get('init')}); parameters: {s.get('parameters'):,}",
                  f"- jobs: {len(done)} completed, total wall time {wall / 60:.1f} min; machine: "
                  f"{s.get('machine', {}).get('platform')}, {s.get('machine', {}).get('cpus')} CPUs, "
                  f"GPU {s.get('machine', {}).get('cuda')}",
                  f"- git: {s.get('git_sha')}"]
    return "\n".join(lines) + "\n"


def write_sweep_report(dirs: list[str | Path], out_dir: str | Path) -> Path:
    out = Path(out_dir) / "report.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(dirs))
    return out
