"""Every run on disk in one page, with no account and no server: `python src/runs.py [DIR ...]
--html FILE`. A sortable, filterable table of each run's sweep, arm, seed, status and errors,
read from the records every run writes (summary.json), so it also covers runs trained without
any logger, and published folders (experiments/). Open FILE in a browser; links are relative."""

from __future__ import annotations

import html
import os
from pathlib import Path

from alexnet.report.collect import Run, find_runs, find_sweeps
from alexnet.tools.listing import STATUS, UNFINISHED, Entry, describe_status

# (header, summary key, scale): errors are fractions in summary.json, percent on the page
COLUMNS = (("test top-1 %", "test/top1_err", 100), ("test top-5 %", "test/top5_err", 100),
           ("ten-crop top-1 %", "test/tencrop_top1_err", 100),
           ("best held-out top-1 %", "best_val/top1_err", 100), ("epochs", "epochs", 1),
           ("wall time (min)", "wall_time_s", 1 / 60))

# Click a header to sort by it (numbers as numbers, again to reverse); type to filter rows.
SCRIPT = """
document.querySelectorAll('table.sortable').forEach(table => {
  table.querySelectorAll('th').forEach((th, col) => th.addEventListener('click', () => {
    const body = table.tBodies[0], up = th.dataset.order !== 'up';
    const key = r => { const t = r.cells[col].textContent.trim(), n = parseFloat(t);
                       return t === '' || t === '-' ? Infinity : isNaN(n) ? t : n; };
    const rows = [...body.rows].sort((a, b) => { const x = key(a), y = key(b);
      const c = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0)
        : typeof x === 'number' ? -1 : 1;
      return up ? c : -c; });
    table.querySelectorAll('th').forEach(h => delete h.dataset.order);
    th.dataset.order = up ? 'up' : 'down';
    rows.forEach(r => body.appendChild(r));
  }));
});
document.getElementById('filter').addEventListener('input', e => {
  const words = e.target.value.toLowerCase().split(/\\s+/).filter(Boolean);
  document.querySelectorAll('#runs tbody tr').forEach(r => {
    const text = r.textContent.toLowerCase();
    r.hidden = !words.every(w => text.includes(w)); });
});
"""
STYLE = """
body { font: 14px system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }
th { cursor: pointer; background: #f4f4f4; position: sticky; top: 0; }
th[data-order=up]::after { content: ' ▲'; } th[data-order=down]::after { content: ' ▼'; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
#filter { width: 30em; padding: 4px; margin-bottom: 1em; }
"""


def _link(target: Path, here: Path, text: str) -> str:
    href = Path(os.path.relpath(target.resolve(), here.resolve())).as_posix()
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def _number(value, scale: float) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    return f"{value * scale:.2f}" if scale != 1 else f"{value:g}"


def _label(path: Path, dirs: list[Path]) -> str:
    """A sweep's path below the folder it was found in (two sweeps may share a name)."""
    for d in dirs:
        if d.resolve() == path.resolve() or d.resolve() in path.resolve().parents:
            return (Path(d.resolve().name) / path.resolve().relative_to(d.resolve())).as_posix()
    return path.name


def _sweep_of(run: Run, sweeps: list[Path]) -> Path | None:
    return next((s for s in sweeps if s in run.path.resolve().parents), None)


def runs_page(dirs: list[Path], entries: list[Entry], out: Path) -> str:
    """The page's HTML: the sweeps as `src/runs.py` lists them, then every run (each sweep's
    jobs as its report counts them, and every single run)."""
    here = out.parent
    sweeps = [s.path.resolve() for s in find_sweeps(dirs)]
    runs = find_runs(dirs, pooled=False)
    runs += [old for r in runs for old in r.replaces if _sweep_of(old, sweeps) is None]
    head = ["sweep", "arm", "seed", "status", *(c[0] for c in COLUMNS), "run"]
    rows = []
    for run in sorted(runs, key=lambda r: str(r.path)):
        s, sweep = run.summary, _sweep_of(run, sweeps)
        cells = [_link(sweep, here, _label(sweep, dirs)) if sweep else "-",
                 html.escape(s.get("arm_name") or run.arm_name or "default"),
                 html.escape(str(run.seed if run.seed is not None else "-")),
                 html.escape(STATUS.get(s.get("status"), s.get("status")) or UNFINISHED)]
        cells += [f'<td class="num">{_number(s.get(key), scale)}' for _, key, scale in COLUMNS]
        cells.append(_link(run.path, here, run.path.name))
        rows.append("<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}" for c in cells))
    sweep_rows = ["<tr>" + "".join(f"<td>{c}" for c in (
        _link(e.path, here, _label(e.path, dirs)), html.escape(e.task),
        html.escape(describe_status(e)),
        html.escape(e.arms), html.escape(e.seeds),
        _link(e.report, here, "report") if e.report else "-")) for e in entries
        if e.kind == "sweep"]
    where = ", ".join(html.escape(str(d)) for d in dirs)

    def table(ident: str, header: list[str], body: list[str]) -> str:
        ths = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        return (f'<table class="sortable" id="{ident}"><thead><tr>{ths}</tr></thead>'
                f"<tbody>\n" + "\n".join(body) + "\n</tbody></table>")

    return "\n".join([
        "<!DOCTYPE html>", '<html><head><meta charset="utf-8">',
        f"<title>Runs under {where}</title><style>{STYLE}</style></head><body>",
        f"<h1>Runs under {where}</h1>",
        f"<h2>Sweeps ({len(sweep_rows)})</h2>",
        table("sweeps", ["sweep", "task", "status", "arms", "seeds", "report"], sweep_rows),
        f"<h2>Runs ({len(rows)})</h2>",
        '<input id="filter" placeholder="filter: words that every shown row must contain">',
        table("runs", head, rows),
        "<p>Errors in percent, from each run's summary.json; click a header to sort.</p>",
        f"<script>{SCRIPT}</script></body></html>", ""])
