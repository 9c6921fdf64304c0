"""Both figures for one checkpoint, written next to a short figures.md and figures.json.

The data come from the run's own config.yaml (the job directory of the checkpoint), so the
neighbours are searched in exactly the images and preprocessing the net was trained with;
`data_root` (and, without a config.yaml, the stored size and input scaling) can be given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from alexnet import paper
from alexnet.checkpoint import load as load_checkpoint
from alexnet.data.datamodule import AlexNetDataModule
from alexnet.figures.kernels import colour_specificity, plot_kernels
from alexnet.figures.neighbours import plot_neighbours, queries
from alexnet.model import AlexNet
from alexnet.record import CONFIG_FILE


@dataclass
class Figures:
    kernels_png: Path
    neighbours_png: Path | None
    column_scores: list[float]
    kernel_scores: list[float]
    files: list[Path] = field(default_factory=list)


def datamodule_for(job_dir: Path | None, input_size: int, data_root: str | None = None,
                   stored_size: int | None = None, standardized: bool = False) -> AlexNetDataModule:
    if job_dir is not None and (job_dir / CONFIG_FILE).is_file():
        from alexnet.training import build_datamodule

        cfg = OmegaConf.load(job_dir / CONFIG_FILE)
        if data_root is not None:
            cfg.data.root = data_root
        return build_datamodule(cfg)
    if data_root is None:
        raise ValueError("no config.yaml next to the checkpoint: pass --data-root")
    return AlexNetDataModule.from_config(  # a plain folder: none of the data options (ADDED_SINCE)
        {"root": data_root, "stored_size": stored_size or input_size, "crop_size": input_size,
         "batch_size": paper.BATCH_SIZE}, divide_std=standardized)


def make_figures(checkpoint: str | Path, out_dir: str | Path, images: int = 5, neighbours: int = 6,
                 data_root: str | None = None, stored_size: int | None = None,
                 standardized: bool = False, train_limit: int | None = None,
                 kernels_only: bool = False) -> Figures:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_checkpoint(checkpoint)
    net, config = loaded.net, loaded.net.config
    if not isinstance(net, AlexNet):
        raise ValueError(f"{loaded.path} holds a {type(net).__name__}: figures 3 and 4 are drawn "
                         "for AlexNet only")
    conv1 = net.features.conv1.weight
    kernel_scores = colour_specificity(conv1)
    per_column = [float(s.mean()) for s in kernel_scores.chunk(config.columns)]
    kernels_png = plot_kernels(conv1, config.columns, out / "figure3-conv1-kernels.png")
    result = Figures(kernels_png, None, per_column, [float(s) for s in kernel_scores],
                     [kernels_png])
    lines = [f"# Figures from `{loaded.path}`", "",
             f"Net: {config.columns} column(s), conv1 {tuple(conv1.shape)}, "
             f"fc7 width {config.fc_width()}.", "",
             "## Figure 3: conv1 kernels", "",
             "Colour specificity = share of a kernel's RGB energy off the grey axis [1,1,1]/√3 "
             "(0 grey, 1 no grey component; random weights ≈ 0.67).", "",
             "| column | kernels | mean colour specificity |", "|---|---|---|"]
    lines += [f"| {c + 1} | {len(kernel_scores) // config.columns} | {s:.3f} |"
              for c, s in enumerate(per_column)]
    lines += ["", f"![conv1 kernels]({kernels_png.name})", ""]
    summary = {"checkpoint": str(loaded.path), "columns": config.columns,
               "column_colour_specificity": per_column,
               "kernel_colour_specificity": result.kernel_scores}

    if not kernels_only:
        dm = datamodule_for(loaded.job_dir, config.input_size, data_root, stored_size, standardized)
        dm.setup("fit")
        classes = dm.classes
        n = len(dm.train_set)  # the images trained on (the held-out ones are not)
        keep = (None if train_limit is None or train_limit >= n
                else np.linspace(0, n - 1, train_limit).astype(int))
        train_images, train_labels = dm.train_set.take(keep)
        val_images, val_labels = dm.test_set.take()  # queries from the test split, never trained on
        picks = sorted(set(np.linspace(0, len(val_images) - 1, images).astype(int).tolist()))

        def prepare(batch):
            return dm.on_after_batch_transfer((batch, None), 0)[0]

        found = queries(net, np.asarray(val_images), val_labels, train_images, prepare, picks,
                        neighbours)
        result.neighbours_png = plot_neighbours(found, np.asarray(val_images), train_images,
                                                train_labels, classes,
                                                out / "figure4-fc7-neighbours.png")
        result.files.append(result.neighbours_png)
        lines += ["## Figure 4: nearest training images by fc7 distance", "",
                  f"fc7 after its activation, Euclidean distance, {len(train_images)} training "
                  "images searched.", "",
                  "| val image | true class | top-5 (probability) | nearest training images "
                  "(class, distance) |",
                  "|---|---|---|---|"]
        for q in found:
            top5 = ", ".join(f"{classes[c]} {100 * p:.0f}%" for c, p in q.top5)
            near = ", ".join(f"{classes[int(train_labels[j])]} ({d:.2f})" for j, d in q.neighbours)
            lines.append(f"| {q.val_index} | {classes[q.label]} | {top5} | {near} |")
        lines += ["", f"![fc7 neighbours]({result.neighbours_png.name})", ""]
        summary["neighbours"] = [
            {"val_index": q.val_index, "label": classes[q.label],
             "top5": [[classes[c], p] for c, p in q.top5],
             "neighbours": [[int(j), classes[int(train_labels[j])], d] for j, d in q.neighbours]}
            for q in found]

    (out / "figures.md").write_text("\n".join(lines) + "\n")
    (out / "figures.json").write_text(json.dumps(summary, indent=2) + "\n")
    result.files += [out / "figures.md", out / "figures.json"]
    return result
