"""The scorecard: one row per claim of the paper, judged as its sweep's report judges it, with
its cost, report and command; beneath it each study's setting beside the paper's, so that no row
is over-read. As experiments/README.md (`readme`) it adds the GPU commands and a folder index."""

from __future__ import annotations

import csv
import math
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexnet import paper
from alexnet.arms import claim_experiments
from alexnet.report import document as doc
from alexnet.report import plots
from alexnet.report.collect import distinct, find_runs, sweep_command, wall_time
from alexnet.report.measures import MEASURES, SHARED, Ablation, analyse_runs
from alexnet.report.stats import holm

SCORECARD_MD, SCORECARD_HTML, SCORECARD_PNG = "scorecard.md", "scorecard.html", "scorecard.png"
SCORECARD_CSV, SCORECARD_TEX = "scorecard.csv", "scorecard.tex"
PAPER_COLUMNS = ("claim", "the paper", "ours: Δ [CI]", "level", "verdict", "seeds per arm")  # .tex
README_MD, REJUDGED_MD = "README.md", "rejudged.md"
HEADER = ["claim", "the paper", "measure", "ours: Δ [CI]", "level", "verdict",
          "effect ≠ 0 after Holm", "seeds per arm", "data", "epochs", "wall time", "report",
          "command"]
SETTING_HEADER = ["study", "net", "input px", "data", "epochs", "batch", "recipe", "machine",
                  "code", "runs, wall time"]
# LaTeX for the characters the cells use: text escaped, symbols in math mode
TEX = ({c: "\\" + c for c in "&%$#_{}"} | {"~": r"\textasciitilde{}", "^": r"\^{}", "–": "--",
                                            "\\": r"\textbackslash{}", "§": r"\S{}"}
       | {ch: f"${cmd}$" for ch, cmd in zip("Δ≥≤≠×−±∞·→≈", (
           r"\Delta", r"\geq", r"\leq", r"\neq", r"\times", "-", r"\pm", r"\infty", r"\cdot",
           r"\rightarrow", r"\approx"), strict=True)})


@dataclass
class Scorecard:
    markdown: Path
    html: Path | None  # None as experiments/README.md: the Markdown is the page
    figure: Path | None
    ablations: list[Ablation]
    tables: tuple[Path, ...] = ()  # scorecard.csv and scorecard.tex


class StaleScorecard(Exception):
    """The committed scorecard is not what the committed records give."""


