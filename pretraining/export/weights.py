"""Our pretraining weights → the weights of the exported ``LukeForMaskedLM``.

The parameter names are already transformers' (DESIGN.md); what changes is the vocabulary sizes and the
attention flavour, the way the official LUKE/mLUKE converters change them:

- word tokens the LUKE tokenizer adds (``<ent>``, ``<ent2>``) get embedding rows and LM biases copied from
  symbol pieces (``@`` and ``#`` where the vocabulary has them: :mod:`pretraining.export.markers`); markers the
  corpus tokenizer already holds (a corpus built with an export's tokenizer) keep their trained rows;
- entity rows are selected (``lite`` keeps the special entities only) and ``[MASK2]`` is appended, a
  copy of ``[MASK]``, in both the entity embeddings and the entity-prediction bias;
- with entity-aware attention on, a model trained without it gets its ``w2e``/``e2w``/``e2e`` queries
  copied from the word query (then the attention computes exactly what it did in training); off, those
  matrices are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from pretraining.export.tokenizer import EntityVocabMapping

ENTITY_AWARE_QUERIES = ("w2e_query", "e2w_query", "e2e_query")
WORD_EMBEDDINGS = "luke.embeddings.word_embeddings.weight"
WORD_ROWS = (WORD_EMBEDDINGS, "lm_head.decoder.weight", "lm_head.bias", "lm_head.decoder.bias")
ENTITY_EMBEDDINGS = "luke.entity_embeddings.entity_embeddings.weight"
ENTITY_ROWS = (ENTITY_EMBEDDINGS, "entity_predictions.decoder.weight", "entity_predictions.bias")


def _select_rows(tensor: torch.Tensor, rows: list[int]) -> torch.Tensor:
    return tensor.index_select(0, torch.tensor(rows, dtype=torch.long))


def word_row_sources(vocab_size: int, added_rows: Mapping[int, int]) -> list[int]:
    """Source row of each row of the exported word vocabulary: itself for ids below ``vocab_size`` that were not
    added, ``added_rows[id]`` for an added id (which may lie beyond ``vocab_size``)."""
    sources = list(range(max(vocab_size, max(added_rows, default=-1) + 1)))
    for index, row in added_rows.items():
        sources[index] = row
    return sources


def adapt_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    num_hidden_layers: int,
    word_sources: list[int],
    entity: EntityVocabMapping,
    entity_aware_attention: bool,
) -> dict[str, torch.Tensor]:
    """The state dict of the exported model (see the module docstring); the input is not modified."""
    adapted = dict(state_dict)
    for name in WORD_ROWS:
        if name in adapted:
            adapted[name] = _select_rows(adapted[name], word_sources)
    for name in ENTITY_ROWS:
        if name in adapted:
            adapted[name] = _select_rows(adapted[name], entity.source_ids)
    for layer in range(num_hidden_layers):
        prefix = f"luke.encoder.layer.{layer}.attention.self."
        for query in ENTITY_AWARE_QUERIES:
            for kind in ("weight", "bias"):
                name = f"{prefix}{query}.{kind}"
                if not entity_aware_attention:
                    adapted.pop(name, None)
                elif name not in adapted:
                    adapted[name] = adapted[f"{prefix}query.{kind}"].clone()
    return adapted
