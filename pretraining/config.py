"""The training configuration: typed sections, loaded from YAML/JSON, overridden with ``key=value``, validated.

A config file holds one training stage. Relative paths inside a file are relative to that file's directory
(so ``configs/train/*.yaml`` can name ``../deepspeed/zero2-bf16.json``); paths given as command-line
overrides are relative to the working directory. Every error names the offending field.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from pretraining.data.masking import MaskingConfig


class ConfigError(ValueError):
    """A training configuration that cannot be used; the message names the field."""


@dataclass
class DataConfig:
    corpus: str = ""
    """Corpus directory written by ``luke build-corpus`` (required)."""
    num_workers: int = 2
    """DataLoader worker processes per rank (0 = load in the training process)."""
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    """LUKE's masking options, names and defaults of its ``train.py`` (``data.masking.masked_lm_prob`` …)."""


@dataclass
class ModelConfig:
    config: str = ""
    """A `transformers.LukeConfig` JSON file (``configs/model/*.json``) (required, except with ``init: pretrained``,
    which takes the model config from ``init_from``)."""
    init: Literal["random", "roberta", "checkpoint", "pretrained"] = "random"
    """Where the initial weights come from: random, a RoBERTa model (stage 1), a run/checkpoint (stage 2), a
    Hugging Face LUKE directory (continued pretraining of a released LUKE or of an export)."""
    init_from: str = ""
    """RoBERTa name or directory (``init: roberta``), a run directory / checkpoint dir (``init: checkpoint``), or a
    Hugging Face LUKE directory (``init: pretrained``: config.json, weights, tokenizer with entity vocabulary)."""
    entity_vocab_mapping: Literal["same", "by_title"] = "same"
    """``init: checkpoint``: the run's entity vocabulary must be the corpus's (``same``), or its rows are mapped
    onto the corpus's entities by title (``by_title``, as ``init: pretrained`` always does)."""
    new_entity_init: Literal["mask", "mean", "random"] = "mask"
    """Entities mapped by title: the initial row of one the source does not know: the source's ``[MASK]``
    entity's row, the mean of its entity rows, or random."""
    train_only_entity_weights: bool = False
    """Stage 1: freeze everything but the entity embeddings and the entity prediction head."""
    vocab_sizes_from_corpus: bool = False
    """Set vocab_size / entity_vocab_size from the corpus instead of requiring the model config to match."""
    gradient_checkpointing: bool = False
    compile: bool = False
    """``torch.compile`` each encoder layer (``LukeForPretraining.compile_layers``): the same weights and losses,
    compiled at the first steps."""


@dataclass
class OptimizerConfig:
    """AdamW; LUKE's published settings are the defaults (betas 0.9/0.999, eps 1e-6, decay 0.01)."""

    lr: float = 1e-5
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-6
    weight_decay: float = 0.01
    bias_correction: bool = True
    """LUKE used Adam without bias correction (DeepSpeed FusedAdam / CPUAdam); torch.optim.AdamW needs True."""
    gradient_clipping: float = 1.0
    """Global gradient-norm clip (0 disables; LUKE's configs use 10000, i.e. effectively none)."""


@dataclass
class ScheduleConfig:
    max_steps: int = 1000
    """Optimizer steps of this stage."""
    warmup_steps: int = 0
    """Linear warmup from 0 to ``optimizer.lr``, then linear decay to 0 at ``max_steps``."""


@dataclass
class BatchConfig:
    global_batch_size: int = 2048
    """Sequences per optimizer step over all ranks (LUKE: 2048)."""
    micro_batch_size: int = 4
    """Sequences per forward pass on one rank; accumulation = global / (micro × world size)."""


@dataclass
class CheckpointConfig:
    every_steps: int = 1000
    """Save every N optimizer steps (0: only at the end and on SIGTERM/SIGINT)."""
    keep_last: int = 3
    """Checkpoints kept; older ones are deleted once a newer one is complete."""
    resume: bool = True
    """Resume from the run directory's latest checkpoint when there is one."""


@dataclass
class EvalConfig:
    every_steps: int = 1000
    """Evaluate on the validation split every N steps and at the end (0: never)."""
    max_batches: int = 0
    """Validation micro-batches per rank (0: the whole split)."""


@dataclass
class LoggingConfig:
    every_steps: int = 10
    """Write metrics every N steps."""
    tensorboard: bool = True
    progress_bar: bool = True


@dataclass
class TrainConfig:
    run_dir: str = ""
    """Output directory of this stage (required): config, metrics, TensorBoard logs, checkpoints."""
    deepspeed: str = ""
    """DeepSpeed JSON (``configs/deepspeed/*.json``): ZeRO stage, precision, offload (required)."""
    seed: int = 42
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def gradient_accumulation_steps(self, world_size: int) -> int:
        """Micro-batches per rank per optimizer step; a :class:`ConfigError` if the batch sizes do not divide."""
        per_step = self.batch.micro_batch_size * world_size
        if self.batch.global_batch_size % per_step:
            raise ConfigError(
                f"batch.global_batch_size={self.batch.global_batch_size} is not a multiple of "
                f"batch.micro_batch_size × world size = {self.batch.micro_batch_size} × {world_size} = {per_step}"
            )
        return self.batch.global_batch_size // per_step


# Fields holding paths: relative values from a file are resolved against the file's directory (run_dir is
# always relative to the working directory).
PATH_FIELDS = ("deepspeed", "data.corpus", "model.config", "model.init_from")
REQUIRED_FIELDS = ("run_dir", "deepspeed", "data.corpus")


