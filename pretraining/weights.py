"""The fp32 weights of a training checkpoint, by parameter name: where stage 2 starts and what export reads.

ZeRO checkpoints (stages 1, 2 and 3) are consolidated by DeepSpeed's own ``zero_to_fp32``: it merges the fp32
master weights of every data-parallel rank's optimizer partition and restores frozen and shared (tied)
parameters. A checkpoint saved without ZeRO holds the whole module in its model states. What we add: finding
the checkpoint from a run directory, ``tag`` to pick another than ``latest``, and errors that say which
checkpoint is incomplete or corrupted instead of a traceback from inside DeepSpeed. The ZeRO stage is read from
the checkpoint's own DeepSpeed config, so a ZeRO checkpoint that lost its optimizer partitions is refused,
never read from its partitioned (or half-precision) module states. A checkpoint is verified before it is read
(``pretraining.checkpoint.verify_checkpoint``: manifest, pickles) and every load, DeepSpeed's included, runs
with ``weights_only=True``.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from luke import quiet
from pretraining.checkpoint import (
    CHECKPOINTS_DIR,
    LATEST_FILE,
    CheckpointError,
    UnsafeCheckpointError,
    load_torch_file,
    verify_checkpoint,
)
from pretraining.safe_load import refusal_reason, weights_only_loads

MODEL_STATES_GLOB = "*_model_states.pt"
OPTIM_STATES_GLOB = "*_optim_states.pt"
UNPARTITIONED_MODEL_STATES = "mp_rank_00_model_states.pt"  # ZeRO 0-2; ZeRO-3 writes zero_pp_rank_N_mp_rank_00_…
READ_ERRORS = (ValueError, KeyError, IndexError, OSError, EOFError, RuntimeError, pickle.UnpicklingError)


@dataclass(frozen=True)
class CheckpointRef:
    """One DeepSpeed checkpoint: ``checkpoints_dir/tag``, and the run directory it belongs to (if any)."""

    checkpoints_dir: Path
    tag: str
    run_dir: Path | None

    @property
    def path(self) -> Path:
        return self.checkpoints_dir / self.tag


def _latest_tag(checkpoints_dir: Path) -> str:
    latest = checkpoints_dir / LATEST_FILE
    if not latest.is_file():
        tags = sorted(path.name for path in checkpoints_dir.iterdir() if path.is_dir())
        raise CheckpointError(
            f"{checkpoints_dir} has no {LATEST_FILE} file, so no complete checkpoint"
            + (f"; pass --tag to pick one of {tags}" if tags else "")
        )
    return latest.read_text(encoding="utf-8").strip()


def locate_checkpoint(path: str | Path, tag: str | None = None) -> CheckpointRef:
    """The checkpoint at ``path``: a run directory (its ``checkpoints/``), a checkpoints directory (with
    ``latest``) or one tag directory. ``tag`` picks another than ``latest``."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a directory (expected a run, checkpoints or checkpoint directory)")
    if any(path.glob(MODEL_STATES_GLOB)):
        checkpoints_dir, found_tag = path.parent, path.name
        if tag is not None and tag != found_tag:
            raise CheckpointError(f"{path} is checkpoint {found_tag!r}, but --tag {tag!r} was given")
    else:
        checkpoints_dir = path / CHECKPOINTS_DIR if (path / CHECKPOINTS_DIR).is_dir() else path
        found_tag = tag or _latest_tag(checkpoints_dir)
    ref_dir = checkpoints_dir / found_tag
    if not ref_dir.is_dir():
        raise CheckpointError(f"checkpoint {found_tag!r} does not exist in {checkpoints_dir}")
    run_dir = checkpoints_dir.parent if checkpoints_dir.name == CHECKPOINTS_DIR else None
    return CheckpointRef(checkpoints_dir, found_tag, run_dir)


def _corrupted(ref: CheckpointRef, error: Exception) -> CheckpointError:
    return CheckpointError(
        f"cannot consolidate checkpoint {ref.path}: it is incomplete or corrupted ({type(error).__name__}: {error})"
    )


def _unpartitioned_states(ref: CheckpointRef) -> dict | None:
    """The model states of a ZeRO 0–2 checkpoint (memory-mapped: tensors are read only when used), or None
    for a ZeRO-3 checkpoint, whose model states are per-rank partitions."""
    if not any(ref.path.glob(MODEL_STATES_GLOB)):
        raise CheckpointError(f"checkpoint {ref.path} is incomplete: it holds no model states ({MODEL_STATES_GLOB})")
    states_file = ref.path / UNPARTITIONED_MODEL_STATES
    if not states_file.is_file():
        return None
    try:
        return load_torch_file(states_file, mmap=True)
    except CheckpointError:  # refused as unsafe: not a corruption
        raise
    except READ_ERRORS as error:
        raise _corrupted(ref, error) from error


def _zero_stage(states: dict | None) -> int:
    """The ZeRO stage of a checkpoint (0: saved without ZeRO) from its model states' DeepSpeed config."""
    if states is None:
        return 3
    return int((states.get("ds_config") or {}).get("zero_optimization", {}).get("stage", 0))


def _module_weights(ref: CheckpointRef, module: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weights of a checkpoint saved without ZeRO: its module, when that is the fp32 master copy."""
    low_precision = {str(tensor.dtype) for tensor in module.values() if tensor.dtype in (torch.bfloat16, torch.float16)}
    if low_precision:
        raise CheckpointError(
            f"checkpoint {ref.path} was saved without ZeRO in {', '.join(sorted(low_precision))}: its module holds "
            "rounded weights and its fp32 master copy is a flat buffer of DeepSpeed's optimizer that no "
            "consolidation tool reads; train with ZeRO stage 1 or more (configs/deepspeed/), or in fp32"
        )
    return {name: tensor.clone() for name, tensor in module.items()}  # materialised: the file is memory-mapped


def consolidate(ref: CheckpointRef) -> dict[str, torch.Tensor]:
    """The fp32 weights of checkpoint ``ref`` (without ZeRO or with any ZeRO stage, any number of ranks), by
    parameter name; tied parameters appear under each of their names. Verified first (a checkpoint without
    manifest gets a warning on stderr)."""
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    warning = verify_checkpoint(ref.path)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    states = _unpartitioned_states(ref)
    stage = _zero_stage(states)
    if stage == 0:
        return _module_weights(ref, states["module"])
    if not any(ref.path.glob(OPTIM_STATES_GLOB)):
        raise CheckpointError(
            f"checkpoint {ref.path} was saved with ZeRO stage {stage} but holds no ZeRO optimizer partitions "
            f"({OPTIM_STATES_GLOB}), where its fp32 weights are: it is incomplete"
        )
    try:
        # DeepSpeed prints its progress on stdout and draws a progress bar on stderr
        with weights_only_loads(), contextlib.redirect_stdout(io.StringIO()), quiet.known_output_dropped():
            return get_fp32_state_dict_from_zero_checkpoint(str(ref.checkpoints_dir), tag=ref.tag)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(f"refusing to load checkpoint {ref.path}: {refusal_reason(error)}") from error
    except READ_ERRORS as error:
        raise _corrupted(ref, error) from error
