"""Named model sizes (``configs/model/*.json``) loaded as ``transformers.LukeConfig``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import LukeConfig

MODEL_CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "model"


def available_model_configs() -> list[str]:
    """Names of the model configurations shipped in ``configs/model/``."""
    return sorted(path.stem for path in MODEL_CONFIG_DIR.glob("*.json"))


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "config.json"
    if path.is_file():
        return path
    named = MODEL_CONFIG_DIR / f"{name_or_path}.json"
    if named.is_file():
        return named
    raise ValueError(
        f"unknown model config {str(name_or_path)!r}: not a JSON file, not a directory with config.json, "
        f"and not one of the named configs {available_model_configs()} in {MODEL_CONFIG_DIR}"
    )


def load_model_config(name_or_path: str | Path, **overrides: Any) -> LukeConfig:
    """The ``LukeConfig`` named ``name_or_path`` (``luke-large``, ``luke-base``, ``tiny``), or read from a JSON
    file / Hugging Face directory, with ``overrides`` (e.g. ``vocab_size``, ``entity_vocab_size``,
    ``pad_token_id``: the corpus decides those) applied on top."""
    path = _resolve(name_or_path)
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"model config {path} is not valid JSON: {error}") from error
    known = LukeConfig().to_dict()
    for where, names in ((f"model config {path}", fields), (f"the overrides of model config {path}", overrides)):
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ValueError(f"unknown LukeConfig field(s) {unknown} in {where}")
    fields.update(overrides)
    config = LukeConfig(**fields)
    if config.hidden_size % config.num_attention_heads:
        raise ValueError(
            f"model config {path}: hidden_size {config.hidden_size} is not a multiple of "
            f"num_attention_heads {config.num_attention_heads}"
        )
    return config
