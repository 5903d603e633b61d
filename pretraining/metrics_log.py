"""Where metrics go: a JSONL file (one object per record), TensorBoard scalars and a progress bar (a compact line
every few seconds when stderr is not a terminal, ``luke.progress``).

Only rank 0 writes; other ranks get a logger that does nothing, so call sites need no rank checks.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from luke.progress import progress_bar as make_progress_bar

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


class MetricsLogger:
    """Appends ``{"step": ..., "split": ..., **metrics}`` lines to ``run_dir/metrics.jsonl`` and mirrors
    them to TensorBoard under ``split/name``. A run resumed at step k first drops the records of steps after
    k (written before the interruption, and about to be recomputed), so the file stays one history."""

    def __init__(
        self, run_dir: Path, enabled: bool, tensorboard: bool, progress_bar: bool, total_steps: int, initial_step: int
    ) -> None:
        self.enabled = enabled
        self._file = None
        self._writer = None
        self._bar = None
        if not enabled:
            return
        _truncate_after(run_dir / METRICS_FILE, initial_step)
        self._file = (run_dir / METRICS_FILE).open("a", encoding="utf-8")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(run_dir / TENSORBOARD_DIR), purge_step=initial_step + 1)
        if progress_bar:
            self._bar = make_progress_bar("train", total_steps, "step", initial_step, dynamic_ncols=True)

    def log(self, step: int, split: str, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        record = {"step": step, "split": split, "time": round(time.time(), 3)}
        record.update({name: _json_number(value) for name, value in metrics.items()})
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._writer is not None:
            for name, value in metrics.items():
                self._writer.add_scalar(f"{split}/{name}", value, step)
        if self._bar is not None and split == "validation":
            self._bar.write(f"step {step} validation: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))

    def progress(self, step: int, metrics: dict[str, float]) -> None:
        """Advance the progress bar to ``step`` and show the key figures."""
        if self._bar is None:
            return
        self._bar.set_postfix(
            loss=f"{metrics['loss']:.4f}",
            lr=f"{metrics['lr']:.2e}",
            tokens_per_s=f"{metrics['tokens_per_s']:.0f}",
            samples_per_s=f"{metrics['samples_per_s']:.1f}",
            refresh=False,
        )
        self._bar.update(step - self._bar.n)

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()


def _json_number(value: float) -> float | str:
    value = float(value)
    return value if math.isfinite(value) else str(value)


def _truncate_after(path: Path, step: int) -> None:
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines() if _record_step(line) <= step]
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    temporary.replace(path)


def _record_step(line: str) -> float:
    try:
        return json.loads(line)["step"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return math.inf  # a torn last line of a killed run


def read_metrics(run_dir: Path, split: str | None = None) -> list[dict[str, Any]]:
    """The records of ``run_dir/metrics.jsonl`` (optionally of one split), in file order."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in records if split is None or r["split"] == split]
