"""Learning-rate schedule: linear warmup from 0 to the peak, then linear decay to 0 (LUKE's WarmupDecayLR)."""

from __future__ import annotations

import torch
from torch.optim.lr_scheduler import LambdaLR


def warmup_linear_decay(step: int, warmup_steps: int, max_steps: int) -> float:
    """Multiplier of the peak learning rate for optimizer step ``step`` (0-based)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if max_steps <= warmup_steps:
        return 1.0
    return max(0.0, (max_steps - step) / (max_steps - warmup_steps))


def build_lr_scheduler(optimizer: torch.optim.Optimizer, warmup_steps: int, max_steps: int) -> LambdaLR:
    """A scheduler stepped once per optimizer step; its state is saved in DeepSpeed checkpoints."""
    return LambdaLR(optimizer, lambda step: warmup_linear_decay(step, warmup_steps, max_steps))
