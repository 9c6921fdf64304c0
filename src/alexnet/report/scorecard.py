"""One table over every claim: the scorecard of all ablations found under some sweep directories.

Each row is one claim, judged exactly as its sweep's report judges it (the same analysis, at
its sweep's level), with where it was measured and what it cost, and a link to the report.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from alexnet import paper
from alexnet.report import plots
from alexnet.report.build import REPORT_MD
from alexnet.report.collect import find_runs
from alexnet.report.content import Ablation, analyse_runs, fmt_ci, is_speed
from alexnet.report.curves import DEFAULT_THRESHOLD
from alexnet.report.document import Block, Figure, Heading, Para, Table, to_html, to_markdown
from alexnet.report.verdict import rule

SCORECARD_MD, SCORECARD_HTML, SCORECARD_PNG = "scorecard.md", "scorecard.html", "scorecard.png"
HEADER = ["claim", "the paper", "measure", "ours: Δ [CI]", "verdict", "seeds per arm", "data",
          "epochs", "wall time", "report"]


@dataclass
class Scorecard:
    markdown: Path
    html: Path
    figure: Path | None
    ablations: list[Ablation]


def _data(ab: Ablation) -> str:
    described = {(d.get("layout"), d.get("train_images"), d.get("test_images"))
                 for a in ab.arms for r in a.runs if (d := r.summary.get("data"))}
    return "; ".join(f"{layout or '?'} ({train or '?'} train / {test or '?'} test)"
                     for layout, train, test in sorted(described, key=str)) or "-"


def _reports(ab: Ablation, out: Path) -> str:
    sweeps = sorted({r.path.parent for a in ab.arms for r in a.runs + a.failed})
    links = [f"[{s.name}]({os.path.relpath(s / REPORT_MD, out)})" for s in sweeps if (s / REPORT_MD).is_file()]
    return ", ".join(links) or "-"


def row(ab: Ablation, out: Path) -> list[str]:
    head, claim = ab.primary, ab.claim
    measured = "-"
    if head is not None and head.paired is not None:
        measured = f"{head.fmt(head.paired.delta)} {fmt_ci(head.paired.ci, head.fmt, head.paired.n)}"
    runs = [r for a in ab.arms for r in a.runs]
    epochs = sorted({r.summary.get("epochs") for r in runs} - {None})
    wall = sum(r.summary.get("wall_time_s") or 0.0 for r in runs)
    verdict = ab.verdict
    verdict_text = "**undecided** (no pair of completed arms)" if verdict is None else f"**{verdict.outcome}**"
    if verdict is not None and verdict.seeds_needed:
        verdict_text += f" (~{verdict.seeds_needed} seeds would decide)"
    return [f"`{ab.name}`: {claim.text}", head.claimed_text if head else "-", head.label if head else "-",
            measured, verdict_text, str(ab.seeds), _data(ab), ", ".join(map(str, epochs)) or "-",
            f"{wall / 60:.1f} min", _reports(ab, out)]


def build_scorecard(dirs: list[str | Path], out_dir: str | Path, threshold: float = DEFAULT_THRESHOLD) -> Scorecard:
    dirs = [Path(d) for d in dirs]
    runs = find_runs(dirs)  # first: a wrong directory is named before anything is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    order = list(paper.CLAIMS)
    ablations = sorted((ab for ab in analyse_runs(runs, threshold) if ab.claim is not None),
                       key=lambda ab: order.index(ab.name))
    blocks: list[Block] = [
        Heading("AlexNet's claims, measured", 1),
        Para("One row per claim of the paper: the paper's number (ILSVRC, or CIFAR-10 for Figure 1), our "
             "paired difference (other arm minus the paper's arm; ten-crop: centre minus ten crops of the "
             "same weights; Figure 1: the ratio of epochs to 25 % training error) with its interval, and "
             "the verdict. Each row is judged as its sweep's report judges it."),
        Table(HEADER, [row(ab, out) for ab in ablations]),
    ]
    figure = None
    if ablations:
        figure = plots.scorecard(_normalised(ablations), out / SCORECARD_PNG)
        blocks.append(Figure(figure.name, "every claim on one axis: our effect as a fraction of the paper's "
                                          "(0: no effect, 1: as claimed), with its interval"))
    missing = [f"`{k}`" for k in paper.CLAIMS if k not in {ab.name for ab in ablations}]
    if missing:
        blocks.append(Para("Not measured under these directories: " + ", ".join(missing) + "."))
    blocks += [Heading("How the verdict is reached", 2), Para(rule(any(map(is_speed, ablations)))),
               Para("Sources: " + ", ".join(f"`{d}`" for d in dirs))]
    md, html = out / SCORECARD_MD, out / SCORECARD_HTML
    md.write_text(to_markdown(blocks))
    html.write_text(to_html(blocks, title="AlexNet scorecard"))
    return Scorecard(md, html, figure, ablations)


def _normalised(ablations: list[Ablation]) -> list[tuple[str, float, tuple[float, float] | None, str]]:
    """(label, effect / claim, interval / claim, verdict): one scale for every claim."""
    rows = []
    for ab in ablations:
        head = ab.primary
        if head is None or head.paired is None or not head.claimed:
            continue
        c = head.claimed
        ci = None if head.paired.ci is None else tuple(sorted(v / c for v in head.paired.ci))
        if ci is not None:
            ci = tuple(max(-5.0, min(5.0, v)) if math.isfinite(v) else math.copysign(5.0, v) for v in ci)
        rows.append((ab.name, head.paired.delta / c, ci, ab.verdict.outcome))
    return rows
