"""The training loop: micro-batches → DeepSpeed steps, with logging, evaluation, checkpoints and preemption.

Every rank runs the same loop; all decisions (stop, save, abort on a non-finite loss) come from values
reduced over ranks, so no rank waits in a collective that another one skipped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from pretraining.checkpoint import CheckpointError, CheckpointManager, LoadedCheckpoint
from pretraining.config import TrainConfig
from pretraining.evaluation import common_batch_count, evaluate
from pretraining.metrics_log import MetricsLogger
from pretraining.preemption import PreemptionHandler
from pretraining.references import ReferenceModels
from pretraining.rng import rng_state, set_rng_state
from pretraining.step_metrics import REFERENCE_FIELDS, StepMetrics


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; nothing was saved after it."""


@dataclass
class TrainResult:
    step: int
    preempted: bool
    last_checkpoint: str | None
    last_validation: dict[str, float] | None


class Trainer:
    """Runs one stage from ``start_step`` (0, or the step of the checkpoint it resumed from) to
    ``schedule.max_steps``, or until a stop signal (``pretraining.preemption``)."""

    def __init__(
        self,
        config: TrainConfig,
        engine: Any,
        train_loader: Any,
        validation_loader: Any | None,
        checkpoints: CheckpointManager,
        logger: MetricsLogger,
        accumulation_steps: int,
        preemption: PreemptionHandler,
        resumed: LoadedCheckpoint | None = None,
        references: ReferenceModels | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.train_loader = train_loader
        self.validation_loader = validation_loader
        self.checkpoints = checkpoints
        self.logger = logger
        self.accumulation_steps = accumulation_steps
        self.preemption = preemption
        self.references = references
        self.step = 0
        self._batches: Iterator[dict[str, torch.Tensor]] | None = None
        self._pending_rng: dict[str, Any] | None = None
        if resumed is not None:
            self.step = resumed.trainer_state["step"]
            try:
                self.train_loader.load_state_dict(resumed.trainer_state["data"])
            except ValueError as error:
                raise CheckpointError(f"cannot resume from checkpoint {resumed.tag}: {error}") from error
            self._pending_rng = resumed.rng_state

    # ------------------------------------------------------------------------------------------ state
    def trainer_state(self) -> dict[str, Any]:
        return {"step": self.step, "data": self.train_loader.state_dict()}

    def _save(self) -> str:
        return self.checkpoints.save(self.engine, self.step, self.trainer_state(), rng_state())

    # ------------------------------------------------------------------------------------------ data
    def _next_batch(self) -> dict[str, torch.Tensor]:
        while True:
            if self._batches is None:
                self._batches = iter(self.train_loader)
            try:
                batch = next(self._batches)
            except StopIteration:  # end of an epoch: the loader continues with the next one
                self._batches = None
                continue
            if self._pending_rng is not None:
                # Only now: starting an iterator (which happens on its first batch) draws from the generators.
                set_rng_state(self._pending_rng)
                self._pending_rng = None
            return {name: tensor.to(self.engine.device, non_blocking=True) for name, tensor in batch.items()}

    # ------------------------------------------------------------------------------------------ loop
    def train_step(self, stop_requested: bool) -> dict[str, float]:
        """One optimizer step (``accumulation_steps`` micro-batches); metrics reduced over all ranks."""
        metrics = StepMetrics(self.engine.device)
        lr = self.engine.get_lr()[0]  # the rate of this step (the scheduler moves on inside engine.step)
        for _ in range(self.accumulation_steps):
            batch = self._next_batch()
            output = self.engine(**batch)
            self.engine.backward(output.loss)
            self.engine.step()
            metrics.add(output, batch)
        if stop_requested:
            metrics.set_flag()
        self.step += 1
        return {**metrics.reduce(), "lr": lr}

    def validate(self) -> dict[str, float] | None:
        if self.validation_loader is None:
            return None
        limit = len(self.validation_loader)
        if self.config.eval.max_batches:
            limit = min(limit, self.config.eval.max_batches)
        reduced = evaluate(self.engine, self.validation_loader, common_batch_count(limit), self.references)
        names = ("loss", "mlm_loss", "mlm_accuracy", "mep_loss", "mep_accuracy", *REFERENCE_FIELDS)
        result = {name: reduced[name] for name in names if name in reduced}
        result["samples"] = reduced["samples"]
        self.logger.log(self.step, "validation", result)
        return result

    def fit(self) -> TrainResult:
        options = self.config
        last_checkpoint = self.checkpoints.latest()
        last_validation = None
        preempted = False
        window_start, window_samples, window_tokens = time.perf_counter(), 0.0, 0.0
        self.preemption.loop_started()
        if self.step == 0 and options.eval.every_steps:
            last_validation = self.validate()  # the starting point, for comparison
        while self.step < options.schedule.max_steps:
            metrics = self.train_step(stop_requested=self.preemption.requested)
            if not math.isfinite(metrics["loss"]):
                raise NonFiniteLossError(
                    f"the training loss is {metrics['loss']} at step {self.step} (mlm_loss {metrics['mlm_loss']}, "
                    f"mep_loss {metrics['mep_loss']}); stopped without saving: the last checkpoint "
                    f"{last_checkpoint!r} is intact. Lower optimizer.lr, raise schedule.warmup_steps, or use bf16 "
                    "instead of fp16"
                )
            window_samples += metrics["samples"]
            window_tokens += metrics["word_tokens"]
            if self.step % options.logging.every_steps == 0 or self.step == options.schedule.max_steps:
                elapsed = time.perf_counter() - window_start
                logged = {
                    "loss": metrics["loss"],
                    "mlm_loss": metrics["mlm_loss"],
                    "mlm_accuracy": metrics["mlm_accuracy"],
                    "mep_loss": metrics["mep_loss"],
                    "mep_accuracy": metrics["mep_accuracy"],
                    "lr": metrics["lr"],
                    "samples_per_s": window_samples / elapsed,
                    "tokens_per_s": window_tokens / elapsed,
                }
                self.logger.log(self.step, "train", logged)
                self.logger.progress(self.step, logged)
                window_start, window_samples, window_tokens = time.perf_counter(), 0.0, 0.0
            finished = self.step == options.schedule.max_steps
            if options.eval.every_steps and (self.step % options.eval.every_steps == 0 or finished):
                last_validation = self.validate()
            preempted = metrics["flag"] > 0
            every = options.checkpoint.every_steps
            if finished or preempted or (every and self.step % every == 0):
                last_checkpoint = self._save()
                self.logger.message(f"saved checkpoint {last_checkpoint}")
            if preempted:
                self.logger.message(f"stopped at step {self.step} on request; resume with the same command")
                break
        return TrainResult(self.step, preempted, last_checkpoint, last_validation)
