"""Deterministic, sharded, resumable batches and per-sample augmentation seeds."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from efficientvit.train.sampler import ResumableBatchSampler, SeededDataset, sample_seed


def _indices(sampler: ResumableBatchSampler) -> list[list[int]]:
    return [[index for _, index in batch] for batch in sampler]


def test_same_epoch_same_order_and_new_epoch_new_order() -> None:
    sampler = ResumableBatchSampler(20, batch_size=4, seed=3)
    sampler.set_epoch(0)
    first, again = _indices(sampler), _indices(sampler)
    sampler.set_epoch(1)
    assert first == again
    assert _indices(sampler) != first
    assert sorted(i for batch in first for i in batch) == list(range(20))


def test_start_batch_resumes_the_same_epoch_where_it_stopped() -> None:
    sampler = ResumableBatchSampler(21, batch_size=4, seed=0)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start_batch=3)
    assert list(sampler) == full[3:]
    assert len(sampler) == 5  # drop_last: 21 // 4


def test_two_ranks_together_draw_the_single_process_batches_of_twice_the_size() -> None:
    single = ResumableBatchSampler(24, batch_size=6, seed=1)
    ranks = [ResumableBatchSampler(24, batch_size=3, seed=1, rank=r, world_size=2) for r in (0, 1)]
    for s in (single, *ranks):
        s.set_epoch(4)
    assert len(ranks[0]) == len(ranks[1]) == len(single)
    for whole, part0, part1 in zip(_indices(single), _indices(ranks[0]), _indices(ranks[1]), strict=True):
        assert sorted(whole) == sorted(part0 + part1)


def test_evaluation_shards_cover_every_sample_once() -> None:
    shards = [
        ResumableBatchSampler(10, batch_size=4, shuffle=False, drop_last=False, rank=r, world_size=3)
        for r in range(3)
    ]
    seen = sorted(i for s in shards for batch in _indices(s) for i in batch)
    assert seen == list(range(10))
    assert [len(s) for s in shards] == [1, 1, 1]


def test_sample_seeds_differ_by_epoch_and_index() -> None:
    seeds = {sample_seed(0, e, i) for e in range(5) for i in range(100)}
    assert len(seeds) == 500


class _Noise(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.rand(3)


def test_seeded_dataset_is_reproducible_and_leaves_the_global_rng_alone() -> None:
    dataset = SeededDataset(_Noise())
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = dataset[(7, 0)]
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(a, dataset[(7, 2)])  # the seed, not the index, decides the draw
    assert not torch.equal(a, dataset[(8, 0)])
