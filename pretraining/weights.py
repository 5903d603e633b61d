"""The fp32 weights of a checkpoint, consolidated from its ZeRO partitions (for stage 2's start and export)."""

from __future__ import annotations

from pathlib import Path

import torch

from pretraining.checkpoint import resolve_checkpoint

MODEL_STATES_FILE = "mp_rank_00_model_states.pt"


def consolidated_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The full fp32 state dict of a run's latest checkpoint, a ``checkpoints/`` dir or one checkpoint dir.

    ZeRO 1/2/3 checkpoints are merged from the fp32 optimizer partitions of all ranks (frozen parameters come
    from the model states); a checkpoint without ZeRO holds the module itself.
    """
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    checkpoints_dir, tag = resolve_checkpoint(path)
    if any((checkpoints_dir / tag).glob("*optim_states.pt")):
        return get_fp32_state_dict_from_zero_checkpoint(str(checkpoints_dir), tag=tag)
    states = torch.load(checkpoints_dir / tag / MODEL_STATES_FILE, map_location="cpu", weights_only=False)
    return {name: tensor.float() for name, tensor in states["module"].items()}
