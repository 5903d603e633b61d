"""Validation: MLM and MEP loss and accuracy over the validation split (every chosen word and entity masked, see
``loaders``) and the reference models' losses on the same positions, summed over all ranks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist

from pretraining.references import ReferenceModels
from pretraining.step_metrics import StepMetrics


def common_batch_count(local_batches: int) -> int:
    """The batch count every rank can run (their minimum): under ZeRO-3 a forward pass is a collective, so
    all ranks must make the same number of calls."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return local_batches
    count = torch.tensor([local_batches], dtype=torch.int64)
    if dist.get_backend() == "nccl":
        count = count.cuda()
    dist.all_reduce(count, op=dist.ReduceOp.MIN)
    return int(count.item())


@torch.no_grad()
def evaluate(
    engine: Any,
    loader: Iterable[dict[str, torch.Tensor]],
    num_batches: int,
    references: ReferenceModels | None = None,
) -> dict[str, float]:
    """Run ``num_batches`` validation batches on each rank, with the ``references``' losses on the same positions;
    the random generators are left as they were, so an evaluation never changes the training that follows it
    (exact resume depends on it)."""
    devices = [engine.device] if engine.device.type == "cuda" else []
    metrics = StepMetrics(engine.device)
    with torch.random.fork_rng(devices=devices):
        engine.eval()
        try:
            for index, batch in enumerate(loader):
                if index >= num_batches:
                    break
                if references is not None:
                    metrics.add_references(references, batch)
                batch = {name: tensor.to(engine.device) for name, tensor in batch.items()}
                metrics.add(engine(**batch), batch)
        finally:
            engine.train()
    return metrics.reduce()
