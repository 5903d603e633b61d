"""What ``luke inspect run`` reads from a run directory: the metric series of ``metrics.jsonl``, the starts of
``starts.jsonl`` (resumes, and what the config changed at each), the config, run info and corpus metadata.

File names are those of ``pretraining.run_dir`` and ``pretraining.metrics_log`` (spelt out here, since
importing ``pretraining.run_dir`` loads transformers; a test keeps them equal).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from luke.inspection.page import flatten

METRICS_FILE = "metrics.jsonl"
STARTS_FILE = "starts.jsonl"
CONFIG_FILE = "config.json"
RUN_INFO_FILE = "run_info.json"
CORPUS_METADATA_FILE = "corpus_metadata.json"
CHECKPOINTS_DIR = "checkpoints"
SPLITS = ("train", "validation")
METRICS = (
    "loss",
    "mlm_loss",
    "mep_loss",
    "mlm_accuracy",
    "mep_accuracy",
    "mlm_unigram_loss",
    "mlm_bigram_loss",
    "mep_unigram_loss",
    "lr",
    "tokens_per_s",
    "samples_per_s",
)


class RunError(ValueError):
    """A run directory that cannot be reported on (the message names the path)."""


@dataclass(frozen=True)
class Start:
    """One start of ``luke train`` in the run directory."""

    step: int
    time: str
    resumed_from: str | None
    world_size: int | None
    config: dict[str, Any]


@dataclass(frozen=True)
class ConfigChange:
    """Settings that differ between a start and the one before it: ``(key, before, after)``."""

    step: int
    changes: list[tuple[str, Any, Any]]


@dataclass
class Run:
    path: Path
    name: str
    series: dict[str, dict[str, np.ndarray]]  # split → {"step": ..., metric: ...}, NaN where a record lacks it
    config: dict[str, Any]
    info: dict[str, Any]
    corpus_metadata: dict[str, Any]
    starts: list[Start] | None  # None: the run has no starts.jsonl (written before it existed)
    checkpoints: list[str]
    skipped_lines: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def resumes(self) -> list[Start]:
        return [start for start in self.starts or [] if start.step > 0 or start.resumed_from]

    @property
    def config_changes(self) -> list[ConfigChange]:
        changes = []
        starts = self.starts or []
        for before, after in itertools.pairwise(starts):
            old, new = flatten(before.config), flatten(after.config)
            differing = [(key, old.get(key), new.get(key)) for key in sorted(old.keys() | new.keys())]
            differing = [change for change in differing if change[1] != change[2]]
            if differing:
                changes.append(ConfigChange(after.step, differing))
        return changes

    def latest(self, split: str) -> dict[str, float]:
        """The last record of ``split`` (its step and metrics); empty when there is none."""
        values = self.series.get(split)
        if values is None or not len(values["step"]):
            return {}
        return {name: float(array[-1]) for name, array in values.items()}


def read_run(path: Path) -> Run:
    """Read the run directory ``path``; a :class:`RunError` naming it when it is not one or has no metrics."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"run directory {path} does not exist")
    metrics_file = path / METRICS_FILE
    if not metrics_file.is_file():
        raise RunError(f"{path} is not a run directory with metrics: {METRICS_FILE} is missing")
    records, skipped = _read_jsonl(metrics_file)
    if not records:
        raise RunError(f"{metrics_file} holds no metrics yet")
    starts = None
    if (path / STARTS_FILE).is_file():
        start_records, _ = _read_jsonl(path / STARTS_FILE)
        starts = [
            Start(
                int(r["step"]), str(r.get("time", "")), r.get("resumed_from"), r.get("world_size"), r.get("config", {})
            )
            for r in start_records
            if "step" in r
        ]
    run = Run(
        path=path,
        name=path.name,
        series={split: _series([r for r in records if r.get("split") == split]) for split in SPLITS},
        config=_read_json(path / CONFIG_FILE),
        info=_read_json(path / RUN_INFO_FILE),
        corpus_metadata=_read_json(path / CORPUS_METADATA_FILE),
        starts=starts,
        checkpoints=sorted(p.name for p in (path / CHECKPOINTS_DIR).glob("step-*") if p.is_dir()),
        skipped_lines=skipped,
    )
    if skipped:
        run.notes.append(f"{skipped} unreadable line(s) of {METRICS_FILE} skipped (a torn last line of a killed run)")
    if starts is None:
        run.notes.append(f"no {STARTS_FILE}: resumes and config changes were not recorded by this run")
    return run


def name_runs(runs: list[Run]) -> None:
    """Give runs distinct display names: the directory name, with parents added where names repeat."""
    for depth in range(1, 6):
        names = [str(Path(*run.path.resolve().parts[-depth:])) for run in runs]
        if len(set(names)) == len(names):
            break
    for run, name in zip(runs, names, strict=True):
        run.name = name


def _series(records: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    names = ["step", *(name for name in METRICS if any(name in r for r in records))]
    names += sorted({key for r in records for key in r} - set(names) - {"split", "time"})
    return {name: np.array([_number(r.get(name)) for r in records], dtype=np.float64) for name in names}


def _number(value: Any) -> float:
    try:
        return float(value)  # metrics_log writes non-finite values as "nan", "inf"
    except (TypeError, ValueError):
        return math.nan


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    records, skipped = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            skipped += 1
    return records, skipped


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}
