"""The training split's rows: which images are held out for validation (class-balanced) and
which form the fixed training subset scored in eval mode (`train_eval`), both drawn from
`data.holdout_seed` alone, so every arm and seed holds out and scores the same images; and the
in-memory dataset over the decoded arrays' rows."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch.utils.data import Dataset


class ArrayDataset(Dataset):
    """Rows of a (possibly memory-mapped) uint8 array, fetched a whole batch at a time.
    `rows` leaves out rows whose files could not be read (data.skip_bad_images)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, rows: np.ndarray | None = None):
        self.images = images
        self.rows = np.arange(len(labels)) if rows is None else np.asarray(rows)
        self.labels = torch.as_tensor(np.asarray(labels)[self.rows])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int):
        return torch.from_numpy(np.array(self.images[self.rows[index]])), self.labels[index]

    def __getitems__(self, indices: list[int]):
        order = np.asarray(indices)
        return torch.from_numpy(np.array(self.images[self.rows[order]])), self.labels[order]

    def take(self, positions=None) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 images, labels) at these positions of the dataset (default: all), in memory:
        `images` is the whole decoded split, and a holdout or a skipped file leaves out rows."""
        order = np.arange(len(self)) if positions is None else np.asarray(positions)
        return np.asarray(self.images[self.rows[order]]), self.labels.numpy()[order]


def _holdout_counts(labels: np.ndarray, holdout, classes: int) -> np.ndarray:
    """Images each class gives: the same share of every class (rounded down), so a balanced
    training set gives the same number per class and a smaller class proportionally fewer."""
    n = len(labels)
    per_class = np.bincount(labels, minlength=classes)
    if isinstance(holdout, numbers.Integral):
        if holdout < classes:
            raise ValueError(f"data.holdout={holdout} holds out fewer images than the {classes} "
                             f"classes; use at least {classes} or a fraction such as 0.1")
        if holdout >= n:
            raise ValueError(f"data.holdout={holdout} is not smaller than the {n} training images; "
                             "use a fraction such as 0.1 or a smaller count")
        counts = holdout * per_class // n
    else:
        counts = np.array([math.floor(holdout * c + 1e-9) for c in per_class], dtype=np.int64)
    if counts.sum() == 0:
        raise ValueError(f"data.holdout={holdout} holds out no image of {n} training images in "
                         f"{classes} classes; use a larger share or null")
    return counts


def split_training_rows(labels: np.ndarray, holdout, train_eval: int | None, seed: int,
                        classes: int):
    """(train, holdout, train_eval) as sorted positions into `labels`: a class-balanced holdout
    (`holdout`: a fraction in (0, 1), a count, or None) and `train_eval` images of what is left,
    both drawn by one generator seeded by `seed` (data.holdout_seed), never by the run seed."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), dtype=bool)
    if holdout:
        for c, k in enumerate(_holdout_counts(labels, holdout, classes)):
            members = np.flatnonzero(labels == c)
            held[members[rng.permutation(len(members))[:k]]] = True
    train, held_out = np.flatnonzero(~held), np.flatnonzero(held)
    n_eval = min(int(train_eval or 0), len(train))
    subset = (train[np.sort(rng.choice(len(train), size=n_eval, replace=False))] if n_eval
              else train[:0])
    return train, held_out, subset


def check_holdout(holdout):
    """None/0 (off), a fraction in (0, 1) or a positive count; anything else says what is wrong."""
    if holdout is None or (holdout is False) or (
        isinstance(holdout, numbers.Number) and holdout == 0
    ):
        return None
    if isinstance(holdout, bool) or not isinstance(holdout, numbers.Real) or holdout < 0 or (
        not isinstance(holdout, numbers.Integral) and holdout >= 1
    ):
        raise ValueError(f"data.holdout={holdout!r} is neither a fraction in (0, 1) nor an image "
                         "count; use e.g. 0.1, 5000 or null (validate on the test split)")
    return int(holdout) if isinstance(holdout, numbers.Integral) else float(holdout)


def check_train_eval(train_eval):
    if train_eval is None or train_eval is False or train_eval == 0:
        return None
    if (isinstance(train_eval, bool) or not isinstance(train_eval, numbers.Integral)
            or train_eval < 0):
        raise ValueError(f"data.train_eval={train_eval!r} is not a number of training images; "
                         "use e.g. 1000, or null to skip it")
    return int(train_eval)
