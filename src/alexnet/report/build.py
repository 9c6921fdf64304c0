"""Sweep or run directories in, a self-contained report directory out: report.md, index.html
and the PNG figures both of them show (relative links, viewable offline), each also as a PDF."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from alexnet import paper
from alexnet.report.collect import find_runs
from alexnet.report.content import CURVES_PNG, DIFFERENCES_PNG, headlines, report_parts
from alexnet.report.document import join, to_html
from alexnet.report.measures import analyse_runs

REPORT_MD, REPORT_HTML = "report.md", "index.html"


@dataclass
class Report:
    markdown: Path
    html: Path
    figures: list[Path]
    wandb: str | None = None  # the one line about W&B, when asked for
    headlines: list[str] = field(default_factory=list)  # per claim: Δ, interval, verdict, seeds
    replaced: list[Path] = field(default_factory=list)  # this report's files that were there
    stale: list[Path] = field(default_factory=list)  # an earlier report's figures this one lacks

    def describe(self) -> str:
        """One line: what was written, and whether it overwrote a previous report."""
        figures = f"{len(self.figures)} figure{'' if len(self.figures) == 1 else 's'}"
        if not self.replaced:
            line = f"wrote {self.markdown}, {self.html.name} and {figures} (new report)"
        else:
            new = 2 + 2 * len(self.figures) - len(self.replaced)  # each figure: PNG and PDF
            more = f"; {new} file{'' if new == 1 else 's'} new" if new else ""
            line = (f"rewrote {self.markdown}, {self.html.name} and {figures} "
                    f"(previous report replaced{more})")
        if self.stale:
            line += ("; left from before, no longer in the report: "
                     + ", ".join(p.name for p in self.stale))
        return line


def render(dirs: list[str | Path], threshold: float = paper.FIGURE1_THRESHOLD) -> str:
    """report.md's text without figures (nothing is written)."""
    runs = find_runs(dirs)
    return join(report_parts(runs, [Path(d) for d in dirs], None, analyse_runs(runs, threshold)))


def build_report(dirs: list[str | Path], out_dir: str | Path | None = None,
                 threshold: float = paper.FIGURE1_THRESHOLD, wandb: str | None = None) -> Report:
    """Writes the report into `out_dir` (default: the first of `dirs`). `wandb` (auto, online,
    offline, disabled; None: skip) also builds the W&B report or says how to later."""
    dirs = [Path(d) for d in dirs]
    runs = find_runs(dirs)  # first: a wrong directory is named before anything is written
    out = Path(out_dir) if out_dir is not None else dirs[0]
    out.mkdir(parents=True, exist_ok=True)
    md, html = out / REPORT_MD, out / REPORT_HTML
    there = [p for name in (CURVES_PNG, DIFFERENCES_PNG) for ext in (".png", ".pdf")
             for p in out.glob(name.format("*").replace(".png", ext))]
    before = {p for p in (md, html, *there) if p.is_file()}
    ablations = analyse_runs(runs, threshold)
    text = join(report_parts(runs, dirs, out, ablations))
    md.write_text(text)
    html.write_text(to_html(text, title="AlexNet ablation report"))
    figures = [out / p for p in re.findall(r"^!\[[^\]]*\]\(([^)]+)\)$", text, re.M)]
    written = {md, html, *figures, *(f.with_suffix(".pdf") for f in figures)}
    report = Report(md, html, figures, replaced=sorted(before & written),
                    stale=sorted(before - written), headlines=headlines(ablations))
    if wandb is not None:
        from alexnet.report.wandb_report import publish

        text = join(report_parts(runs, dirs, None, ablations))  # W&B shows its own figures
        report.wandb = publish(runs, dirs, text, requested=wandb)
    return report
