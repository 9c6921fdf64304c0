"""Data parallelism: each process's rank and share of the global batch, and the samplers that
shard an epoch (training: a fresh permutation per epoch; evaluation: disjoint, unpadded shards)."""

from __future__ import annotations

import torch
from torch.utils.data import Sampler


def data_parallel_rank(trainer) -> tuple[int, int]:
    """(rank, size) of a process's data parallelism, as the trainer's strategy defines it."""
    sampler_kwargs = (getattr(trainer.strategy, "distributed_sampler_kwargs", None)
                      if trainer is not None else None)
    return (sampler_kwargs["rank"], sampler_kwargs["num_replicas"]) if sampler_kwargs else (0, 1)


def per_process_batch(batch_size: int, processes: int) -> int:
    """`data.batch_size` is the global batch of one SGD step (the paper's 128 over its two GPUs):
    each of `processes` data-parallel processes takes an equal share of it, or none can."""
    if batch_size % processes:
        below, above = batch_size // processes * processes, -(-batch_size // processes) * processes
        nearest = " or ".join(str(b) for b in dict.fromkeys((below, above)) if b > 0)
        raise ValueError(
            f"data.batch_size={batch_size} is the global batch, split evenly over the {processes} "
            "data-parallel processes (trainer.devices × trainer.num_nodes; trainer=columns: one "
            f"per pair): pass a multiple of {processes}, e.g. {nearest}")
    return batch_size // processes


class EpochShuffle(Sampler[int]):
    """A fresh permutation every epoch, drawn from (seed, epoch) alone: resumes repeat it. Under
    data parallelism (`world` processes) each rank takes every world-th image of the same
    permutation — disjoint shards of equal length, together the whole epoch (less its last
    `size % world` images) — and its order changes every epoch on any Lightning version (the
    platform shards itself: `Trainer(use_distributed_sampler=False)` in training.py)."""

    def __init__(self, size: int, seed: int, rank: int = 0, world: int = 1):
        self.size, self.seed, self.rank, self.world, self.epoch = size, seed, rank, world, 0

    def set_epoch(self, epoch: int) -> None:  # Lightning calls this at every epoch start
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=g)
        return iter(order[self.rank::self.world][: len(self)].tolist())

    def __len__(self) -> int:
        return self.size // self.world


class Shard(Sampler[int]):
    """Evaluation under data parallelism: every world-th image from `rank` on. The shards are
    disjoint and cover the split exactly once — unlike DistributedSampler, which pads the last
    shard with repeated images that an error rate would then count twice."""

    def __init__(self, size: int, rank: int, world: int):
        self.indices = range(rank, size, world)

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
