"""The training DataLoader: dataset + sampler + collator in worker processes, with a resumable cursor."""

from __future__ import annotations

import atexit
import weakref
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler

from pretraining.data.collator import LukePretrainingCollator
from pretraining.data.dataset import PretrainingDataset
from pretraining.data.sampler import DistributedEpochSampler
from pretraining.preemption import ignore_stop_signals, stop_signals_blocked


class PretrainingDataLoader:
    """Iterates masked batches; each batch handed out moves the sampler's cursor, so ``state_dict()`` says
    exactly which samples were consumed, however far the worker processes have prefetched.

    One ``for batch in loader`` runs to the end of the sampler's current epoch; the next one continues
    with the next epoch (or, after :meth:`load_state_dict`, with the next unconsumed sample)."""

    def __init__(self, dataloader: DataLoader, sampler: Sampler) -> None:
        self.dataloader = dataloader
        self.sampler = sampler
        atexit.register(_close_at_exit, weakref.ref(self))

    def __len__(self) -> int:
        return len(self.dataloader)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        with stop_signals_blocked():  # workers started now receive SIGTERM/SIGINT only once they ignore them
            batches = iter(self.dataloader)
        for batch in batches:
            if isinstance(self.sampler, DistributedEpochSampler):
                self.sampler.advance(batch["word_ids"].shape[0])
            yield batch

    def state_dict(self) -> dict[str, Any]:
        """The data position to save in a checkpoint (the sampler's; identical on every rank)."""
        return self.sampler.state_dict() if isinstance(self.sampler, DistributedEpochSampler) else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if isinstance(self.sampler, DistributedEpochSampler):
            self.sampler.load_state_dict(state)

    def close(self) -> None:
        """End the persistent worker processes now; done at exit too, ahead of multiprocessing's exit handler,
        which would end them with SIGTERM, which they ignore."""
        iterator = self.dataloader._iterator  # DataLoader keeps the iterator of persistent workers here
        if iterator is not None:
            iterator._shutdown_workers()
            self.dataloader._iterator = None


def _close_at_exit(loader: weakref.ref[PretrainingDataLoader]) -> None:
    if (alive := loader()) is not None:
        alive.close()


def build_dataloader(
    dataset: PretrainingDataset,
    sampler: Sampler,
    collator: LukePretrainingCollator,
    batch_size: int,
    num_workers: int = 2,
    prefetch_factor: int = 4,
    pin_memory: bool = False,
    persistent_workers: bool = True,
    multiprocessing_context: str | None = None,
) -> PretrainingDataLoader:
    """A DataLoader whose ``num_workers`` processes read rows and run the collator (masking included).

    ``batch_size`` is the per-rank micro-batch; the last batch of an epoch may be smaller (nothing is
    dropped). ``prefetch_factor`` batches are kept ready per worker; ``persistent_workers`` keeps the
    processes (and their mapped shards) across epochs; ``pin_memory`` for fast host-to-GPU copies;
    ``num_workers=0`` collates in the calling process. Batches do not depend on ``num_workers``. The
    workers ignore SIGTERM/SIGINT (``pretraining.preemption``): the calling process decides when to stop.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if num_workers < 0:
        raise ValueError(f"num_workers must be 0 or more, got {num_workers}")
    worker_options: dict[str, Any] = {}
    if num_workers > 0:
        worker_options = {
            "prefetch_factor": prefetch_factor,
            "persistent_workers": persistent_workers,
            "multiprocessing_context": multiprocessing_context,
            "worker_init_fn": ignore_stop_signals,
        }
    dataloader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=collator,
        num_workers=num_workers,
        pin_memory=pin_memory,
        **worker_options,
    )
    return PretrainingDataLoader(dataloader, sampler)
