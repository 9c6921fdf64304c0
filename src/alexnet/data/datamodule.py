"""The LightningDataModule: a source on disk → decoded uint8 cache → batches → augmentation.

Workers only slice uint8 arrays; the paper's augmentation (mean subtraction, crops, flips)
runs on whole batches after they reach the model's device (`on_after_batch_transfer`).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from alexnet.data import cache
from alexnet.data.sources import DataError, Source, load_source
from alexnet.data.transforms import Normalize, center_crop, random_crop_flip


class ArrayDataset(Dataset):
    """Rows of a (possibly memory-mapped) uint8 array, fetched a whole batch at a time."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, torch.as_tensor(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return torch.from_numpy(np.array(self.images[index])), self.labels[index]

    def __getitems__(self, indices: list[int]):
        order = np.asarray(indices)
        return torch.from_numpy(np.array(self.images[order])), self.labels[order]


def _already_batched(batch):
    return batch


class EpochShuffle(Sampler[int]):
    """A fresh permutation every epoch, drawn from (seed, epoch) alone: resumes repeat it."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:  # Lightning calls this at every epoch start
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.size, generator=g).tolist())

    def __len__(self) -> int:
        return self.size


class AlexNetDataModule(L.LightningDataModule):
    def __init__(
        self,
        source: str = "folder",
        root: str | None = None,
        stored_size: int = 256,
        crop_size: int = 227,
        batch_size: int = 128,
        num_workers: int = 0,
        mean: str = "pixel",
        divide_std: bool = False,
        flip: bool = True,
        cache_dir: str | None = None,
        val_split: str | None = None,
        seed: int = 0,
    ):
        super().__init__()
        if crop_size > stored_size:
            raise ValueError(f"data.crop_size={crop_size} must not exceed data.stored_size={stored_size}")
        if batch_size < 1:
            raise ValueError(f"data.batch_size={batch_size} must be at least 1")
        if mean not in ("pixel", "channel"):
            raise ValueError(f"data.mean={mean!r} is not one of ['pixel', 'channel']")
        self.source_kind, self.root = source, root
        self.stored_size, self.crop_size = stored_size, crop_size
        self.batch_size, self.num_workers = batch_size, num_workers
        self.mean, self.divide_std, self.flip = mean, divide_std, flip
        self.cache_dir, self.val_split, self.seed = cache_dir, val_split, seed
        self._source: Source | None = None
        self.train_set = self.val_set = None
        self.normalize: Normalize | None = None

    # -- what the model needs to know before training ------------------------------------------
    @property
    def source(self) -> Source:
        if self._source is None:
            if self.source_kind == "folder":
                from alexnet.data.sources import image_folder

                self._source = image_folder(self.root, self.val_split)
            else:
                self._source = load_source(self.source_kind, self.root)
        return self._source

    @property
    def classes(self) -> list[str]:
        return self.source.classes

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    # -- Lightning hooks -------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        src = self.source
        folder = cache.cache_dir_for(src.root, self.cache_dir)
        train = cache.decoded(src.train, "train", self.stored_size, src.root, folder)
        val = cache.decoded(src.val, "val", self.stored_size, src.root, folder)
        key = cache.cache_key(src.train, self.stored_size, src.root)
        self.stats = cache.image_stats(train, folder / f"stats-{self.stored_size}px-{key}.npz")
        self.normalize = Normalize(
            self.stats["mean_image"], self.stats["channel_mean"], self.stats["channel_std"],
            mean=self.mean, divide_std=self.divide_std,
        )
        self.train_set = ArrayDataset(train, src.train.labels)
        self.val_set = ArrayDataset(val, src.val.labels)

    def _loader(self, dataset: ArrayDataset, sampler=None, drop_last=False) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=self.num_workers,
            collate_fn=_already_batched,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        drop_last = len(self.train_set) > self.batch_size
        return self._loader(self.train_set, EpochShuffle(len(self.train_set), self.seed), drop_last)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, labels = batch
        self.normalize.to(images.device)
        x = self.normalize(images)
        trainer = self.trainer
        if trainer is not None and trainer.training:
            g = torch.Generator(device=x.device)
            # (seed, step, rank) alone decide the crops: a resume repeats them, ranks differ
            g.manual_seed((self.seed * 1_000_003 + trainer.global_step) * 64 + trainer.global_rank)
            x = random_crop_flip(x, self.crop_size, g, flip=self.flip)
        else:
            x = center_crop(x, self.crop_size)
        return x.contiguous(), labels

    def describe(self) -> dict:
        src = self.source
        return {
            "root": str(Path(src.root).resolve()), "layout": src.layout, "classes": len(src.classes),
            "train_images": len(src.train), "val_images": len(src.val),
        }


__all__ = ["AlexNetDataModule", "DataError"]
