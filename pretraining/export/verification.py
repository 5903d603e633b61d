"""Built-in check of an export: the saved directory, loaded by plain transformers, computes what our model
computes on a validation batch.

Our ``LukeForPretraining`` runs on the consolidated checkpoint weights, rounded through the export dtype
(so that a bf16 export is compared with the same bf16 weights, and the tolerance measures the conversion,
not the precision); the exported directory is loaded offline with ``AutoModelForMaskedLM``. Both run in
fp32 on the same batch, and the word and entity hidden states and logits must agree within a tolerance.
Exported vocabulary rows are compared with the rows they were made from (``word_sources``, ``source_ids``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from pretraining.data.masking import ENTITY_MASK_ID
from pretraining.export import DEFAULT_TOLERANCE
from pretraining.export.tokenizer import EntityVocabMapping


class VerificationError(ValueError):
    """The exported model disagrees with ours (the message gives the largest difference and where)."""


@dataclass(frozen=True)
class VerificationReport:
    """Largest absolute difference per compared output, and the size of the batch compared."""

    max_abs_diff: dict[str, float]
    sequences: int
    words: int
    entities: int

    @property
    def worst(self) -> tuple[str, float]:
        return max(self.max_abs_diff.items(), key=lambda item: item[1])


def _masked_max(difference: torch.Tensor, mask: torch.Tensor) -> float:
    selected = difference[mask.bool()]
    return float(selected.max()) if selected.numel() else 0.0


def exported_entity_ids(entity_ids: torch.Tensor, mapping: EntityVocabMapping) -> tuple[torch.Tensor, torch.Tensor]:
    """(our ids, exported ids) of a batch's entities: ids the export dropped (lite) become [MASK] in both."""
    new_id = {source: index for index, source in reversed(list(enumerate(mapping.source_ids)))}
    ours = entity_ids.clone()
    kept = torch.tensor([[int(i) in new_id for i in row] for row in entity_ids.tolist()], dtype=torch.bool)
    ours[~kept] = ENTITY_MASK_ID
    exported = ours.clone().apply_(lambda i: new_id[i])
    return ours, exported


@torch.no_grad()
def verify_export(
    directory: Path,
    our_model: torch.nn.Module,
    batch: Mapping[str, torch.Tensor],
    word_sources: list[int],
    mapping: EntityVocabMapping,
    tolerance: float = DEFAULT_TOLERANCE,
) -> VerificationReport:
    """Load ``directory`` offline with ``AutoModelForMaskedLM`` and compare it with ``our_model`` (a
    ``LukeForPretraining`` in eval mode) on ``batch`` (the collator's fields). Raises
    :class:`VerificationError` when a difference exceeds ``tolerance``."""
    from transformers import AutoModelForMaskedLM

    exported, loading = AutoModelForMaskedLM.from_pretrained(
        str(directory), local_files_only=True, dtype=torch.float32, output_loading_info=True
    )
    problems = {kind: keys for kind, keys in loading.items() if keys and kind != "error_msgs"}
    if problems:
        raise VerificationError(f"{directory} does not load cleanly into {type(exported).__name__}: {problems}")
    exported.eval()
    our_entities, their_entities = exported_entity_ids(batch["entity_ids"], mapping)
    word_states, entity_states = our_model.encode(
        batch["word_ids"],
        batch["word_attention_mask"],
        batch["word_segment_ids"],
        our_entities,
        batch["entity_position_ids"],
        batch["entity_attention_mask"],
        batch["entity_segment_ids"],
    )
    output = exported(
        input_ids=batch["word_ids"],
        attention_mask=batch["word_attention_mask"],
        token_type_ids=batch["word_segment_ids"],
        entity_ids=their_entities,
        entity_attention_mask=batch["entity_attention_mask"],
        entity_token_type_ids=batch["entity_segment_ids"],
        entity_position_ids=batch["entity_position_ids"],
        output_hidden_states=True,
    )
    word_mask, entity_mask = batch["word_attention_mask"], batch["entity_attention_mask"]
    ours_word_logits = our_model.lm_head(word_states)[..., word_sources]
    ours_entity_logits = our_model.entity_predictions(entity_states)[..., mapping.source_ids]
    differences = {
        "word hidden states": ((output.hidden_states[-1] - word_states).abs().amax(-1), word_mask),
        "entity hidden states": ((output.entity_hidden_states[-1] - entity_states).abs().amax(-1), entity_mask),
        "word logits": ((output.logits - ours_word_logits).abs().amax(-1), word_mask),
        "entity logits": ((output.entity_logits - ours_entity_logits).abs().amax(-1), entity_mask),
    }
    report = VerificationReport(
        {name: _masked_max(difference, mask) for name, (difference, mask) in differences.items()},
        sequences=int(word_mask.shape[0]),
        words=int(word_mask.sum()),
        entities=int(entity_mask.sum()),
    )
    name, worst = report.worst
    if not worst <= tolerance:
        raise VerificationError(
            f"the exported model in {directory} disagrees with ours on a validation batch: max |difference| of "
            f"{name} is {worst:.3g} > tolerance {tolerance:g} (all: "
            + ", ".join(f"{key} {value:.3g}" for key, value in report.max_abs_diff.items())
            + ")"
        )
    return report
