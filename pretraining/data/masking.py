"""LUKE's masking of words and entities, applied to one sequence at a time.

The options and defaults are those of the official LUKE pretraining (``luke/pretraining/train.py`` and
``batch_generator.py`` of studio-ousia/luke): 15 % of words with whole-word masking, of which 80 % become
the mask token, 10 % a random word and 10 % stay unchanged; 15 % of entities, all replaced by the [MASK]
entity; optionally the words inside masked entity mentions are masked too. Every random choice comes from
the generator passed in, so the caller decides what the masking of a sample depends on.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

ENTITY_PAD_ID = 0
ENTITY_UNK_ID = 1
ENTITY_MASK_ID = 2
FIRST_ENTITY_ID = 3


@dataclass(frozen=True)
class MaskingConfig:
    """The official LUKE masking options (names and defaults as in its ``train.py``).

    ``masked_lm_prob``: share of the words of a sequence to predict (at least one word).
    ``whole_word_masking``: mask all sub-word tokens of a word together (off: each token on its own).
    ``random_word_prob`` / ``unmasked_word_prob``: share of the chosen words replaced by a random token /
    left unchanged (the rest become the mask token).
    ``masked_entity_prob``: share of the entities of a sequence to predict (at least one when it has any);
    entities whose target is outside the vocabulary ([UNK]) are never chosen: there is nothing to predict.
    ``random_entity_prob`` / ``unmasked_entity_prob``: share of the chosen entities replaced by a random
    entity / left unchanged (the rest become the [MASK] entity).
    ``mask_words_in_entity_span``: also mask the words of the mention of every chosen entity (counted in the
    word budget), so the entity cannot be read off its mention.
    """

    masked_lm_prob: float = 0.15
    masked_entity_prob: float = 0.15
    whole_word_masking: bool = True
    unmasked_word_prob: float = 0.1
    random_word_prob: float = 0.1
    unmasked_entity_prob: float = 0.0
    random_entity_prob: float = 0.0
    mask_words_in_entity_span: bool = False

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(item.default, float) and not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"masking option {item.name} must be a probability in [0, 1], got {value!r}")
        for kind in ("word", "entity"):
            total = getattr(self, f"random_{kind}_prob") + getattr(self, f"unmasked_{kind}_prob")
            if total > 1.0:
                raise ValueError(f"masking options random_{kind}_prob + unmasked_{kind}_prob must be ≤ 1, got {total}")


def _replacement_kinds(rng: np.random.Generator, count: int, random_prob: float, unmasked_prob: float) -> np.ndarray:
    """For ``count`` chosen items: 0 = mask, 1 = random replacement, 2 = unchanged (LUKE's thresholds)."""
    draws = rng.random(count)
    return (draws >= 1.0 - random_prob - unmasked_prob).astype(np.int8) + (draws >= 1.0 - unmasked_prob)


def mask_entities(
    entity_ids: np.ndarray,
    labels: np.ndarray,
    config: MaskingConfig,
    entity_vocab_size: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Choose and replace entities in place (``entity_ids``); write their original ids into ``labels``.

    Returns the indices of the chosen entities.
    """
    candidates = np.flatnonzero(entity_ids != ENTITY_UNK_ID)
    if config.masked_entity_prob == 0.0 or candidates.size == 0:
        return candidates[:0]
    count = max(1, round(candidates.size * config.masked_entity_prob))
    chosen = np.sort(rng.permutation(candidates)[:count])
    labels[chosen] = entity_ids[chosen]
    kinds = _replacement_kinds(rng, count, config.random_entity_prob, config.unmasked_entity_prob)
    entity_ids[chosen[kinds == 0]] = ENTITY_MASK_ID
    randomised = chosen[kinds == 1]
    if randomised.size:
        entity_ids[randomised] = rng.integers(FIRST_ENTITY_ID, entity_vocab_size, size=randomised.size)
    return chosen


class WordMasker:
    """Masks the words of one sequence (without special tokens) in place, LUKE's way."""

    def __init__(
        self,
        config: MaskingConfig,
        mask_id: int,
        word_start: np.ndarray,
        special: np.ndarray,
        random_word_ids: np.ndarray,
    ) -> None:
        self.config = config
        self.mask_id = mask_id
        self.word_start = word_start
        self.special = special
        self.random_word_ids = random_word_ids

    def _replace(self, word_ids: np.ndarray, labels: np.ndarray, token_kind: np.ndarray, rng) -> None:
        """Label the tokens with a kind (≥ 0) and replace them: 0 mask, 1 random token, 2 unchanged."""
        chosen = token_kind >= 0
        labels[chosen] = word_ids[chosen]
        word_ids[token_kind == 0] = self.mask_id
        randomised = token_kind == 1
        count = int(randomised.sum())
        if count:
            word_ids[randomised] = self.random_word_ids[rng.integers(self.random_word_ids.size, size=count)]

    def _kinds(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return _replacement_kinds(rng, count, self.config.random_word_prob, self.config.unmasked_word_prob)

    def __call__(
        self,
        word_ids: np.ndarray,
        labels: np.ndarray,
        entity_spans: list[tuple[int, int]],
        rng: np.random.Generator,
    ) -> None:
        """Mask ``word_ids`` in place and write the original ids of masked tokens into ``labels``.

        ``entity_spans``: (start, end) token spans of the chosen entities' mentions, masked first when
        ``mask_words_in_entity_span`` is on. One draw per word (or mention) decides how all its tokens are
        replaced.
        """
        size = word_ids.size
        if self.config.masked_lm_prob == 0.0 or size == 0:
            return
        maskable = ~self.special[word_ids]
        token_kind = np.full(size, -1, dtype=np.int8)
        budget = max(1, round(size * self.config.masked_lm_prob))
        masked = 0
        if self.config.mask_words_in_entity_span and entity_spans:
            for (start, end), kind in zip(entity_spans, self._kinds(rng, len(entity_spans)), strict=True):
                span = token_kind[start:end]
                span[maskable[start:end]] = kind
                masked += int(maskable[start:end].sum())
                maskable[start:end] = False

        if self.config.whole_word_masking:
            starts = self.word_start[word_ids].copy()
            starts[0] = True
        else:
            starts = np.ones(size, dtype=bool)
        token_group = np.cumsum(starts) - 1
        group_starts = np.flatnonzero(starts)
        group_lengths = np.diff(group_starts, append=size)
        candidates = np.flatnonzero(np.add.reduceat(~maskable, group_starts) == 0)  # words without blocked tokens

        order = candidates[rng.permutation(candidates.size)]
        lengths = group_lengths[order]
        # LUKE's greedy walk: take words in random order, skip a word longer than what is left of the budget.
        # Its prefix up to the first skip is a cumulative sum; only the few words after that need a loop.
        remaining = budget - masked
        taken = int(np.searchsorted(np.cumsum(lengths), remaining, side="right"))
        chosen = list(order[:taken])
        remaining -= int(lengths[:taken].sum())
        for index in range(taken, order.size):
            if remaining <= 0:
                break
            if lengths[index] <= remaining:
                chosen.append(order[index])
                remaining -= int(lengths[index])
        if chosen:
            group_kind = np.full(group_starts.size, -1, dtype=np.int8)
            group_kind[chosen] = self._kinds(rng, len(chosen))
            word_kind = group_kind[token_group]
            token_kind = np.where(word_kind >= 0, word_kind, token_kind)
        elif masked == 0 and maskable.any():
            # Every word is longer than the budget: mask one maskable token, as LUKE does.
            token_kind[rng.choice(np.flatnonzero(maskable))] = self._kinds(rng, 1)[0]
        self._replace(word_ids, labels, token_kind, rng)
