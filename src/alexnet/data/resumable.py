"""A training DataLoader that Lightning can resume mid-epoch.

Lightning saves the state of every training loader that has `state_dict` / `load_state_dict`
in each checkpoint and hands it back, on resume, before the interrupted epoch goes on. Ours is
"the epoch, and how many of its batches were taken". An epoch's order is a function of
(seed, epoch, rank) alone (`EpochShuffle`) and every augmentation draw one of (seed, step),
so leaving out the batches already trained on — at the
sampler, without reading their images — continues the epoch exactly as an uninterrupted run.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader


class _ResumedBatches:
    """The loader's batches of indices, less those a resumed checkpoint had taken. The skip is
    decided when the first batch is drawn, after Lightning has set the sampler's epoch; the
    length stays the whole epoch's, which is what Lightning counts its progress against."""

    def __init__(self, loader: ResumableLoader, batches):
        # a weak reference: a strong one closes a cycle (loader → its persistent workers' iterator
        # → this → loader) that the garbage collector tears down queues first, and every worker
        # then waits out its 5 s join timeout at the end of a run
        self.loader, self.batches = weakref.proxy(loader), batches

    def __iter__(self) -> Iterator:
        skip = self.loader._begin_pass()
        yield from itertools.islice(self.batches, skip, None)

    def __len__(self) -> int:
        return len(self.batches)


class ResumableLoader(DataLoader):
    """`DataLoader` that knows its place in the epoch (batches handed out so far) and, given a
    checkpoint's place, starts the resumed epoch there."""

    _epoch: int | None = None  # the epoch of the pass in progress (the sampler's)
    _taken = 0                 # batches of that pass handed out (skipped ones included)
    _resume: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        if self._resume is not None:  # loaded, not yet drawn from: still the checkpoint's place
            return dict(self._resume)
        return {"epoch": self._epoch, "taken": self._taken}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._resume = {"epoch": state.get("epoch"), "taken": int(state.get("taken") or 0)}

    def _begin_pass(self) -> int:
        """A pass over the loader starts drawing: its epoch, and the batches to skip (those of a
        checkpoint taken in this same epoch; none after one taken at an epoch's end)."""
        self._epoch = getattr(self.sampler, "epoch", None)
        resume, self._resume = self._resume, None
        same_epoch = (resume is not None and resume["epoch"] is not None
                      and resume["epoch"] == self._epoch)
        self._taken = resume["taken"] if same_epoch else 0
        return self._taken

    @property
    def _index_sampler(self):
        return _ResumedBatches(self, super()._index_sampler)

    def __iter__(self) -> Iterator:
        for batch in super().__iter__():
            self._taken += 1
            yield batch
