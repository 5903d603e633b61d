"""The collator: rows of a corpus split → a padded, masked batch of torch tensors (DESIGN.md's fields)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pretraining.data.dataset import SampleKey
from pretraining.data.masking import ENTITY_PAD_ID, MaskingConfig, WordMasker, mask_entities
from pretraining.data.tokenizer_info import TokenizerInfo

IGNORE_INDEX = -100
BATCH_FIELDS = (
    "word_ids",
    "word_attention_mask",
    "word_segment_ids",
    "entity_ids",
    "entity_position_ids",
    "entity_attention_mask",
    "entity_segment_ids",
    "masked_lm_labels",
    "masked_entity_labels",
)


def _round_up(value: int, multiple: int | None) -> int:
    return value if not multiple else -(-value // multiple) * multiple


class LukePretrainingCollator:
    """Adds ``cls``/``sep``, masks words and entities, pads to the longest sequence of the batch.

    Masking is a pure function of (``seed``, the sample's epoch, its index in that epoch's shuffle): the
    generator of each sample is seeded from these three numbers, so a resumed run, another number of
    DataLoader workers or another batch composition masks every sample identically.

    Output (``torch.long``): ``word_ids``, ``word_attention_mask``, ``word_segment_ids``,
    ``masked_lm_labels`` (B × L); ``entity_ids``, ``entity_attention_mask``, ``entity_segment_ids``,
    ``masked_entity_labels`` (B × E, E ≥ 1); ``entity_position_ids`` (B × E × max_mention_length, positions
    in ``word_ids``, −1 padded). Labels are −100 where nothing is predicted. L = longest sequence + 2 and
    E = most entities in the batch, each rounded up to ``pad_to_multiple_of`` when given.
    """

    def __init__(
        self,
        tokenizer_info: TokenizerInfo,
        entity_vocab_size: int,
        max_seq_length: int,
        max_entity_length: int,
        max_mention_length: int,
        masking: MaskingConfig | None = None,
        seed: int = 0,
        pad_to_multiple_of: int | None = None,
    ) -> None:
        self.tokenizer_info = tokenizer_info
        self.entity_vocab_size = entity_vocab_size
        self.max_seq_length = max_seq_length
        self.max_entity_length = max_entity_length
        self.max_mention_length = max_mention_length
        self.masking = masking or MaskingConfig()
        self.seed = seed
        self.pad_to_multiple_of = pad_to_multiple_of
        self.word_masker = WordMasker(
            self.masking,
            mask_id=tokenizer_info.mask_id,
            word_start=tokenizer_info.word_start,
            special=tokenizer_info.special,
            random_word_ids=tokenizer_info.random_word_ids,
        )

    def _check(self, row: dict[str, Any]) -> None:
        words, entities = row["word_ids"].size, row["entity_ids"].size
        starts, ends = row["entity_starts"], row["entity_ends"]
        problem = None
        if not 1 <= words <= self.max_seq_length - 2:
            problem = f"{words} words (1 to max_seq_length - 2 = {self.max_seq_length - 2} fit)"
        elif entities > self.max_entity_length:
            problem = f"{entities} entities (max_entity_length is {self.max_entity_length})"
        elif not starts.size == ends.size == entities:
            problem = "entity_ids, entity_starts and entity_ends of different lengths"
        elif entities and (starts.min() < 0 or ends.max() > words or (ends - starts).min() < 1):
            problem = "a mention span outside its sequence"
        elif entities and (ends - starts).max() > self.max_mention_length:
            problem = f"a mention longer than max_mention_length = {self.max_mention_length}"
        elif row["word_ids"].max() >= self.tokenizer_info.vocab_size or row["word_ids"].min() < 0:
            problem = f"a word id outside the tokenizer's vocabulary of {self.tokenizer_info.vocab_size}"
        elif entities and (row["entity_ids"].max() >= self.entity_vocab_size or row["entity_ids"].min() <= 0):
            problem = f"an entity id outside 1..{self.entity_vocab_size - 1}"
        if problem:
            raise ValueError(f"row {row['key'].row} (page {row['page_id']}) has {problem}")

    def _generator(self, key: SampleKey) -> np.random.Generator:
        return np.random.default_rng([self.seed, key.epoch, key.index])

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        info = self.tokenizer_info
        for row in rows:
            self._check(row)
        size = len(rows)
        word_lengths = np.array([row["word_ids"].size for row in rows])
        entity_lengths = np.array([row["entity_ids"].size for row in rows])
        length = _round_up(int(word_lengths.max()) + 2, self.pad_to_multiple_of)
        entity_length = _round_up(max(1, int(entity_lengths.max())), self.pad_to_multiple_of)
        mention_offsets = np.arange(self.max_mention_length)

        word_ids = np.full((size, length), info.pad_id, dtype=np.int64)
        lm_labels = np.full((size, length), IGNORE_INDEX, dtype=np.int64)
        entity_ids = np.full((size, entity_length), ENTITY_PAD_ID, dtype=np.int64)
        entity_labels = np.full((size, entity_length), IGNORE_INDEX, dtype=np.int64)
        entity_positions = np.full((size, entity_length, self.max_mention_length), -1, dtype=np.int64)

        for i, row in enumerate(rows):
            rng = self._generator(row["key"])
            words, entities = word_lengths[i], entity_lengths[i]
            word_ids[i, 0] = info.cls_id
            word_ids[i, 1 : words + 1] = row["word_ids"]
            word_ids[i, words + 1] = info.sep_id
            starts, ends = row["entity_starts"], row["entity_ends"]
            entity_ids[i, :entities] = row["entity_ids"]
            positions = starts[:, None] + 1 + mention_offsets  # + 1: the cls token
            entity_positions[i, :entities] = np.where(mention_offsets < (ends - starts)[:, None], positions, -1)

            chosen = mask_entities(
                entity_ids[i, :entities], entity_labels[i], self.masking, self.entity_vocab_size, rng
            )
            spans = [(int(starts[j]), int(ends[j])) for j in chosen]
            self.word_masker(word_ids[i, 1 : words + 1], lm_labels[i, 1 : words + 1], spans, rng)

        word_mask = np.arange(length) < (word_lengths + 2)[:, None]
        entity_mask = np.arange(entity_length) < entity_lengths[:, None]
        return {
            "word_ids": torch.from_numpy(word_ids),
            "word_attention_mask": torch.from_numpy(word_mask.astype(np.int64)),
            "word_segment_ids": torch.zeros((size, length), dtype=torch.long),
            "entity_ids": torch.from_numpy(entity_ids),
            "entity_position_ids": torch.from_numpy(entity_positions),
            "entity_attention_mask": torch.from_numpy(entity_mask.astype(np.int64)),
            "entity_segment_ids": torch.zeros((size, entity_length), dtype=torch.long),
            "masked_lm_labels": torch.from_numpy(lm_labels),
            "masked_entity_labels": torch.from_numpy(entity_labels),
        }
