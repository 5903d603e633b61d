"""Random batches in the model's batch contract (docs/CONTRACTS.md, "Batch"), for tests and benchmarks."""

from __future__ import annotations

import torch
from transformers import LukeConfig


def random_batch(
    config: LukeConfig,
    generator: torch.Generator,
    batch_size: int = 3,
    num_words: int = 24,
    num_entities: int = 6,
    max_mention_length: int = 4,
    label_fraction: float = 0.3,
    padded: bool = True,
) -> dict[str, torch.Tensor]:
    """A batch of random ids with mentions of 1..max_mention_length tokens inside the real words and labels at a
    random ``label_fraction`` of the real positions (−100 elsewhere). With ``padded``, the rows have different
    numbers of real words and entities (row 1 none) and the rest is padding; otherwise every row is full."""
    pad = config.pad_token_id

    def randint(low: int, high: int, size: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(low, high, size, generator=generator)

    word_lengths = [num_words] * batch_size
    entity_lengths = [num_entities] * batch_size
    if padded:
        word_lengths[1:] = randint(num_words // 2, num_words, (batch_size - 1,)).tolist()
        entity_lengths[1:] = [0, *randint(1, num_entities, (batch_size - 2,)).tolist()]
    word_ids = randint(0, config.vocab_size, (batch_size, num_words))
    word_ids[word_ids == pad] = pad + 1
    word_attention_mask = torch.zeros(batch_size, num_words, dtype=torch.long)
    entity_ids = randint(1, config.entity_vocab_size, (batch_size, num_entities))
    entity_attention_mask = torch.zeros(batch_size, num_entities, dtype=torch.long)
    entity_position_ids = torch.full((batch_size, num_entities, max_mention_length), -1)
    for row, (words, entities) in enumerate(zip(word_lengths, entity_lengths, strict=True)):
        word_ids[row, words:] = pad
        word_attention_mask[row, :words] = 1
        entity_ids[row, entities:] = 0
        entity_attention_mask[row, :entities] = 1
        for entity in range(entities):
            length = int(randint(1, max_mention_length + 1, ()))
            start = int(randint(0, words - length + 1, ()))
            entity_position_ids[row, entity, :length] = torch.arange(start, start + length)

    def labels(mask: torch.Tensor, vocab_size: int) -> torch.Tensor:
        chosen = mask.bool() & (torch.rand(mask.shape, generator=generator) < label_fraction)
        return torch.where(chosen, randint(0, vocab_size, mask.shape), torch.full_like(mask, -100))

    return {
        "word_ids": word_ids,
        "word_attention_mask": word_attention_mask,
        "word_segment_ids": randint(0, config.type_vocab_size, (batch_size, num_words)),
        "entity_ids": entity_ids,
        "entity_position_ids": entity_position_ids,
        "entity_attention_mask": entity_attention_mask,
        "entity_segment_ids": randint(0, config.type_vocab_size, (batch_size, num_entities)),
        "masked_lm_labels": labels(word_attention_mask, config.vocab_size),
        "masked_entity_labels": labels(entity_attention_mask, config.entity_vocab_size),
    }


def transformers_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same batch under ``transformers.LukeForMaskedLM``'s argument names."""
    names = {
        "word_ids": "input_ids",
        "word_attention_mask": "attention_mask",
        "word_segment_ids": "token_type_ids",
        "entity_ids": "entity_ids",
        "entity_position_ids": "entity_position_ids",
        "entity_attention_mask": "entity_attention_mask",
        "entity_segment_ids": "entity_token_type_ids",
        "masked_lm_labels": "labels",
        "masked_entity_labels": "entity_labels",
    }
    return {names[key]: value for key, value in batch.items()}
