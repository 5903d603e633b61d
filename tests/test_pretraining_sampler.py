"""DistributedEpochSampler / DistributedEvalSampler: rank sharding, tails, determinism, resume."""

from collections import Counter

import pytest

from pretraining.data import DistributedEpochSampler, DistributedEvalSampler


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
