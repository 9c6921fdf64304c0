"""The LightningDataModule: a source on disk → decoded uint8 cache → batches → augmentation.

Three splits: training, a held-out validation share of the training images (`holdout`; the LR
schedule and checkpoint selection look at it), and the test split — the source's own val/ or
test/ — scored once, after training. With `holdout` off, validation is the test split (the
paper tuned and reported on ILSVRC val). Which images are held out, and the fixed training
subset whose eval-mode error is logged (`train_eval`), depend on `holdout_seed` alone, so
every arm and seed of a sweep holds out and scores the same images. With `train_all`, the
whole training split (every image not held out) is also scored once in eval mode after training
(`alexnet.evaluation.FinalTest`): a training error without the fixed subset's sampling noise.

Workers only slice uint8 arrays; the paper's augmentation (mean subtraction, crops, flips,
PCA lighting) runs on whole batches after they reach the model's device
(`on_after_batch_transfer`), and so does the test-time ten-crop. What a checkpoint needs to
classify new images without the data (class names, mean image, sizes) travels in its
`state_dict`, which Lightning stores in every checkpoint.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from alexnet import paper
from alexnet.data import cache, layouts, lighting, stats
from alexnet.data.layouts import load_source
from alexnet.data.parallel import EpochShuffle, Shard, data_parallel_rank, per_process_batch
from alexnet.data.resumable import ResumableLoader
from alexnet.data.sources import DataError, Source
from alexnet.data.splits import ArrayDataset, check_holdout, check_train_eval, split_training_rows
from alexnet.data.transforms import Normalize, center_crop, center_offsets, train_batch
from alexnet.data.transforms import ten_crop as ten_crop_views

PCA_FROM = ("train", "imagenet")


def _already_batched(batch):
    return batch


# recipe.input → divide_std: raw_255 is the paper's mean-subtracted 0-255 RGB; standardized
# also divides by each channel's std
RECIPE_INPUTS = {"raw_255": False, "standardized": True}


# The one upgrade step for a data config written before some keys existed (an old run's
# config.yaml, read by evaluate and figures): the values runs without them had.
ADDED_SINCE = {"source": "folder", "num_workers": 0, "mean": "pixel", "flip": True,
               "cache_dir": None,
               "val_split": None, "holdout": None, "holdout_seed": 0, "train_eval": None,
               "train_all": False, "pca_lighting": None, "pca_from": "train", "ten_crop": False,
               "skip_bad_images": False, "decode_workers": None}


class AlexNetDataModule(L.LightningDataModule):
    """Every `data.*` key is an argument, with no default here: `conf/data/` is their one home
    (`from_config`); `divide_std` comes from the recipe's input and `seed` from the seeds. The
    values are checked once, by config_checks; holdout, train_eval and pca_lighting are also
    read into their forms here."""

    def __init__(
        self,
        *,
        source: str,
        root: str | None,
        stored_size: int,
        crop_size: int,
        batch_size: int,
        num_workers: int,
        mean: str,
        flip: bool,
        cache_dir: str | None,
        val_split: str | None,
        holdout: float | int | None,
        holdout_seed: int,
        train_eval: int | None,
        train_all: bool,
        pca_lighting: str | bool | None,
        pca_from: str,
        ten_crop: bool,
        skip_bad_images: bool,
        decode_workers: int | None,
        divide_std: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        self.source_kind, self.root = source, root
        self.stored_size, self.crop_size = stored_size, crop_size
        self.batch_size, self.num_workers = batch_size, num_workers
        self.mean, self.divide_std, self.flip = mean, divide_std, flip
        self.cache_dir, self.val_split, self.seed = cache_dir, val_split, seed
        self.pca_lighting = lighting.variant(pca_lighting)
        self.pca_from, self.ten_crop = pca_from, bool(ten_crop)
        self.skip_bad_images, self.decode_workers = skip_bad_images, decode_workers
        self.holdout, self.holdout_seed = check_holdout(holdout), int(holdout_seed)
        self.train_eval = check_train_eval(train_eval)
        self.train_all = train_all
        self._source: Source | None = None
        self.train_set = self.val_set = self.test_set = self.train_eval_set = None
        self.normalize: Normalize | None = None
        self.lighting: lighting.PCALighting | None = None
        self.skipped_files: list[str] | None = None
        self._eval_only = False
        self._decoded = None
        self.stats: dict | None = None

    @classmethod
    def from_config(cls, data: Mapping[str, Any], **fixed) -> AlexNetDataModule:
        """The datamodule of a `data` config group, for training, evaluation and figures alike:
        each key is an argument of this constructor, so a new data option is one config key and
        one argument. `fixed` adds what comes from elsewhere (the recipe's input scaling, the seed);
        a key missing from an older run's config.yaml takes its ADDED_SINCE value."""
        unknown = sorted(set(data) - set(inspect.signature(cls).parameters))
        if unknown:
            raise ValueError(f"data.{unknown[0]} is not an option of the datamodule "
                             "(AlexNetDataModule's arguments)")
        return cls(**{**ADDED_SINCE, **data, **fixed})

    # -- what the model needs to know before training ------------------------------------------
    @property
    def source(self) -> Source:
        if self._source is None:
            self._source = load_source(self.source_kind, self.root, self.val_split)
        return self._source

    @property
    def classes(self) -> list[str]:
        return self.source.classes

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def eval_crops(self) -> str:
        """The test split's crops: ten crops (and the centre view of the same pass), or centre."""
        return "ten_crop" if self.ten_crop else "center"

    @property
    def val_is_test(self) -> bool:
        """Validation (LR schedule, checkpoint choice) looks at the test split: no holdout."""
        return self._eval_only or not self.holdout

    # -- Lightning hooks -------------------------------------------------------------------------
    def use_checkpoint_data(self, state: dict) -> None:
        """Evaluate with a checkpoint's preprocessing (sizes, mean image, scaling): only the
        validation split is decoded, and the training set is not needed at all."""
        self.stored_size, self.crop_size = int(state["stored_size"]), int(state["crop_size"])
        self.mean, self.divide_std = state["mean"], bool(state["divide_std"])
        self.normalize = Normalize(state["mean_image"], state["channel_mean"], state["channel_std"],
                                   mean=self.mean, divide_std=self.divide_std)
        self.pca_lighting = None  # training augmentation: no part of an evaluation
        self._eval_only, self._decoded = True, None

    def _decode(self):
        """Both splits decoded into the cache (built, or its interrupted build resumed); once per
        datamodule: `setup` reuses what `prepare_data` opened in the same process."""
        if self._decoded is None:
            src = self.source
            folder = cache.cache_dir_for(src.root, self.cache_dir)
            kw = {"workers": self.decode_workers, "skip_bad": self.skip_bad_images}
            train = None if self._eval_only else cache.decoded(
                src.train, "train", self.stored_size, src.root, folder, **kw)
            val = cache.decoded(src.val, "val", self.stored_size, src.root, folder, **kw)
            self._decoded = src, folder, train, val
        return self._decoded

    def share_listing(self, path: Path) -> None:
        """Hands this process's listing of the data, with the cache keys computed from it, to
        the processes it starts (layouts.share_listing): they list and stat no file."""
        src = self.source
        for split in (src.val,) if self._eval_only else (src.train, src.val):
            cache.cache_key(split, self.stored_size, src.root)
        layouts.share_listing(src, self.source_kind, self.root, self.val_split, path)

    def _training_rows(self, train: cache.Decoded):
        """(fit, held out, train_eval) rows of the decoded training split."""
        rows = train.keep if train.skipped else np.arange(len(self.source.train))
        positions = split_training_rows(self.source.train.labels[rows], self.holdout,
                                        self.train_eval, self.holdout_seed, self.num_classes)
        return tuple(rows[p] for p in positions)

    def _training_stats(self, folder: Path, train: cache.Decoded, fit: np.ndarray,
                        held: np.ndarray) -> dict:
        """The statistics of the images trained on (the held-out ones left out), from their file
        beside the cache; computed into it by the first process to ask."""
        held_key = hashlib.sha1(held.tobytes()).hexdigest()[:10]
        without = f"-without{len(held)}-{held_key}" if len(held) else ""
        name = f"stats-v{stats.STATS_VERSION}-{self.stored_size}px-{train.key}{without}.npz"
        rows = fit if (train.skipped or len(held)) else None
        return stats.image_stats(train.images, folder / name, rows=rows)

    def prepare_data(self) -> None:
        """Once per node (Lightning: local rank 0, before `setup` on every rank): the decode and
        the training-set statistics, so the other ranks only read both."""
        src, folder, train, val = self._decode()
        if train is not None and self.stats is None:
            fit, held, _ = self._training_rows(train)
            self.stats = self._training_stats(folder, train, fit, held)

    def setup(self, stage: str | None = None) -> None:
        if self.test_set is not None:
            return
        src, folder, train, val = self._decode()
        self.test_set = ArrayDataset(val.images, src.val.labels, val.keep if val.skipped else None)
        if train is None:  # evaluation with a checkpoint's preprocessing
            self.skipped_files = val.skipped_files
            self.val_set = self.test_set
            return
        # the held-out images are not training images: the mean image and PCA leave them out
        fit, held, subset = self._training_rows(train)
        if self.stats is None:  # computed by prepare_data (this process or local rank 0): read
            self.stats = self._training_stats(folder, train, fit, held)
        self.normalize = Normalize(
            self.stats["mean_image"], self.stats["channel_mean"], self.stats["channel_std"],
            mean=self.mean, divide_std=self.divide_std,
        )
        if self.pca_lighting:
            values, vectors = (
                (self.stats["pca_eigenvalues"], self.stats["pca_eigenvectors"])
                if self.pca_from == "train" else lighting.imagenet_pca()
            )
            self.lighting = lighting.PCALighting(values, vectors, self.pca_lighting)
        self.skipped_files = train.skipped_files + val.skipped_files
        self.train_set = ArrayDataset(train.images, src.train.labels, fit)
        self.val_set = (ArrayDataset(train.images, src.train.labels, held) if len(held)
                        else self.test_set)
        self.train_eval_set = (ArrayDataset(train.images, src.train.labels, subset) if len(subset)
                               else None)

    def _ranks(self) -> tuple[int, int]:
        """(this process's rank, number of processes) of the trainer's data parallelism: every
        process under DDP; under `trainer.strategy=columns` both columns take the same batches."""
        return data_parallel_rank(self.trainer)

    @property
    def process_batch_size(self) -> int:
        """This process's share of the global batch `batch_size`: all of it on one device or in
        one pair of columns (both columns take the whole batch), half of it on each of two DDP
        processes or pairs of columns, and so on."""
        return per_process_batch(self.batch_size, self._ranks()[1])

    def _loader(self, dataset: ArrayDataset, sampler=None, drop_last=False, batch_size=None,
                resumable=False) -> DataLoader:
        return (ResumableLoader if resumable else DataLoader)(
            dataset,
            batch_size=batch_size or self.process_batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=self.num_workers,
            collate_fn=_already_batched,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        sampler = EpochShuffle(len(self.train_set), self.seed, *self._ranks())
        drop_last = len(sampler) > self.process_batch_size
        return self._loader(self.train_set, sampler, drop_last=drop_last, resumable=True)

    def _eval_loader(self, dataset: ArrayDataset, batch_size: int | None = None) -> DataLoader:
        rank, world = self._ranks()
        return self._loader(dataset, Shard(len(dataset), rank, world) if world > 1 else None,
                            batch_size=batch_size)

    def _eval_batch_size(self, ten_crop: bool) -> int:
        """Ten crops per image: a tenth of the images per batch, so a batch holds as many crops
        as a training batch (at 227 px, 128 images × 10 crops would be 790 MB of input alone)."""
        batch = self.process_batch_size
        return -(-batch // paper.TEN_CROP_VIEWS) if ten_crop else batch

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        """The validation split, then (dataloader 1) the fixed training subset scored in eval
        mode."""
        fitting = self.trainer is not None and self.trainer.state.fn == "fit"
        val = self._eval_loader(self.val_set,
                                batch_size=self._eval_batch_size(self.ten_crop and not fitting))
        if self.train_eval_set is None:
            return val
        return [val, self._eval_loader(self.train_eval_set)]

    def test_dataloader(self) -> DataLoader:
        """The whole test split in every process: the end-of-fit test is scored by data-parallel
        rank 0."""
        return self._loader(self.test_set, batch_size=self._eval_batch_size(self.ten_crop))

    def train_all_dataloader(self) -> DataLoader:
        """The whole training split (every image not held out) in dataset order, for one eval-mode
        pass after training; like `test_dataloader`, in every process."""
        return self._loader(self.train_set)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, labels = batch
        self.normalize.to(images.device)
        trainer = self.trainer
        if trainer is not None and trainer.training:
            g = torch.Generator(device=images.device)
            # (seed, step, rank) alone decide the crops: a resume repeats them, ranks differ
            g.manual_seed((self.seed * 1_000_003 + trainer.global_step) * 64 + self._ranks()[0])
            if self.lighting is not None:
                self.lighting.to(images.device)
            x = train_batch(images, self.normalize, self.crop_size, g, flip=self.flip,
                            lighting=self.lighting)
        else:
            # ten crops cost 10× and change no training decision: validation during fit is centre
            fitting = trainer is not None and trainer.state.fn == "fit"
            x = self.eval_batch(images, ten_crop=self.ten_crop and not fitting)
        return x.contiguous(), labels

    def eval_batch(self, images: torch.Tensor, ten_crop: bool = False) -> torch.Tensor:
        """uint8 (B, C, H, W) → the centre crop (B, C, h, w), or §4.1's ten crops (B, 10, C, h, w)
        whose view 4 is exactly that centre crop; normalised as for training."""
        self.normalize.to(images.device)
        if ten_crop:
            return ten_crop_views(self.normalize(images), self.crop_size)  # the model averages
        top, left = center_offsets(*images.shape[-2:], self.crop_size)
        return self.normalize(center_crop(images, self.crop_size), top, left)

    def describe(self) -> dict:
        """The splits as trained, validated and tested (before `setup`: as they will be)."""
        src = self.source
        if self.test_set is not None:
            train, test = ((len(src.train) if self.train_set is None else len(self.train_set)),
                           len(self.test_set))
            val, subset = (len(self.val_set),
                           0 if self.train_eval_set is None else len(self.train_eval_set))
            train_all = len(self.train_set) if self.train_all and self.train_set is not None else 0
        else:  # checks the holdout against the data before any work, so a bad value fails first
            train, held, subset = (len(p) for p in split_training_rows(
                src.train.labels, self.holdout, self.train_eval, self.holdout_seed,
                len(src.classes)))
            test = len(src.val)
            val = held or test
            train_all = train if self.train_all and not self._eval_only else 0
        return {
            "root": str(Path(src.root).resolve()), "layout": src.layout,
            "classes": len(src.classes),
            "train_images": train, "val_images": val, "val_is_test": self.val_is_test,
            "test_images": test, "holdout": None if self.val_is_test else self.holdout,
            "holdout_seed": self.holdout_seed, "train_eval_images": subset,
            "train_all_images": train_all,
            "eval_crops": self.eval_crops, "pca_lighting": self.pca_lighting or False,
            "skipped_images": None if self.skipped_files is None else len(self.skipped_files),
            "skipped_files": None if self.skipped_files is None else self.skipped_files[:20],
        }

    # -- what a checkpoint carries so predict needs no data root --------------------------------
    def state_dict(self) -> dict:
        if self.stats is None:
            return {}
        return {
            "classes": list(self.classes), "class_names": list(self.source.class_names),
            "stored_size": self.stored_size, "crop_size": self.crop_size, "mean": self.mean,
            "divide_std": self.divide_std,
            "mean_image": torch.as_tensor(self.stats["mean_image"]),
            "channel_mean": torch.as_tensor(self.stats["channel_mean"]),
            "channel_std": torch.as_tensor(self.stats["channel_std"]),
        }

    def load_state_dict(self, state: dict) -> None:
        """A resume reads its classes from the data again; refuse data with other classes."""
        if (state and self._source is not None
                and list(state.get("classes", [])) != list(self.classes)):
            raise DataError("the checkpoint was trained on other classes than data.root holds")


__all__ = ["AlexNetDataModule", "DataError"]
