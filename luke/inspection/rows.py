"""Rows decoded with the corpus's own tokenizer, cut into plain text and mentions.

A mention's text is the difference between the decoded prefixes that end at its end and at its start, so the
pieces joined give the decoded row exactly (SentencePiece and byte-level BPE alike attach the space to the
next token); the highlighted text is that piece without surrounding blanks, which equals
``tokenizer.decode(word_ids[start:end]).strip()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from luke.inspection.entities import UNK_ID, EntityTable
from luke.inspection.tokenizer import CorpusTokenizer


@dataclass(frozen=True)
class Segment:
    """Plain text (``entity_id`` None) or one mention with its entity."""

    text: str
    entity_id: int | None = None
    title: str | None = None
    start: int = 0
    end: int = 0

    @property
    def unknown(self) -> bool:
        return self.entity_id == UNK_ID


@dataclass(frozen=True)
class DecodedRow:
    split: str
    index: int
    page_id: int
    words: int
    segments: list[Segment]
    skipped_mentions: int  # overlapping or out-of-range spans, not highlighted

    @property
    def mentions(self) -> list[Segment]:
        return [segment for segment in self.segments if segment.entity_id is not None]


class RowDecoder:
    """Decodes rows with a :class:`~luke.inspection.tokenizer.CorpusTokenizer` and names their entities."""

    def __init__(self, tokenizer: CorpusTokenizer, entities: EntityTable) -> None:
        self.tokenizer = tokenizer
        self.entities = entities

    def decode(self, ids) -> str:
        return self.tokenizer.decode([int(i) for i in ids])

    def row(self, split: str, index: int, row: dict) -> DecodedRow:
        word_ids = np.asarray(row["word_ids"])
        spans = sorted(
            zip(
                (int(s) for s in row["entity_starts"]),
                (int(e) for e in row["entity_ends"]),
                (int(i) for i in row["entity_ids"]),
                strict=False,
            )
        )
        prefixes: dict[int, str] = {}

        def prefix(end: int) -> str:
            if end not in prefixes:
                prefixes[end] = self.decode(word_ids[:end])
            return prefixes[end]

        def piece(start: int, end: int) -> str:
            before, through = prefix(start), prefix(end)
            if through.startswith(before):
                return through[len(before) :]
            return self.decode(word_ids[start:end])  # a character cut between tokens: decode the span alone

        segments: list[Segment] = []
        cursor, skipped = 0, 0
        for start, end, entity_id in spans:
            if start < cursor or not 0 <= start < end <= len(word_ids):
                skipped += 1
                continue
            text = piece(start, end)
            stripped = text.strip()
            lead = text[: len(text) - len(text.lstrip())]
            trail = text[len(text.rstrip()) :]
            plain = piece(cursor, start) + lead
            if plain:
                segments.append(Segment(plain))
            segments.append(Segment(stripped, entity_id, self.entities.title(entity_id), start, end))
            if trail:
                segments.append(Segment(trail))
            cursor = end
        if cursor < len(word_ids):
            segments.append(Segment(piece(cursor, len(word_ids))))
        return DecodedRow(split, index, int(row["page_id"]), len(word_ids), segments, skipped)
