"""Deterministic, resumable shuffling of a split across data-parallel ranks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import Sampler

from pretraining.data.dataset import SampleKey

KEYS_PER_CHUNK = 65_536  # stream positions turned into keys at a time by DistributedEpochSampler


class DistributedEpochSampler(Sampler[SampleKey]):
    """Each epoch a fresh permutation of the rows, seeded by (``seed``, epoch), dealt round-robin to ranks.

    The permutations of epochs 0, 1, 2 … are concatenated into one stream; stream position ``g`` goes to rank
    ``g % world_size``. Every rank therefore gets the same number of samples, no row is given to two ranks,
    and within each epoch's permutation every row is delivered exactly once.

    The tail (``num_rows % world_size`` rows that cannot be dealt evenly):
    - ``drop_last=False`` (default): nothing is lost. Iteration ``e`` covers the stream positions
      ``[⌊e·n/W⌋·W, ⌊(e+1)·n/W⌋·W)``, so the tail of epoch ``e``'s permutation opens iteration ``e + 1``;
      an iteration has ⌊n/W⌋ or ⌈n/W⌉ samples per rank, the same on every rank.
    - ``drop_last=True``: iteration ``e`` is epoch ``e``'s permutation without its tail (⌊n/W⌋ per rank);
      the dropped rows differ from epoch to epoch.

    Memory: the keys are made a chunk at a time as they are iterated; a rank keeps only its share of the last
    two epochs' shuffles (``num_rows / world_size`` rows each), the whole shuffle only while it is drawn.

    Resuming: the sampler's cursor (``epoch``, ``position`` = samples of this iteration already consumed by
    this rank) is moved by :meth:`advance` as batches are consumed (the loader of ``loader.py`` does it), not
    as indices are fetched, so DataLoader prefetching does not run it ahead. ``state_dict()`` is the same on
    every rank; after ``load_state_dict`` the next iteration continues with the next unconsumed sample.
    """

    def __init__(self, num_rows: int, rank: int = 0, world_size: int = 1, seed: int = 0, drop_last: bool = False):
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in 0..world_size-1 for world_size {world_size}")
        if num_rows < world_size:
            raise ValueError(f"{num_rows} rows cannot be shared among {world_size} data-parallel ranks")
        self.num_rows = num_rows
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        self.position = 0
        self._shares: dict[int, tuple[int, np.ndarray]] = {}

    def _iteration_start(self, epoch: int) -> int:
        """First stream position of iteration ``epoch``."""
        if self.drop_last:
            return epoch * self.num_rows
        return epoch * self.num_rows // self.world_size * self.world_size

    def samples_in_epoch(self, epoch: int) -> int:
        """Samples this rank (and every rank) gets in iteration ``epoch``."""
        if self.drop_last:
            return self.num_rows // self.world_size
        return (self._iteration_start(epoch + 1) - self._iteration_start(epoch)) // self.world_size

    def permutation(self, epoch: int) -> np.ndarray:
        """The shuffle of epoch ``epoch``, a pure function of (seed, epoch): numpy's
        ``default_rng([seed, epoch]).permutation(num_rows)``, by the same swaps on int32 where the rows fit."""
        rows = np.arange(self.num_rows, dtype=np.int32 if self.num_rows <= np.iinfo(np.int32).max else np.int64)
        np.random.default_rng([self.seed, epoch]).shuffle(rows)
        return rows

    def _share(self, epoch: int) -> tuple[int, np.ndarray]:
        """This rank's part of epoch ``epoch``'s shuffle: (``first``, the rows at indices ``first``, ``first`` + W,
        ``first`` + 2W …); the shares of the last two epochs are kept."""
        if epoch not in self._shares:
            self._shares = {e: share for e, share in self._shares.items() if e >= epoch - 1}
            first = (self.rank - epoch * self.num_rows) % self.world_size
            # a copy, so that the whole shuffle is freed (no copy for one rank: its share is the whole shuffle)
            self._shares[epoch] = first, np.ascontiguousarray(self.permutation(epoch)[first :: self.world_size])
        return self._shares[epoch]

    def __len__(self) -> int:
        """Samples the next iteration yields (what is left of the current epoch)."""
        return self.samples_in_epoch(self.epoch) - self.position

    def __iter__(self) -> Iterator[SampleKey]:
        """The rest of the current iteration, made ``KEYS_PER_CHUNK`` keys at a time (memory flat in the rows)."""
        first, end = self.position, self.position + len(self)
        origin = self._iteration_start(self.epoch) + self.rank
        for start in range(first, end, KEYS_PER_CHUNK):
            yield from self._keys(origin + self.world_size * np.arange(start, min(start + KEYS_PER_CHUNK, end)))

    def _keys(self, stream: np.ndarray) -> Iterator[SampleKey]:
        """The keys of the stream positions ``stream``."""
        epochs, indices = np.divmod(stream, self.num_rows)
        rows = np.empty_like(stream)
        for shuffle_epoch in np.unique(epochs):
            selected = epochs == shuffle_epoch
            first, share = self._share(int(shuffle_epoch))
            rows[selected] = share[(indices[selected] - first) // self.world_size]
        return map(SampleKey._make, zip(epochs.tolist(), indices.tolist(), rows.tolist(), strict=True))

    def advance(self, num_samples: int) -> None:
        """Record that ``num_samples`` more samples of this rank were consumed; roll over to the next epoch."""
        self.position += num_samples
        while self.position >= self.samples_in_epoch(self.epoch):
            self.position -= self.samples_in_epoch(self.epoch)
            self.epoch += 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "num_rows": self.num_rows,
            "world_size": self.world_size,
            "drop_last": self.drop_last,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; it must come from a sampler over the same rows, seed and world size."""
        for name in ("seed", "num_rows", "world_size", "drop_last"):
            if state[name] != getattr(self, name):
                raise ValueError(
                    f"cannot resume the data order: the saved sampler has {name}={state[name]!r}, "
                    f"this run has {name}={getattr(self, name)!r}"
                )
        if not 0 <= state["position"] < self.samples_in_epoch(state["epoch"]):
            raise ValueError(f"saved sampler position {state['position']} is outside epoch {state['epoch']}")
        self.epoch, self.position = state["epoch"], state["position"]


class DistributedEvalSampler(Sampler[SampleKey]):
    """Rows ``rank, rank + W, rank + 2W …`` in order, each exactly once over all ranks (ranks may differ by
    one sample): for evaluation, where every row counts and nothing is repeated. Keys are (0, row, row), so
    the masking of a validation row is the same at every evaluation."""

    def __init__(self, num_rows: int, rank: int = 0, world_size: int = 1) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in 0..world_size-1 for world_size {world_size}")
        self.rows = range(rank, num_rows, world_size)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[SampleKey]:
        for row in self.rows:
            yield SampleKey(0, row, row)
