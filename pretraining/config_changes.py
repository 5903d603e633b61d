"""What a resumed run may change: its settings now against those its run directory recorded, field by field.

Each field is *fixed* (the checkpoint, the data order or the model depend on it: refused), *adjustable* (applied
from the resume step on and recorded) or *guarded* (it changes the optimization in ways not checked here:
refused unless ``luke train --allow-config-change``, then applied and recorded like an adjustable one).
Locations (``run_dir``, ``data.corpus``, ``model.config``, ``deepspeed``) may move; what they hold is compared
instead: the corpus's metadata and vocabulary checksums, the resolved model config, the DeepSpeed config.
docs/STAGES.md ("Changing the config of a run") has the table.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal

from pretraining.config import ConfigError, TrainConfig
from pretraining.engine import OWNED_KEYS

Kind = Literal["fixed", "adjustable", "guarded"]

# The kind of a field is that of its longest prefix listed here.
FIELD_KINDS: dict[str, Kind] = {
    "run_dir": "adjustable",
    "deepspeed": "adjustable",  # the file's location; its content is compared as deepspeed.*
    "seed": "fixed",
    "data.corpus": "adjustable",  # the location; the corpus itself is compared
    "data.num_workers": "adjustable",
    "data.masking": "fixed",
    "model": "fixed",
    "model.config": "adjustable",  # the file's location; the resolved model config is compared as model.config.*
    "model.gradient_checkpointing": "adjustable",
    "model.compile": "adjustable",  # how the layers run, not what they compute
    "optimizer": "guarded",
    "schedule.max_steps": "adjustable",
    "schedule.warmup_steps": "guarded",
    "batch": "fixed",
    "checkpoint": "adjustable",
    "eval": "adjustable",
    "logging": "adjustable",
}
# DeepSpeed settings that decide the checkpoint's layout (with their defaults); any other key is guarded, except
# those the training config sets (OWNED_KEYS: batch sizes, clipping), compared as its fields.
DEEPSPEED_FIXED = {"zero_optimization.stage": 0, "bf16.enabled": False, "fp16.enabled": False}
# Recorded by transformers, not a setting of the model.
MODEL_CONFIG_IGNORED = ("transformers_version",)


@dataclass
class RunSettings:
    """What one start of a run trains with: recorded in its run directory, or resolved now."""

    config: dict[str, Any]
    """``TrainConfig.to_dict()`` as JSON gives it back (tuples as lists)."""
    model_config: dict[str, Any]
    """The resolved ``LukeConfig.to_dict()``."""
    deepspeed: dict[str, Any] | None
    """The DeepSpeed config as run; None for runs that did not record it."""
    corpus_metadata: dict[str, Any]
    """The corpus's ``metadata.json``: with the checksums, its identity wherever it lies."""
    vocabulary_checksums: dict[str, str]
    """``pretraining.vocabularies.corpus_checksums``; empty for runs that did not record them."""

    @classmethod
    def resolved(
        cls,
        config: TrainConfig,
        model_config: dict[str, Any],
        deepspeed: dict[str, Any],
        corpus_metadata: dict[str, Any],
        vocabulary_checksums: dict[str, str],
    ) -> RunSettings:
        as_json = json.loads(json.dumps(config.to_dict()))
        return cls(as_json, model_config, deepspeed, corpus_metadata, vocabulary_checksums)


@dataclass(frozen=True)
class ConfigChange:
    field: str
    old: Any
    new: Any
    kind: Kind

    def __str__(self) -> str:
        return f"{self.field}: {_show(self.old)} → {_show(self.new)}"

    def to_record(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new, "kind": self.kind}


def field_kind(dotted: str) -> Kind:
    """The kind of a config field (``optimizer.lr``); fields of no listed prefix are guarded."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        kind = FIELD_KINDS.get(".".join(parts[:end]))
        if kind is not None:
            return kind
    return "guarded"


def config_changes(recorded: RunSettings, current: RunSettings) -> list[ConfigChange]:
    """Every difference between the recorded settings of a run and those of this start, with its kind."""
    changes = [
        ConfigChange(name, old, new, field_kind(name))
        for name, old, new in _differences(flatten(recorded.config), flatten(current.config))
    ]
    if recorded.deepspeed is None:  # nothing to compare the file's content with: its location is guarded
        changes = [
            dataclasses.replace(change, kind="guarded") if change.field == "deepspeed" else change for change in changes
        ]
    else:
        changes += _deepspeed_changes(recorded.deepspeed, current.deepspeed or {})
    changes += [
        ConfigChange(f"model.config.{name}", old, new, "fixed")
        for name, old, new in _differences(recorded.model_config, current.model_config)
        if name not in MODEL_CONFIG_IGNORED
    ]
    differing = _differences(recorded.corpus_metadata, current.corpus_metadata)
    if recorded.vocabulary_checksums:
        differing += _differences(recorded.vocabulary_checksums, current.vocabulary_checksums)
    if differing:
        changes.append(
            ConfigChange(
                f"data.corpus (another corpus: {', '.join(name for name, _, _ in differing)} differ)",
                recorded.config["data"]["corpus"],
                current.config["data"]["corpus"],
                "fixed",
            )
        )
    return changes


def check_changes(changes: list[ConfigChange], allow_config_change: bool) -> None:
    """Refuse fixed changes, and guarded ones unless allowed: a :class:`ConfigError` of one line listing them."""
    fixed = [change for change in changes if change.kind == "fixed"]
    if fixed:
        raise ConfigError(
            f"cannot resume with changed settings ({_listing(fixed)}): the checkpoint was trained with the old "
            "values; use another run_dir to train with the new ones (or checkpoint.resume=false to start over)"
        )
    guarded = [change for change in changes if change.kind == "guarded"]
    if guarded and not allow_config_change:
        raise ConfigError(
            f"resuming with changed settings ({_listing(guarded)}) needs --allow-config-change, which applies them "
            "from the resume step on (schedule.max_steps, checkpoint.*, eval.* and logging.* need no flag)"
        )


def check_resume_step(config: TrainConfig, step: int) -> None:
    """Refuse a ``schedule.max_steps`` below the step the run resumes from."""
    if config.schedule.max_steps < step:
        raise ConfigError(
            f"schedule.max_steps={config.schedule.max_steps} is below step {step}, where the run resumes: it cannot "
            "end before it starts"
        )


def flatten(section: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for name, value in section.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _deepspeed_changes(recorded: dict[str, Any], current: dict[str, Any]) -> list[ConfigChange]:
    old, new = ({**DEEPSPEED_FIXED, **flatten(ds)} for ds in (recorded, current))
    return [
        ConfigChange(f"deepspeed.{name}", before, after, "fixed" if name in DEEPSPEED_FIXED else "guarded")
        for name, before, after in _differences(old, new)
        if name.split(".")[0] not in OWNED_KEYS
    ]


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(name, old.get(name), new.get(name)) for name in sorted(old | new) if old.get(name) != new.get(name)]


def _listing(changes: list[ConfigChange]) -> str:
    return "; ".join(str(change) for change in changes)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
