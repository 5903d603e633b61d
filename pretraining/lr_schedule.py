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


def follow_schedule(scheduler: LambdaLR, peak_lr: float) -> None:
    """Once a checkpoint restored ``scheduler`` (its step count, and the peak and current rate it saved), set
    the peak and the current rate of every parameter group from this run's ``peak_lr`` and schedule: a changed
    ``optimizer.lr`` or ``schedule.max_steps`` applies from the resume step on; unchanged, nothing changes."""
    scheduler.base_lrs = [peak_lr] * len(scheduler.optimizer.param_groups)
    for group, lr_lambda in zip(scheduler.optimizer.param_groups, scheduler.lr_lambdas, strict=True):
        group["initial_lr"] = peak_lr
        group["lr"] = peak_lr * lr_lambda(scheduler.last_epoch)
    scheduler._last_lr = [group["lr"] for group in scheduler.optimizer.param_groups]
