"""Initialise a LUKE model from a RoBERTa / XLM-R masked-LM checkpoint (any ``RobertaForMaskedLM``-style one)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

ENTITY_AWARE_QUERIES = ("w2e_query", "e2w_query", "e2e_query")


@dataclass
class RobertaInitReport:
    """What initialisation from a checkpoint did to each parameter of the model."""

    source: str
    copied: list[str] = field(default_factory=list)
    resized: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"{len(self.copied)} tensors copied, "
            f"{len(self.derived)} derived from the word query, {len(self.missing_keys)} freshly initialised, "
            f"{len(self.unexpected_keys)} checkpoint tensors unused"
        ]
        sections = (
            ("resized (rows copied where both tables have them)", self.resized),
            ("freshly initialised (missing from the checkpoint)", self.missing_keys),
            ("unused (unexpected in the checkpoint)", self.unexpected_keys),
        )
        for title, names in sections:
            if names:
                lines.append(f"  {title}:")
                lines.extend(f"    {name}" for name in names)
        return "\n".join(lines)


def load_masked_lm_state_dict(name_or_path: str) -> tuple[dict[str, torch.Tensor], str]:
    """The float32 state dict of a masked-LM checkpoint and its base-model prefix (``roberta`` for RoBERTa and
    XLM-R)."""
    from transformers import AutoModelForMaskedLM

    try:
        source = AutoModelForMaskedLM.from_pretrained(name_or_path, dtype=torch.float32)
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot load a masked-LM checkpoint from {name_or_path!r}: {error}") from error
    return source.state_dict(), source.base_model_prefix


def initialize_from_roberta(model: nn.Module, name_or_path: str) -> RobertaInitReport:
    """Copy embeddings, encoder and LM head of the checkpoint into ``model`` (a ``LukeForPretraining``), set the
    entity-aware queries (if any) to the word query of their layer, keep the fresh initialisation of the entity
    embeddings and the entity head. A table whose first dimension differs (vocabulary grown by special tokens,
    segment or position table sizes) gets the rows both have; any other shape difference is an error.
    """
    source_state, prefix = load_masked_lm_state_dict(name_or_path)
    report = RobertaInitReport(source=str(name_or_path))
    target_state = model.state_dict()
    filled: set[str] = set()
    with torch.no_grad():
        for source_key, source_value in source_state.items():
            key = f"luke.{source_key[len(prefix) + 1 :]}" if source_key.startswith(f"{prefix}.") else source_key
            if key not in target_state:
                report.unexpected_keys.append(source_key)
                continue
            _copy_tensor(target_state[key], source_value, key, report)
            filled.add(key)
        for key in list(filled):
            if ".attention.self.query." not in key:
                continue
            for name in ENTITY_AWARE_QUERIES:
                derived = key.replace(".query.", f".{name}.")
                if derived in target_state:
                    target_state[derived].copy_(target_state[key])
                    report.derived.append(derived)
                    filled.add(derived)
    for tied, source in model.tied_weights.items():
        if tied in filled or source in filled:
            filled.update((tied, source))
    report.missing_keys = [key for key in target_state if key not in filled]
    return report


def _copy_tensor(target: torch.Tensor, source: torch.Tensor, key: str, report: RobertaInitReport) -> None:
    if target.shape == source.shape:
        target.copy_(source)
        report.copied.append(key)
        return
    if target.dim() != source.dim() or target.shape[1:] != source.shape[1:]:
        raise ValueError(
            f"cannot initialise {key} of shape {tuple(target.shape)} from a checkpoint tensor of shape "
            f"{tuple(source.shape)}: the model config does not match the checkpoint (hidden size, layers, heads?)"
        )
    rows = min(target.shape[0], source.shape[0])
    target[:rows].copy_(source[:rows])
    report.copied.append(key)
    report.resized.append(f"{key}: {tuple(source.shape)} → {tuple(target.shape)}")
