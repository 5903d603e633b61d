"""Checkpoints of a run: DeepSpeed tags under ``run/checkpoints/``, a ``latest`` pointer, the last K kept.

One checkpoint is a DeepSpeed tag directory ``step-00001000/`` (model, ZeRO optimizer partitions, lr
scheduler) plus ``trainer_state.json`` (step, data position; rank 0) and ``rng/rank-00003.pt`` (each rank's
random generators). Each rank hashes its files as soon as each is written (``pretraining.manifest``); once
every rank finished, rank 0 writes ``manifest.json`` (each file's size and digest) and then replaces
``checkpoints/latest``, the tag of the newest *complete* checkpoint, atomically: an interrupted or failed
save (SIGKILL, full disk) leaves the previous checkpoint as latest. DeepSpeed's tools (``zero_to_fp32``)
read the same ``latest`` file.

Reading one back (resume, stage 2's start, export) first checks it (:func:`verify_checkpoint`): its files
against the manifest, and its pickles against the classes a checkpoint holds (``pretraining.safe_load``);
every ``torch.load`` then runs with ``weights_only=True``. Resume falls back to the newest intact checkpoint.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pretraining.distributed import all_gather, all_ranks_true, barrier, broadcast_from_main
from pretraining.manifest import (
    MANIFEST_FILE,
    FileDigest,
    FileHasher,
    files_under,
    first_mismatch,
    hash_files,
    read_manifest,
    write_manifest,
)
from pretraining.safe_load import refusal_reason, unsafe_globals, weights_only_loads

CHECKPOINTS_DIR = "checkpoints"
LATEST_FILE = "latest"
TRAINER_STATE_FILE = "trainer_state.json"
RNG_DIR = "rng"
TAG_PATTERN = re.compile(r"^step-(\d{8})$")


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or read; the message says what is kept."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint file would need more than tensors and the checkpoint classes to load: it was tampered
    with, not damaged, so nothing falls back past it."""


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


