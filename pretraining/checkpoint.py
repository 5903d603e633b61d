"""Checkpoints of a run: DeepSpeed tags under ``run/checkpoints/``, a ``latest`` pointer, the last K kept.

One checkpoint is a DeepSpeed tag directory ``step-00001000/`` (model, ZeRO optimizer partitions, lr
scheduler) plus ``trainer_state.json`` (step, data position; rank 0) and ``rng/rank-00003.pt`` (each rank's
random generators). ``checkpoints/latest`` holds the tag of the newest *complete* checkpoint: it is
replaced atomically by rank 0 only after every rank finished writing, so an interrupted or failed save
(SIGKILL, full disk) leaves the previous checkpoint as latest. DeepSpeed's tools (``zero_to_fp32``)
read the same ``latest`` file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pretraining.distributed import all_ranks_true, barrier

CHECKPOINTS_DIR = "checkpoints"
LATEST_FILE = "latest"
TRAINER_STATE_FILE = "trainer_state.json"
RNG_DIR = "rng"
TAG_PATTERN = re.compile(r"^step-(\d{8})$")


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or read; the message says what is kept."""


def checkpoint_tag(step: int) -> str:
    return f"step-{step:08d}"


def latest_tag(checkpoints_dir: Path) -> str | None:
    """The tag named by ``checkpoints_dir/latest``, or None when there is no complete checkpoint."""
    latest = checkpoints_dir / LATEST_FILE
    if not latest.is_file():
        return None
    tag = latest.read_text(encoding="utf-8").strip()
    if not (checkpoints_dir / tag).is_dir():
        raise CheckpointError(f"{latest} names checkpoint {tag!r}, which does not exist in {checkpoints_dir}")
    return tag


def read_trainer_state(checkpoints_dir: Path, tag: str) -> dict[str, Any]:
    return json.loads((checkpoints_dir / tag / TRAINER_STATE_FILE).read_text(encoding="utf-8"))


@dataclass
class LoadedCheckpoint:
    tag: str
    trainer_state: dict[str, Any]
    rng_state: dict[str, Any] | None
    """This rank's random generators; None when the checkpoint was written with fewer ranks."""


class CheckpointManager:
    """Saves and loads the checkpoints of one run on every rank (all methods are collectives)."""

    def __init__(self, run_dir: Path, rank: int, keep_last: int) -> None:
        self.directory = run_dir / CHECKPOINTS_DIR
        self.rank = rank
        self.keep_last = keep_last

    def latest(self) -> str | None:
        return latest_tag(self.directory)

    def save(self, engine: Any, step: int, trainer_state: dict[str, Any], rng_state: dict[str, Any]) -> str:
        """Write checkpoint ``step`` on all ranks, then point ``latest`` at it and prune old ones.

        A write error on any rank (e.g. a full disk) raises :class:`CheckpointError` on every rank after
        the partial checkpoint was removed; ``latest`` and the checkpoints it names are untouched.
        """
        tag = checkpoint_tag(step)
        errors: list[str] = []
        original_save = engine.checkpoint_engine.save

        def guarded_save(state_dict: Any, path: str) -> None:
            # Keep going through DeepSpeed's collectives after a failed write; report once all ranks are done.
            if errors:
                return
            try:
                original_save(state_dict, path)
            except OSError as error:
                errors.append(f"rank {self.rank}: writing {path}: {error}")

        engine.checkpoint_engine.save = guarded_save
        try:
            engine.save_checkpoint(str(self.directory), tag=tag, client_state={}, save_latest=False)
            rng_dir = self.directory / tag / RNG_DIR
            rng_dir.mkdir(exist_ok=True)
            guarded_save(rng_state, str(rng_dir / f"rank-{self.rank:05d}.pt"))
            if self.rank == 0 and not errors:
                try:
                    _write_atomically(self.directory / tag / TRAINER_STATE_FILE, json.dumps(trainer_state, indent=2))
                except OSError as error:
                    errors.append(f"rank 0: writing {TRAINER_STATE_FILE}: {error}")
        except OSError as error:
            errors.append(f"rank {self.rank}: {error}")
        finally:
            del engine.checkpoint_engine.save  # the instance attribute shadowed the engine's method
        if not all_ranks_true(not errors):
            barrier()
            previous = self.latest()
            if self.rank == 0:
                shutil.rmtree(self.directory / tag, ignore_errors=True)
            kept = f"the previous checkpoint {previous!r} is intact" if previous else "no earlier checkpoint exists"
            detail = "; ".join(errors) if errors else "a write failed on another rank"
            raise CheckpointError(f"could not save checkpoint {tag!r} in {self.directory} ({detail}); {kept}")
        barrier()
        if self.rank == 0:
            try:
                _write_atomically(self.directory / LATEST_FILE, tag)
            except OSError as error:
                errors.append(str(error))
        if not all_ranks_true(not errors):
            raise CheckpointError(
                f"checkpoint {tag!r} was written but {self.directory / LATEST_FILE} could not be updated "
                f"({'; '.join(errors) or 'see rank 0'}); it still names {self.latest()!r}"
            )
        if self.rank == 0:
            self._prune(keep=tag)
        barrier()
        return tag

    def load(self, engine: Any, tag: str) -> LoadedCheckpoint:
        """Restore model, optimizer and lr scheduler from ``tag`` and return the trainer and RNG state."""
        load_path, _ = engine.load_checkpoint(
            str(self.directory), tag=tag, load_optimizer_states=True, load_lr_scheduler_states=True
        )
        if load_path is None:
            raise CheckpointError(f"DeepSpeed could not load checkpoint {tag!r} from {self.directory}")
        rng_file = self.directory / tag / RNG_DIR / f"rank-{self.rank:05d}.pt"
        rng_state = torch.load(rng_file, weights_only=False) if rng_file.is_file() else None
        return LoadedCheckpoint(tag, read_trainer_state(self.directory, tag), rng_state)

    def _prune(self, keep: str) -> None:
        tags = sorted(path.name for path in self.directory.iterdir() if path.is_dir() and TAG_PATTERN.match(path.name))
        for tag in tags[: max(0, len(tags) - self.keep_last)]:
            if tag != keep:
                shutil.rmtree(self.directory / tag, ignore_errors=True)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
