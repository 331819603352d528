"""Deterministic, resumable, sharded batches with per-sample augmentation seeds.

Exact resume needs every random choice to be a function of the run's position, not of history:

* the order of an epoch is a permutation seeded by ``(seed, epoch)``, so a resumed run draws the same one;
* each sample's augmentation is seeded by ``(seed, epoch, index)`` (:class:`SeededDataset` seeds torch's
  global RNG in a forked RNG context), so it does not depend on workers, prefetching or where a run resumed;
* :class:`ResumableBatchSampler` can start part-way through an epoch (``start_batch``).

Under DDP, rank ``r`` of ``W`` takes every ``W``-th sample of the permutation, so the union of the ranks'
batch ``t`` is exactly the single-process batch ``t`` of ``W`` times the size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler

__all__ = ["ResumableBatchSampler", "SeededDataset", "sample_seed"]

SampleKey = tuple[int, int]
"""(augmentation seed, dataset index)."""


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed for one sample's augmentation, distinct for every (seed, epoch, index)."""
    mixed = (seed * 1_000_003 + epoch) * 2_147_483_647 + index
    return mixed % (2**63 - 1)


class ResumableBatchSampler(Sampler[list[SampleKey]]):
    """Batches of ``(sample seed, index)``, one epoch at a time; call :meth:`set_epoch` before iterating."""

    def __init__(
        self,
        num_samples: int,
        *,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if num_samples < 1:
            raise ValueError("the dataset is empty")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Iterate epoch ``epoch`` next, skipping its first ``start_batch`` batches (to resume mid-epoch)."""
        self.epoch = epoch
        self.start_batch = start_batch

    def _indices(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.num_samples, generator=generator).tolist()
        else:
            order = list(range(self.num_samples))
        per_rank = self.num_samples // self.world_size if self.drop_last else None
        shard = order[self.rank :: self.world_size]
        return shard[:per_rank] if per_rank is not None else shard

    def __len__(self) -> int:
        """Batches per epoch for this rank (the same on every rank when ``drop_last``)."""
        if self.drop_last:
            return (self.num_samples // self.world_size) // self.batch_size
        shard = len(range(self.rank, self.num_samples, self.world_size))
        return math.ceil(shard / self.batch_size)

    def __iter__(self) -> Iterator[list[SampleKey]]:
        indices = self._indices()
        for batch in range(self.start_batch, len(self)):
            chunk = indices[batch * self.batch_size : (batch + 1) * self.batch_size]
            yield [(sample_seed(self.seed, self.epoch, i), i) for i in chunk]


class SeededDataset(Dataset):
    """A dataset whose item ``(seed, index)`` is ``dataset[index]`` drawn with torch's RNG seeded by ``seed``.

    The caller's RNG state is restored afterwards, so model-side randomness (dropout) is unaffected.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: SampleKey) -> Any:
        seed, index = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[index]