def verify_checkpoint(tag_dir: Path) -> str | None:
    """Check a checkpoint before anything reads it: its files against its manifest, then every torch file's
    pickle for classes or functions beyond those checkpoints hold (read statically: nothing runs). A damaged or
    unsafe checkpoint raises :class:`CheckpointError` naming the file; one without a manifest (written before
    manifests existed) passes with the warning returned."""
    try:
        manifest = read_manifest(tag_dir)
    except ValueError as error:
        raise CheckpointError(f"checkpoint {tag_dir} is damaged: {error}") from error
    mismatch = first_mismatch(tag_dir, manifest) if manifest is not None else None
    if mismatch:
        raise CheckpointError(f"checkpoint {tag_dir} is damaged: {mismatch}")
    for path in sorted(tag_dir.rglob("*.pt")):
        try:
            refused = unsafe_globals(path)
        except (ValueError, RuntimeError, OSError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise CheckpointError(f"checkpoint {tag_dir} is damaged: {path.name} is unreadable ({reason})") from error
        if refused:
            raise UnsafeCheckpointError(
                f"refusing to load {path}: its pickle names {', '.join(refused)}, which no checkpoint holds "
                "(unpickling it could run code)"
            )
    if manifest is None:
        return f"warning: checkpoint {tag_dir} has no {MANIFEST_FILE} (saved before manifests existed): not verified"
    return None


def load_torch_file(path: Path, mmap: bool = False) -> Any:
    """``torch.load`` to CPU with ``weights_only=True`` and the checkpoint classes allowed (``mmap``: tensors are
    read when used); a refusal is a :class:`CheckpointError` naming the file."""
    try:
        with weights_only_loads():
            return torch.load(path, map_location="cpu", mmap=mmap, weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(f"refusing to load {path}: {refusal_reason(error)}") from error


@dataclass
class ResumePoint:
    tag: str | None
    """The newest intact checkpoint at or before ``latest``; None when there is no checkpoint."""
    notes: list[str] = field(default_factory=list)
    """What to tell the user: damaged checkpoints skipped, a checkpoint without manifest."""


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
        tag_dir = self.directory / tag
        errors: list[str] = []
        hashing = FileHasher(tag_dir)
        original_save = engine.checkpoint_engine.save

        def guarded_save(state_dict: Any, path: str) -> None:
            # Keep going through DeepSpeed's collectives after a failed write; report once all ranks are done.
            if errors:
                return
            try:
                original_save(state_dict, path)
            except OSError as error:
                errors.append(f"rank {self.rank}: writing {path}: {error}")
                return
            hashing.add(str(Path(path).relative_to(tag_dir)))  # from the page cache, while the next file is written

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
        digests: dict[str, FileDigest] = {}
        try:
            digests = hashing.digests()
        except OSError as error:
            errors.append(f"rank {self.rank}: hashing a file of {tag}: {error}")
        if not all_ranks_true(not errors):
            barrier()
            previous = self.latest()
            if self.rank == 0:
                shutil.rmtree(self.directory / tag, ignore_errors=True)
            kept = f"the previous checkpoint {previous!r} is intact" if previous else "no earlier checkpoint exists"
            detail = "; ".join(errors) if errors else "a write failed on another rank"
            raise CheckpointError(f"could not save checkpoint {tag!r} in {self.directory} ({detail}); {kept}")
        written = all_gather(digests)  # every rank reached this point without errors
        if self.rank == 0:
            try:
                self._write_manifest(tag_dir, written)
                _write_atomically(self.directory / LATEST_FILE, tag)
            except OSError as error:
                errors.append(str(error))
        if not all_ranks_true(not errors):
            raise CheckpointError(
                f"checkpoint {tag!r} was written but its {MANIFEST_FILE} or {self.directory / LATEST_FILE} could not "
                "be written "
                f"({'; '.join(errors) or 'see rank 0'}); it still names {self.latest()!r}"
            )
        if self.rank == 0:
            self._prune(keep=tag)
        barrier()
        return tag

    def resume_point(self) -> ResumePoint:
        """Where to resume: rank 0 verifies ``latest``, then older checkpoints until one is intact, and every
        rank gets its answer (a collective). No intact checkpoint at all, or an unsafe one, raises
        :class:`CheckpointError`."""
        found: ResumePoint | str = ResumePoint(None)
        if self.rank == 0:
            try:
                found = self._newest_intact()
            except CheckpointError as error:
                found = str(error)
        found = broadcast_from_main(found)
        if isinstance(found, str):
            raise CheckpointError(found)
        return found

    def load(self, engine: Any, tag: str) -> LoadedCheckpoint:
        """Restore model, optimizer and lr scheduler from ``tag`` (verified by :meth:`resume_point`) and return
        the trainer and RNG state. DeepSpeed's loads run with ``weights_only=True`` too."""
        try:
            with weights_only_loads():
                load_path, _ = engine.load_checkpoint(
                    str(self.directory), tag=tag, load_optimizer_states=True, load_lr_scheduler_states=True
                )
        except pickle.UnpicklingError as error:
            reason = refusal_reason(error)
            raise UnsafeCheckpointError(f"refusing to load checkpoint {self.directory / tag}: {reason}") from error
        if load_path is None:
            raise CheckpointError(f"DeepSpeed could not load checkpoint {tag!r} from {self.directory}")
        rng_file = self.directory / tag / RNG_DIR / f"rank-{self.rank:05d}.pt"
        rng_state = load_torch_file(rng_file) if rng_file.is_file() else None
        return LoadedCheckpoint(tag, read_trainer_state(self.directory, tag), rng_state)

    def _newest_intact(self) -> ResumePoint:
        latest = self.latest()
        if latest is None:
            return ResumePoint(None)
        older = sorted((tag for tag in self._tags() if tag < latest), reverse=True)
        damaged: list[str] = []
        for tag in [latest, *older]:
            try:
                warning = verify_checkpoint(self.directory / tag)
            except UnsafeCheckpointError:
                raise
            except CheckpointError as error:
                damaged.append(str(error))
                continue
            notes = [*damaged, f"resuming from {tag}, the newest intact checkpoint"] if damaged else []
            return ResumePoint(tag, notes + ([warning] if warning else []))
        raise CheckpointError(
            f"no intact checkpoint to resume from in {self.directory} ({'; '.join(damaged)}); move the damaged "
            "ones away, or start over with checkpoint.resume=false or another run_dir"
        )

    def _write_manifest(self, tag_dir: Path, written: list[dict[str, FileDigest]]) -> None:
        """The manifest of ``tag_dir`` from what each rank wrote; files no rank reported are hashed here."""
        digests = {name: digest for rank_digests in written for name, digest in rank_digests.items()}
        digests.update(hash_files(tag_dir, set(files_under(tag_dir)) - set(digests)))
        write_manifest(tag_dir, digests)

    def _tags(self) -> list[str]:
        return sorted(path.name for path in self.directory.iterdir() if path.is_dir() and TAG_PATTERN.match(path.name))

    def _prune(self, keep: str) -> None:
        tags = self._tags()
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
