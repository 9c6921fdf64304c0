"""The report's PNG figures (matplotlib, Agg: no display, no GUI toolkit)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from alexnet.report.measures import TRAIN_ERR, VAL_ERR, ArmStats  # noqa: E402

# Every figure is as wide as the page (index.html shows it at 100 %; 10 in at 110 dpi is 1100 px),
# with text at 10 pt or more: legible where the report is read, never squeezed into half of it.
WIDTH, DPI, FONT = 10.0, 110, 10
STYLE = {"font.size": FONT, "legend.fontsize": FONT, "axes.titlesize": FONT + 1}


@plt.rc_context(STYLE)  # this figure's style, the process's other figures untouched
def curves(arms: list[ArmStats], path: Path, threshold: float | None = None,
           title: str = "") -> Path:
    """Training and validation top-1 error per epoch: mean over seeds, min–max band. Where some
    seeds had stopped (Figure 1's runs stop at 25 %), the mean is of the seeds still running:
    those points are hollow, and the legend says so."""
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 4.2), sharex=True)
    partial = False
    for i, arm in enumerate(arms):
        colour = f"C{i}"
        for ax, key in zip(axes, (TRAIN_ERR, VAL_ERR), strict=True):
            per_epoch: dict[int, list[float]] = {}
            for run in arm.runs:
                for epoch, value in run.series(key):
                    per_epoch.setdefault(epoch + 1, []).append(100.0 * value)
            if not per_epoch:
                continue
            epochs = sorted(per_epoch)
            mean = [np.mean(per_epoch[e]) for e in epochs]
            ax.plot(epochs, mean, color=colour, marker="o", ms=3, label=f"{arm.name} (n={arm.n})",
                    markevery=[j for j, e in enumerate(epochs) if len(per_epoch[e]) == arm.n])
            fewer = [j for j, e in enumerate(epochs) if len(per_epoch[e]) < arm.n]
            if fewer:
                partial = True
                ax.plot([epochs[j] for j in fewer], [mean[j] for j in fewer], ls="none",
                        marker="o", ms=4, mfc="white", color=colour)
            if arm.n > 1:
                ax.fill_between(epochs, [min(per_epoch[e]) for e in epochs],
                                [max(per_epoch[e]) for e in epochs], color=colour, alpha=0.2, lw=0)
    if partial:
        axes[0].plot([], [], ls="none", marker="o", ms=4, mfc="white", color="grey",
                     label="mean of the seeds not yet stopped")
    axes[0].set_title("train_eval top-1 error (eval mode)")
    axes[1].set_title("held-out val top-1 error")
    if threshold is not None:  # only for Figure 1: the line stretches the axis down to it
        axes[0].axhline(100 * threshold, color="grey", ls="--", lw=1,
                        label=f"{100 * threshold:g} % (Figure 1)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("error (%)")
        ax.grid(alpha=0.3)
    # one legend for both panels, under the title: it never covers a curve
    handles, labels = axes[0].get_legend_handles_labels()
    rows = 1 if len(labels) <= 3 else 2  # four entries in one row overrun the page's width
    fig.legend(handles, labels, loc="upper center", ncol=-(-len(labels) // rows), frameon=False,
               bbox_to_anchor=(0.5, 0.95))
    fig.suptitle(f"{title + ': ' if title else ''}mean over seeds, band min–max",
                 fontsize=FONT + 1)
    fig.tight_layout(rect=(0, 0, 1, 0.9 if rows == 1 else 0.84))
    return _save(fig, path, layout=False)


@plt.rc_context(STYLE)
def differences(rows: list[tuple[str, float, tuple[float, float] | None, float | None]], path: Path,
                level: str, title: str) -> Path:
    """Measured difference with its CI (at `level`) per metric, the paper's claim as a red mark."""
    fig, ax = plt.subplots(figsize=(WIDTH, 1.9 + 0.55 * max(len(rows), 1)))
    _intervals(ax, [(delta, ci) for _, delta, ci, _ in rows], [r[0] for r in rows])
    for y, (_label, _delta, _ci, claimed) in enumerate(rows):
        if claimed is not None:
            ax.plot([claimed], [y], "D", color="C3")
    ax.set_xlabel("other side − the paper's, percentage points")
    ax.plot([], [], "o", color="C0", label=f"measured, {level} CI")
    ax.plot([], [], "D", color="C3", label="the paper's claim")
    # above the axes, in one row: never on top of an interval
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    fig.suptitle(title, fontsize=FONT + 1)
    return _save(fig, path)


def _intervals(ax, rows: list[tuple[float, tuple[float, float] | None]], labels: list[str]):
    """One row per (value, interval), top down: an error bar, or a hollow mark without one."""
    for y, (x, ci) in enumerate(rows):
        if ci is None:
            ax.plot([x], [y], "o", mfc="none", color="C0")
        else:  # an interval may not hold its point (censored: drawn at its middle)
            xerr = [[max(x - ci[0], 0)], [max(ci[1] - x, 0)]]
            ax.errorbar([x], [y], xerr=xerr, fmt="o", color="C0", capsize=4)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(range(len(rows)), labels)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)


def _save(fig, path: Path, layout: bool = True) -> Path:
    if layout:
        fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    fig.savefig(path.with_suffix(".pdf"), metadata={"CreationDate": None})  # vector, for papers
    plt.close(fig)
    return path


@plt.rc_context(STYLE)
def scorecard(rows: list[tuple[str, float, tuple[float, float] | None, str]], path: Path) -> Path:
    """Each claim's effect as a fraction of the paper's (0: none, 1: as claimed), with its
    interval (clipped at ±5); the verdict beside each row."""
    fig, ax = plt.subplots(figsize=(WIDTH, 1.2 + 0.55 * max(len(rows), 1)))
    _intervals(ax, [(value, ci) for _, value, ci, _ in rows], [f"{r[0]}: {r[3]}" for r in rows])
    ax.axvline(1, color="C3", lw=1, ls="--", label="the paper's claim")
    ax.set_xlim(-5.2, 5.2)
    ax.set_xlabel("measured effect ÷ claimed effect (log scale for the Figure 1 ratio)")
    ax.legend(loc="lower right")
    return _save(fig, path)
