"""Find a DeepSpeed checkpoint of a training run and consolidate it into one fp32 state dict.

Consolidation is DeepSpeed's own (``deepspeed.utils.zero_to_fp32``): it merges the fp32 master weights of
every data-parallel rank's optimizer partition, for ZeRO stages 1, 2 and 3 alike, and restores frozen
and shared (tied) parameters. What we add: finding the checkpoint from a run directory, and errors that
say which checkpoint is incomplete or corrupted instead of a traceback from inside DeepSpeed (a ZeRO
checkpoint without its optimizer partitions is refused, never read from its partitioned module states), and
``--tag`` to pick another checkpoint than ``latest``.
"""

from __future__ import annotations

import contextlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from pretraining.checkpoint import CHECKPOINTS_DIR, LATEST_FILE, CheckpointError

MODEL_STATES_GLOB = "*_model_states.pt"
OPTIM_STATES_GLOB = "*_optim_states.pt"


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


def _check_files(ref: CheckpointRef) -> None:
    if not any(ref.path.glob(MODEL_STATES_GLOB)):
        raise CheckpointError(f"checkpoint {ref.path} is incomplete: it holds no model states ({MODEL_STATES_GLOB})")
    if not any(ref.path.glob(OPTIM_STATES_GLOB)):
        raise CheckpointError(
            f"checkpoint {ref.path} holds no ZeRO optimizer partitions ({OPTIM_STATES_GLOB}): it is incomplete, or "
            "it was saved without ZeRO, which export does not read"
        )


def consolidate(ref: CheckpointRef) -> dict[str, torch.Tensor]:
    """The fp32 weights of checkpoint ``ref`` (all ZeRO stages), by parameter name; tied parameters appear
    under each of their names."""
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    _check_files(ref)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # DeepSpeed prints its progress to stdout
            return get_fp32_state_dict_from_zero_checkpoint(str(ref.checkpoints_dir), tag=ref.tag)
    except (ValueError, KeyError, IndexError, OSError, EOFError, RuntimeError, pickle.UnpicklingError) as error:
        raise CheckpointError(
            f"cannot consolidate checkpoint {ref.path}: it is incomplete or corrupted ({type(error).__name__}: {error})"
        ) from error
