"""Packing an article's tokenized sentences into training sequences, as LUKE does.

Whole sentences are appended to a sequence while it stays within ``max_seq_length − 2`` tokens (room for
the special tokens the trainer adds) and ``max_entity_length`` mentions; the next sentence starts a new
sequence. Unlike LUKE, which cut the mentions of a full sequence at ``max_entity_length``, a sentence that
would overflow the mention budget also starts a new sequence, so mentions are only lost from a single
sentence holding more of them than the budget. Every sentence and mention left out is counted.

A sentence was tokenized cut at its links (``tokenization.mentions``); when packing drops some of its mentions
(entity outside the vocabulary, too long, over the budget), it is cut again at the mentions it keeps
(``cut_at``), so that a row's ids are what LUKE's tokenizers give for its text with the row's mentions as
``entity_spans``, and it is then measured (and dropped, if too short or too long) with those ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from preprocessing.tokenization.mentions import Mention, TokenizedSentence

UNK_ENTITY_ID = 1


@dataclass(frozen=True)
class PackingOptions:
    """What goes into a sequence (defaults as in LUKE's pretraining data)."""

    max_seq_length: int = 512
    max_entity_length: int = 128
    max_mention_length: int = 30
    min_sentence_length: int = 5
    include_sentences_without_entities: bool = False
    include_unk_entities: bool = False

    def __post_init__(self) -> None:
        if self.max_seq_length < 3:
            raise ValueError(f"max_seq_length must be at least 3, got {self.max_seq_length}")
        for name in ("max_entity_length", "max_mention_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.min_sentence_length < 1:
            raise ValueError(f"min_sentence_length must be positive, got {self.min_sentence_length}")

    @property
    def max_num_tokens(self) -> int:
        return self.max_seq_length - 2


@dataclass(frozen=True, eq=False)
class PackedSequence:
    """One row of a shard: the ``index``-th sequence of page ``page_id`` (int32 arrays, schema v1)."""

    page_id: int
    index: int
    word_ids: np.ndarray
    entity_ids: np.ndarray
    entity_starts: np.ndarray
    entity_ends: np.ndarray


class _Builder:
    """The sequence being filled."""

    def __init__(self) -> None:
        self.parts: list[Sequence[int]] = []  # the sentences' word ids
        self.length = 0
        self.mentions: list[tuple[int, int, int]] = []  # (entity id, start, end)

    def add(self, word_ids: Sequence[int], mentions: list[tuple[int, int, int]]) -> None:
        offset = self.length
        self.mentions.extend((entity_id, start + offset, end + offset) for entity_id, start, end in mentions)
        self.parts.append(word_ids)
        self.length += len(word_ids)


def pack_sentences(
    page_id: int,
    sentences: Sequence[TokenizedSentence],
    options: PackingOptions,
    entity_id: Callable[[str], int | None],
    counts: Counter,
    cut_at: Callable[[TokenizedSentence, Sequence[Mention]], TokenizedSentence] | None = None,
) -> Iterator[PackedSequence]:
    """Pack one article's sentences (in order) into sequences; ``entity_id(title)`` gives a title's
    vocabulary id or None; ``cut_at`` cuts a sentence again at the mentions it keeps (module doc; None: keep its
    ids). What is left out is counted in ``counts``."""
    builder = _Builder()
    index = 0
    for original in sentences:
        dropped: Counter = Counter()
        kept = _sentence_mentions(original, options, entity_id, dropped)
        sentence = original
        if cut_at is not None and original.text is not None and len(kept) < len(original.mentions):
            sentence = cut_at(original, [mention for _, mention in kept])
            kept = [(vocab_id, mention) for (vocab_id, _), mention in zip(kept, sentence.mentions, strict=True)]
        if len(sentence.word_ids) < options.min_sentence_length:
            _count_dropped_sentence(counts, "too_short", original)
            continue
        if len(sentence.word_ids) > options.max_num_tokens:
            _count_dropped_sentence(counts, "too_long", original)
            continue
        counts.update(dropped)
        mentions = [(vocab_id, mention.start, mention.end) for vocab_id, mention in kept]
        if builder.parts and (
            builder.length + len(sentence.word_ids) > options.max_num_tokens
            or len(builder.mentions) + len(mentions) > options.max_entity_length
        ):
            sequence = _finish(page_id, index, builder, options, counts)
            if sequence is not None:
                yield sequence
                index += 1
            builder = _Builder()
        builder.add(sentence.word_ids, mentions)
    if builder.parts:
        sequence = _finish(page_id, index, builder, options, counts)
        if sequence is not None:
            yield sequence


def _sentence_mentions(
    sentence: TokenizedSentence,
    options: PackingOptions,
    entity_id: Callable[[str], int | None],
    counts: Counter,
) -> list[tuple[int, Mention]]:
    """The mentions the sentence keeps, with their vocabulary ids; the others counted."""
    mentions = []
    for mention in sentence.mentions:
        if mention.end - mention.start > options.max_mention_length:
            counts["mentions_dropped.too_long"] += 1
            continue
        vocab_id = entity_id(mention.target)
        if vocab_id is None:
            if not options.include_unk_entities:
                counts["mentions_dropped.entity_not_in_vocab"] += 1
                continue
            vocab_id = UNK_ENTITY_ID
        mentions.append((vocab_id, mention))
    if len(mentions) > options.max_entity_length:
        counts["mentions_dropped.over_entity_limit"] += len(mentions) - options.max_entity_length
        mentions = mentions[: options.max_entity_length]
    return mentions


def _count_dropped_sentence(counts: Counter, reason: str, sentence: TokenizedSentence) -> None:
    counts[f"sentences_dropped.{reason}"] += 1
    counts["mentions_dropped.in_dropped_sentence"] += len(sentence.mentions)


def _finish(
    page_id: int, index: int, builder: _Builder, options: PackingOptions, counts: Counter
) -> PackedSequence | None:
    if not builder.mentions and not options.include_sentences_without_entities:
        counts["sentences_dropped.sequence_without_entities"] += len(builder.parts)
        return None
    counts["sentences.packed"] += len(builder.parts)
    mentions = np.asarray(builder.mentions, dtype=np.int32).reshape(-1, 3)
    return PackedSequence(
        page_id=page_id,
        index=index,
        word_ids=np.concatenate([np.asarray(part, dtype=np.int32) for part in builder.parts]),
        entity_ids=np.ascontiguousarray(mentions[:, 0]),
        entity_starts=np.ascontiguousarray(mentions[:, 1]),
        entity_ends=np.ascontiguousarray(mentions[:, 2]),
    )
