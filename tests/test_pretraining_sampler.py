"""DistributedEpochSampler / DistributedEvalSampler: rank sharding, tails, determinism, resume."""

import tracemalloc
from collections import Counter

import numpy as np
import pytest

import pretraining.data.sampler as sampler_module
from pretraining.data import DistributedEpochSampler, DistributedEvalSampler, SampleKey


def iteration(sampler):
    keys = list(sampler)
    sampler.advance(len(keys))
    return keys


@pytest.mark.parametrize(("num_rows", "world_size"), [(12, 3), (13, 3), (17, 4), (5, 1)])
def test_every_row_once_per_epoch_across_ranks_without_loss(num_rows, world_size):
    samplers = [DistributedEpochSampler(num_rows, rank, world_size, seed=7) for rank in range(world_size)]
    keys = []
    for _ in range(world_size + 2):  # enough iterations for the tails to wrap into later ones
        per_rank = [iteration(sampler) for sampler in samplers]
        assert len({len(rank_keys) for rank_keys in per_rank}) == 1  # every rank: the same number of samples
        assert {len(rank_keys) for rank_keys in per_rank} <= {num_rows // world_size, -(-num_rows // world_size)}
        keys += [key for rank_keys in per_rank for key in rank_keys]
    assert len(set(keys)) == len(keys)  # no sample given twice, to one rank or to two
    complete_epochs = len(keys) // num_rows
    for epoch in range(complete_epochs):
        rows = Counter(key.row for key in keys if key.epoch == epoch)
        assert rows == Counter(range(num_rows))  # each row exactly once in each epoch: nothing lost
        assert sorted(key.index for key in keys if key.epoch == epoch) == list(range(num_rows))
    epochs_rows = [[key.row for key in sorted(keys) if key.epoch == epoch] for epoch in range(2)]
    assert epochs_rows[0] != epochs_rows[1]  # a fresh shuffle each epoch


def documented_keys(num_rows, rank, world_size, seed, iterations):
    """The keys of ``iterations`` iterations by the class docstring: numpy's permutation of each epoch, stream
    position g to rank g % world_size (the order that exact resume depends on)."""
    end = iterations * num_rows // world_size * world_size
    shuffles = [np.random.default_rng([seed, epoch]).permutation(num_rows) for epoch in range(iterations + 1)]
    return [
        SampleKey(g // num_rows, g % num_rows, int(shuffles[g // num_rows][g % num_rows]))
        for g in range(rank, end, world_size)
    ]


@pytest.mark.parametrize("chunk", [1, 3, 65_536])
@pytest.mark.parametrize(("num_rows", "world_size"), [(23, 2), (17, 4), (10, 1)])
def test_keys_follow_numpys_permutations_whatever_the_chunk(monkeypatch, chunk, num_rows, world_size):
    monkeypatch.setattr(sampler_module, "KEYS_PER_CHUNK", chunk)
    for rank in range(world_size):
        expected = documented_keys(num_rows, rank, world_size, seed=9, iterations=3)
        sampler = DistributedEpochSampler(num_rows, rank, world_size, seed=9)
        assert iteration(sampler) + iteration(sampler) + iteration(sampler) == expected
        resumed = DistributedEpochSampler(num_rows, rank, world_size, seed=9)
        resumed.advance(2)
        assert iteration(resumed) + iteration(resumed) + iteration(resumed) == expected[2:]


@pytest.mark.parametrize("world_size", [1, 4])
def test_keys_are_made_a_chunk_at_a_time(world_size):
    """The first key of a 5M-row epoch costs the shuffle, the rank's share of it and one chunk of keys, not the
    whole epoch's keys."""
    sampler = DistributedEpochSampler(5_000_000, 0, world_size)
    tracemalloc.start()
    next(iter(sampler))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    shuffle = sampler.permutation(0)
    assert shuffle.dtype == np.int32
    assert peak < shuffle.nbytes + shuffle.nbytes // world_size + 16 * 2**20


def test_drop_last_drops_a_different_tail_each_epoch():
    samplers = [DistributedEpochSampler(14, rank, 4, seed=1, drop_last=True) for rank in range(4)]
    dropped = []
    for _ in range(3):
        keys = [key for sampler in samplers for key in iteration(sampler)]
        assert len(keys) == len({key.row for key in keys}) == 12
        assert len({key.epoch for key in keys}) == 1
        dropped.append(set(range(14)) - {key.row for key in keys})
    assert all(len(rows) == 2 for rows in dropped) and dropped[0] != dropped[1]


def test_shuffle_is_a_function_of_seed_and_epoch():
    def first_rows(seed):
        sampler = DistributedEpochSampler(1000, 0, 2, seed=seed)
        return [key.row for key in iteration(sampler)], [key.row for key in iteration(sampler)]

    assert first_rows(3) == first_rows(3)
    assert first_rows(3) != first_rows(4)


def test_resume_continues_at_the_next_sample():
    uninterrupted = DistributedEpochSampler(23, 1, 2, seed=5)
    expected = iteration(uninterrupted) + iteration(uninterrupted)
    interrupted = DistributedEpochSampler(23, 1, 2, seed=5)
    interrupted.advance(7)
    state = interrupted.state_dict()
    resumed = DistributedEpochSampler(23, 1, 2, seed=5)
    resumed.load_state_dict(state)
    assert len(resumed) == 11 - 7  # iteration 0 gives each of the 2 ranks 11 of the 23 rows, iteration 1 gives 12
    assert iteration(resumed) + iteration(resumed) == expected[7:]
    assert resumed.state_dict()["epoch"] == 2


def test_resume_refuses_another_data_order():
    state = DistributedEpochSampler(23, 0, 2, seed=5).state_dict()
    with pytest.raises(ValueError, match="saved sampler has world_size=2, this run has world_size=4"):
        DistributedEpochSampler(23, 0, 4, seed=5).load_state_dict(state)
    with pytest.raises(ValueError, match="seed=5"):
        DistributedEpochSampler(23, 0, 2, seed=6).load_state_dict(state)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="rank 2 is not in 0..world_size-1"):
        DistributedEpochSampler(10, 2, 2)
    with pytest.raises(ValueError, match="3 rows cannot be shared among 4"):
        DistributedEpochSampler(3, 0, 4)


def test_eval_sampler_covers_each_row_once():
    keys = [key for rank in range(3) for key in DistributedEvalSampler(10, rank, 3)]
    assert sorted(key.row for key in keys) == list(range(10))
    assert all(key.epoch == 0 and key.index == key.row for key in keys)
