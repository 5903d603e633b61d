"""The DeepSpeed engine of a run: its JSON config completed from the training config, AdamW, the lr schedule.

``configs/deepspeed/*.json`` say *how* to train (ZeRO stage, bf16/fp16, offload, communication buckets);
the training config says *what* (batch sizes, optimizer, schedule, clipping). The fields owned by the
training config must not appear in the DeepSpeed file, so a value is never set in two places.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pretraining.config import ConfigError, TrainConfig
from pretraining.lr_schedule import build_lr_scheduler, follow_schedule

# DeepSpeed keys that the training config sets (batch.*, optimizer.*, schedule.*).
OWNED_KEYS = (
    "train_batch_size",
    "train_micro_batch_size_per_gpu",
    "gradient_accumulation_steps",
    "gradient_clipping",
    "optimizer",
    "scheduler",
)
# Parameters without weight decay, as in LUKE / BERT.
NO_DECAY_MARKERS = ("bias", "LayerNorm.weight", "layer_norm.weight")


def load_deepspeed_config(config: TrainConfig, world_size: int) -> dict[str, Any]:
    """The DeepSpeed config for this run: the file of ``config.deepspeed`` plus batch sizes and clipping."""
    path = Path(config.deepspeed)
    try:
        ds_config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"deepspeed: cannot read {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise ConfigError(f"deepspeed: {path} is not valid JSON: {error}") from error
    owned = [key for key in OWNED_KEYS if key in ds_config]
    if owned:
        raise ConfigError(
            f"deepspeed: {path} sets {owned}; these come from the training config "
            "(batch.*, optimizer.*, schedule.*) — remove them from the DeepSpeed file"
        )
    if ds_config.get("fp16", {}).get("enabled") and ds_config.get("bf16", {}).get("enabled"):
        raise ConfigError(f"deepspeed: {path} enables both fp16 and bf16")
    accumulation = config.gradient_accumulation_steps(world_size)
    ds_config.update(
        train_batch_size=config.batch.global_batch_size,
        train_micro_batch_size_per_gpu=config.batch.micro_batch_size,
        gradient_accumulation_steps=accumulation,
        gradient_clipping=config.optimizer.gradient_clipping,
    )
    ds_config.setdefault("steps_per_print", 10**9)  # the trainer logs; keep DeepSpeed's own prints quiet
    return ds_config


def offloads_optimizer(ds_config: dict[str, Any]) -> bool:
    offload = ds_config.get("zero_optimization", {}).get("offload_optimizer", {})
    return offload.get("device", "none") not in ("none", None)


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters in two groups: with weight decay, and without (biases, LayerNorm weights)."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if any(marker in name for marker in NO_DECAY_MARKERS) else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]


def build_optimizer(model: nn.Module, config: TrainConfig, ds_config: dict[str, Any]) -> torch.optim.Optimizer:
    """AdamW: DeepSpeed's CPU Adam when the optimizer is offloaded, its fused Adam on GPUs, torch's AdamW on CPU.

    LUKE trains without Adam bias correction; torch's AdamW always corrects, so ``optimizer.bias_correction:
    false`` needs one of DeepSpeed's optimizers (a GPU or an offload config).
    """
    options = config.optimizer
    groups = parameter_groups(model, options.weight_decay)
    common = {"lr": options.lr, "betas": options.betas, "eps": options.eps, "weight_decay": options.weight_decay}
    if offloads_optimizer(ds_config):
        from deepspeed.ops.adam import DeepSpeedCPUAdam

        return DeepSpeedCPUAdam(groups, adamw_mode=True, bias_correction=options.bias_correction, **common)
    if torch.cuda.is_available():
        from deepspeed.ops.adam import FusedAdam

        return FusedAdam(groups, adam_w_mode=True, bias_correction=options.bias_correction, **common)
    check_optimizer_support(config, ds_config)
    return torch.optim.AdamW(groups, **common)


def check_optimizer_support(config: TrainConfig, ds_config: dict[str, Any]) -> None:
    """Refuse options the optimizer of this machine cannot honour (before any process group starts)."""
    if not config.optimizer.bias_correction and not offloads_optimizer(ds_config) and not torch.cuda.is_available():
        raise ConfigError(
            "optimizer.bias_correction=false needs DeepSpeed's Adam (a GPU, or an offload_optimizer DeepSpeed "
            "config); torch.optim.AdamW on CPU always corrects bias — set optimizer.bias_correction=true"
        )


def build_engine(model: nn.Module, config: TrainConfig, ds_config: dict[str, Any]) -> Any:
    """``deepspeed.initialize`` with our optimizer and a warmup + linear-decay schedule (stepped by DeepSpeed
    once per optimizer step; saved in its checkpoints)."""
    import deepspeed

    optimizer = build_optimizer(model, config, ds_config)
    scheduler = build_lr_scheduler(optimizer, config.schedule.warmup_steps, config.schedule.max_steps)
    engine, _, _, _ = deepspeed.initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config, dist_init_required=False
    )
    return engine


def apply_optimizer_config(engine: Any, config: TrainConfig) -> None:
    """After a checkpoint restored the optimizer (with the hyperparameters it saved) and the lr scheduler, set
    them from this run's config again: a changed ``optimizer.*`` or ``schedule.*`` applies from the resume step
    on (``pretraining.config_changes`` decides which changes a resume accepts); unchanged, nothing changes."""
    options = config.optimizer
    expected = parameter_groups(engine.module, options.weight_decay)
    for group, like in zip(engine.optimizer.param_groups, expected, strict=True):
        group.update(betas=options.betas, eps=options.eps, weight_decay=like["weight_decay"])
        if "bias_correction" in group:  # DeepSpeed's Adam variants
            group["bias_correction"] = options.bias_correction
    follow_schedule(engine.lr_scheduler, options.lr)