def load_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """Read ``path`` (YAML or JSON), apply ``key=value`` overrides (dotted paths), validate."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as error:
            raise ConfigError(f"cannot read config file {path}: {error.strerror}") from error
        except yaml.YAMLError as error:
            raise ConfigError(f"config file {path} is not valid YAML/JSON: {error}") from error
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {path} must hold a mapping of sections, not {type(raw).__name__}")
        _resolve_paths(raw, path.parent)
    for override in overrides:
        _apply_override(raw, override)
    config = _build(TrainConfig, raw, "")
    validate(config)
    return config


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    for dotted in PATH_FIELDS:
        *parents, name = dotted.split(".")
        section = raw
        for parent in parents:
            section = section.get(parent) if isinstance(section, dict) else None
        if isinstance(section, dict) and isinstance(section.get(name), str) and section[name]:
            value = Path(section[name]).expanduser()
            # A named model config ("tiny") or a hub name ("roberta-large") is no path: these two fields are
            # only resolved when they exist relative to the file.
            if dotted in ("model.config", "model.init_from") and not (base / value).exists():
                continue
            section[name] = str(value if value.is_absolute() else (base / value).resolve())


def _apply_override(raw: dict[str, Any], override: str) -> None:
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {override!r} must look like key=value, e.g. optimizer.lr=1e-4")
    *parents, name = key.strip().split(".")
    section = raw
    for parent in parents:
        section = section.setdefault(parent, {})
        if not isinstance(section, dict):
            raise ConfigError(f"override {override!r}: {parent!r} is not a section")
    try:
        section[name] = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError as error:
        raise ConfigError(f"override {override!r}: cannot parse the value: {error}") from error


def _build(cls: type, raw: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "the config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping of fields, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in raw.items():
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else f" (known: {', '.join(names)})"
            raise ConfigError(f"unknown config key {prefix}{key}{hint}")
        values[key] = _coerce(hints[key], value, f"{prefix}{key}")
    try:
        return cls(**values)
    except ValueError as error:  # a section that checks its own fields (MaskingConfig)
        raise ConfigError(f"{where}: {error}") from error


def _coerce(hint: Any, value: Any, name: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, name + ".")
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"{name} must be one of {list(typing.get_args(hint))}, got {value!r}")
        return value
    if origin is tuple:
        item_types = typing.get_args(hint)
        if not isinstance(value, (list, tuple)) or len(value) != len(item_types):
            raise ConfigError(f"{name} must be a list of {len(item_types)} values, got {value!r}")
        return tuple(_coerce(t, v, f"{name}[{i}]") for i, (t, v) in enumerate(zip(item_types, value, strict=True)))
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"unsupported config type {hint} for {name}")
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):  # YAML reads 1e-5 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{name} must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {hint} for {name}")


def validate(config: TrainConfig) -> None:
    """Check values that do not depend on the world size; raise :class:`ConfigError` naming the field."""
    for dotted in REQUIRED_FIELDS:
        if not _get(config, dotted):
            raise ConfigError(f"{dotted} is required (set it in the config file or as {dotted}=...)")
    if config.model.init != "random" and not config.model.init_from:
        raise ConfigError(f"model.init_from is required when model.init is {config.model.init!r}")
    if config.model.init != "pretrained" and not config.model.config:
        raise ConfigError("model.config is required (set it in the config file or as model.config=...)")
    if config.model.init == "pretrained" and config.model.config:
        raise ConfigError(
            "model.config must be empty with model.init=pretrained, whose model config is model.init_from's "
            "(add model.config= to the overrides)"
        )
    positive = ("batch.global_batch_size", "batch.micro_batch_size", "schedule.max_steps", "logging.every_steps")
    non_negative = (
        "schedule.warmup_steps",
        "checkpoint.every_steps",
        "eval.every_steps",
        "eval.max_batches",
        "data.num_workers",
        "optimizer.weight_decay",
        "optimizer.gradient_clipping",
    )
    for dotted in positive:
        if _get(config, dotted) <= 0:
            raise ConfigError(f"{dotted} must be positive, got {_get(config, dotted)}")
    for dotted in non_negative:
        if _get(config, dotted) < 0:
            raise ConfigError(f"{dotted} must not be negative, got {_get(config, dotted)}")
    if config.checkpoint.keep_last < 1:
        raise ConfigError(f"checkpoint.keep_last must be at least 1, got {config.checkpoint.keep_last}")
    if config.batch.micro_batch_size > config.batch.global_batch_size:
        raise ConfigError(
            f"batch.micro_batch_size={config.batch.micro_batch_size} is larger than "
            f"batch.global_batch_size={config.batch.global_batch_size}"
        )
    if config.schedule.warmup_steps > config.schedule.max_steps:
        raise ConfigError(
            f"schedule.warmup_steps={config.schedule.warmup_steps} exceeds "
            f"schedule.max_steps={config.schedule.max_steps}"
        )
    if not config.optimizer.lr > 0:
        raise ConfigError(f"optimizer.lr must be positive, got {config.optimizer.lr}")
    if not all(0 <= beta < 1 for beta in config.optimizer.betas):
        raise ConfigError(f"optimizer.betas must lie in [0, 1), got {list(config.optimizer.betas)}")


def _get(config: TrainConfig, dotted: str) -> Any:
    value: Any = config
    for name in dotted.split("."):
        value = getattr(value, name)
    return value


def save_config(config: TrainConfig, path: Path) -> None:
    """Write the resolved config as JSON (loadable again with :func:`load_config`)."""
    path.write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