def write_tables(rows: list[list[str]], out: Path) -> tuple[Path, Path]:
    """The scorecard for a paper: every column as CSV, and the headline columns as a LaTeX
    booktabs table (\\usepackage{booktabs})."""
    rows = [HEADER, *([doc.plain(c) for c in row] for row in rows)]
    with open(out / SCORECARD_CSV, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    keep = [HEADER.index(c) for c in PAPER_COLUMNS]
    lines = [" & ".join("".join(TEX.get(ch, ch) for ch in row[i]) for i in keep) + r" \\"
             for row in rows]
    (out / SCORECARD_TEX).write_text("\n".join([
        r"\begin{tabular}{" + "l" * len(keep) + "}", r"\toprule", lines[0], r"\midrule", *lines[1:],
        r"\bottomrule", r"\end{tabular}", ""]))
    return out / SCORECARD_CSV, out / SCORECARD_TEX


def _sweeps(ab: Ablation) -> list[Path]:
    return sorted({r.path.parent for a in ab.arms for r in a.runs + a.failed})


def _on_another_net(name: str, judged: dict[str, Ablation]) -> str | None:
    """The claim in `judged` that measures claim `name` on another net (Figure 1: AlexNet's
    `activation` is `cifar_relu` on the four-layer net, where the paper measured it)."""
    claim = paper.CLAIMS[name]
    return next((n for n in judged if (c := paper.CLAIMS[n]).arch != claim.arch
                 and (c.switch, c.measure) == (claim.switch, claim.measure)), None)


def row(name: str, ab: Ablation | None, out: Path, conf_dir: Path | None,
        kept: dict[str, bool], twin: str | None = None) -> list[str]:
    """One claim's cells under HEADER; without runs (`ab` None), the paper's number and the
    command that would measure it, and where another net's row (`twin`) judges the claim."""
    claim = paper.CLAIMS[name]
    measure, fallback = MEASURES[claim.measure], _fallback_command(name, conf_dir)
    commands = sorted(({sweep_command(s) or fallback for s in _sweeps(ab)} if ab else {fallback})
                      - {None})
    cell = "; ".join(f"`{c}`" for c in commands) or "-"
    if commands and (before := doc.TEXT["before"].get(name)):  # what the command relies on
        cell += f", {before}"
    if ab is None:
        verdict = (f"**not measured on this net**: measured on {paper.CLAIMS[twin].arch} "
                   f"(row `{twin}`)" if twin else "**not measured yet**")
        return [f"`{name}`: {claim.text}", measure.paper_number(claim), measure.label(claim),
                "-", "-", verdict, "-", "0", "-", "-", "-", "-", cell]
    shared = wall_time([r for r in ab.runs if r.summary.get(SHARED)])
    own = wall_time(ab.runs) - shared
    wall = f"{own / 60:.1f} min" + (f" + {shared / 60:.1f} min shared baseline" if shared else "")
    data = sorted({(d.get("layout"), d.get("train_images"), d.get("test_images"))
                   for r in ab.runs if (d := r.summary.get("data"))}, key=str)
    reports = [f"[{s.name}]({os.path.relpath(s / doc.REPORT_MD, out)})" for s in _sweeps(ab)
               if (s / doc.REPORT_MD).is_file()]
    p = ab.adjusted_p
    holm_cell = "-" if p is None else f"{'**kept**' if kept[name] else 'not kept'} (p = {p:.2g})"
    cells = doc.claim_cells(ab)
    return [f"`{name}`: {claim.text}", cells["paper"], cells["measure"], cells["measured"],
            doc.level(ab) if ab.estimate else "-", cells["verdict"], holm_cell, cells["seeds"],
            "; ".join(f"{layout or '?'} ({train or '?'} train / {test or '?'} test)"
                      for layout, train, test in data) or "-",
            ", ".join(map(str, distinct(ab.runs, "epochs"))) or "-",
            wall, ", ".join(reports) or "-", cell]


def _fallback_command(name: str, conf_dir: Path | None) -> str | None:
    """The command measuring claim `name` when no sweep records one: its conf/experiment/ preset
    at our scale (AlexNet's claims: the CPU preset; the four-layer net's: CIFAR-10)."""
    experiment = claim_experiments(conf_dir).get(name) if conf_dir else None
    if experiment is None:
        return None
    scale = "preset=cifar_cpu" if paper.CLAIMS[name].arch == "alexnet" else "data=cifar10"
    return f"python src/train.py experiment={experiment} {scale} data.root=DIR"


def setting_rows(ablations: list[Ablation], out: Path) -> list[list[str]]:
    """Each source sweep's setting (from its paper-arm runs' config.yaml and summary.json), after
    the paper's own for each net the sweeps train."""
    rows, archs = [], []
    for sweep in sorted({s for ab in ablations for s in _sweeps(ab)}):
        every = {r.path: r for ab in ablations for r in ab.runs if r.path.parent == sweep}.values()
        first = next((r for ab in ablations for r in ab.arms[0].runs
                      if r.path.parent == sweep and r.config), None)
        if first is None:
            continue
        cfg = first.config
        model, data = cfg.get("model") or {}, cfg.get("data") or {}
        d = first.summary.get("data") or {}
        archs.append(arch := model.get("arch", "alexnet"))
        width = f", width {model['width']:g}" if "width" in model else ""
        stem = f", {model['stem']} stem" if model.get("stem") else ""
        images = (f"{d.get('layout', '?')}: {d['train_images']:,} train / "
                  f"{d.get('val_images') or 0:,} held out / {d.get('test_images') or 0:,} test"
                  if d.get("train_images") else d.get("layout", "-"))
        machines = sorted({f"{m.get('cpus', '?')} CPUs"
                           + (f", {m['cuda']}" if m.get("cuda") else ", no GPU")
                           + f", torch {m.get('torch', '?')}"
                           for r in every if (m := r.summary.get("machine"))})
        shas = sorted({str(r.summary["git_sha"])[:7] for r in every if r.summary.get("git_sha")})
        rows.append([f"`{os.path.relpath(sweep, out)}` (ours)", f"{arch}{stem}{width}",
                     str(data.get("crop_size", "-")), images,
                     str((cfg.get("trainer") or {}).get("max_epochs", "-")),
                     str(data.get("batch_size", "-")),
                     str((cfg.get("recipe") or {}).get("name", "-")),
                     "; ".join(machines) or "-", ", ".join(shas) or "-",
                     f"{len(every)} runs, {wall_time(every) / 3600:.1f} h"])
    papers = [[f"the paper ({arch})", s.net, str(s.input_px), s.data, s.epochs, str(s.batch),
               "§5" if arch == "alexnet" else "cuda-convnet's", "-", "-", "-"]
              for arch in dict.fromkeys(archs or ["alexnet"])
              if (s := paper.PAPER_SETTINGS.get(arch))]
    return papers + rows


def build_scorecard(dirs: list[str | Path], out_dir: str | Path,
                    threshold: float = paper.FIGURE1_THRESHOLD, readme: bool = False,
                    conf_dir: Path | None = None, check: bool = False) -> Scorecard:
    """Writes scorecard.md/.html/.png into `out_dir` — or, with `readme`, README.md and
    scorecard.png. With `check`, writes nothing and raises StaleScorecard if the Markdown on
    disk is not what the records give."""
    dirs = [Path(d) for d in dirs]
    runs = find_runs(dirs)  # first: a wrong directory is named before anything is written
    out = Path(out_dir)
    ablations = sorted((ab for ab in analyse_runs(runs, threshold) if ab.claim is not None),
                       key=lambda ab: list(paper.CLAIMS).index(ab.name))
    kept = holm({ab.name: ab.adjusted_p for ab in ablations})
    judged = {ab.name: ab for ab in ablations}
    rows = [row(name, judged.get(name), out, conf_dir, kept, _on_another_net(name, judged))
            for name in paper.CLAIMS]
    shown = [os.path.relpath(d) for d in (*dirs, out)]  # as typed from the current directory
    command = shlex.join(["python", "src/scorecard.py", *shown[:-1], "--out", shown[-1],
                          *(["--readme"] if readme else []),
                          *([] if threshold == paper.FIGURE1_THRESHOLD
                            else ["--threshold", f"{threshold:g}"])])
    normalised = _normalised(ablations)
    parts = ["# AlexNet's claims, measured",
             doc.TEXT["scorecard_intro"].format(command=command)
             + (doc.TEXT["regenerates"] if readme else "."), doc.table(HEADER, rows),
             doc.TEXT["multiplicity"].format(
                 n=sum(ab.adjusted_p is not None for ab in ablations),
                 kept=", ".join(f"`{k}`" for k, v in kept.items() if v) or "none"),
             # README: the hand-written account of what changed when the rules did, and why
             (out / REJUDGED_MD).read_text().strip() if readme and (out / REJUDGED_MD).is_file()
             else "", doc.figure(SCORECARD_PNG, doc.TEXT["scorecard_figure"]) if normalised else "",
             "## What differs from the paper's setting",
             doc.table(SETTING_HEADER, setting_rows(ablations, out)), doc.TEXT["setting"]]
    if readme:
        parts += ["## The same studies on GPUs", doc.TEXT["gpu"],
                  doc.bullets([f"{what}: `{cmd}`" for what, cmd in doc.TEXT["gpu_commands"]])]
    parts += [*doc.rule_parts(ablations), "Sources: " + ", ".join(f"`{d}`" for d in dirs)]
    if readme and out.is_dir() and (folders := sorted(p for p in out.iterdir()
                                                      if (p / README_MD).is_file())):
        parts += ["## Every folder here", doc.table(["folder", "what it holds"], [
            [f"[{f.name}/]({f.name}/{README_MD})",
             (f / README_MD).read_text().splitlines()[0].lstrip("# ").strip()] for f in folders])]
    md, text = out / (README_MD if readme else SCORECARD_MD), doc.join(parts)
    if check:
        if not md.is_file() or md.read_text() != text:
            raise StaleScorecard(f"{md} is not what the committed records give: "
                                 f"regenerate it with {command}")
        return Scorecard(md, None, None, ablations)
    out.mkdir(parents=True, exist_ok=True)
    png = plots.scorecard(normalised, out / SCORECARD_PNG) if normalised else None
    md.write_text(text)
    html = None if readme else out / SCORECARD_HTML
    if html:
        html.write_text(doc.to_html(text, title="AlexNet scorecard"))
    return Scorecard(md, html, png, ablations, write_tables(rows, out))


def _normalised(ablations: list[Ablation]) -> list[tuple[str, float, tuple | None, str]]:
    """(label, effect / claim, interval / claim, verdict): one scale for every claim; a censored
    estimate (no point) is drawn at its interval's middle."""
    rows = []
    for ab in ablations:
        est, c = ab.estimate, ab.primary.claimed if ab.primary else None
        if est is None or not c:
            continue
        ci = None if est.ci is None else tuple(float(np.clip(v / c, -5, 5)) for v in sorted(est.ci))
        point = est.delta / c if math.isfinite(est.delta) else sum(ci) / 2 if ci else 0.0
        rows.append((ab.name, point, ci, ab.verdict.outcome))
    return rows
