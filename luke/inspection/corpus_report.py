"""What ``luke inspect corpus`` reports, computed from a corpus directory.

Counts, sequence lengths, mentions per sequence, the length limits and the alignment of the entity columns
come from the list offsets of every row (exact, a few bytes per row). Mention lengths, [UNK] shares, entity
occurrences and the span / id checks need the values: they are read for every row, or for ``sample_rows``
random rows per split (the default on large corpora), and the report says which.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from luke.inspection.checks import (
    CheckList,
    RowPlace,
    check_mentions,
    check_recorded_counts,
    check_row_lengths,
    check_tokenizer,
    check_vocabulary,
    check_word_ids,
)
from luke.inspection.entities import UNK_ID, EntityTable, read_entity_table
from luke.inspection.rows import DecodedRow, RowDecoder
from luke.inspection.shards import SplitShards, sample_rows
from luke.inspection.tokenizer import CorpusTokenizer, tokenizer_checksum
from preprocessing.corpus import Corpus

DEFAULT_SAMPLE_ROWS = 100_000
DEFAULT_DECODED_ROWS = 10
ENTITY_COLUMNS = ("entity_ids", "entity_starts", "entity_ends")
OCCURRENCE_CHUNK = 5_000_000  # entity ids gathered before one bincount


@dataclass
class SplitStats:
    """One split. ``sequence_lengths[n]`` / ``entities_per_sequence[n]``: rows of n words / n mentions (every
    row); ``mention_lengths[n]``: mentions of n words among the rows read."""

    name: str
    sequences: int
    word_tokens: int
    mentions: int
    shard_rows: list[int]
    rows_read: int
    mentions_read: int
    unk_mentions_read: int
    sequence_lengths: np.ndarray
    entities_per_sequence: np.ndarray
    mention_lengths: np.ndarray
    recorded: dict[str, Any]

    @property
    def sampled(self) -> bool:
        return self.rows_read < self.sequences

    @property
    def mentions_per_100_words(self) -> float:
        return 100 * self.mentions / self.word_tokens if self.word_tokens else 0.0

    @property
    def unk_share(self) -> float:
        return self.unk_mentions_read / self.mentions_read if self.mentions_read else 0.0


@dataclass
class CorpusReport:
    path: Path
    metadata: dict[str, Any]
    splits: list[SplitStats]
    entities: EntityTable
    occurrences: np.ndarray  # mentions per entity id among the rows read, all splits
    checks: CheckList
    rows: list[DecodedRow]
    tokenizer_checksum: str
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(split.rows_read for split in self.splits)

    @property
    def sequences(self) -> int:
        return sum(split.sequences for split in self.splits)


def build_corpus_report(
    path: str | Path, rows: int = DEFAULT_DECODED_ROWS, seed: int = 0, sample_rows_per_split: int = DEFAULT_SAMPLE_ROWS
) -> CorpusReport:
    """Read the corpus at ``path`` (a :class:`~preprocessing.corpus.CorpusError` if it is missing, incomplete
    or unreadable) and compute the report; ``sample_rows_per_split`` 0 reads the values of every row."""
    clock = time.perf_counter()
    seconds: dict[str, float] = {}
    corpus = Corpus.open(path)
    metadata = corpus.metadata
    entities = read_entity_table(corpus.entity_vocab_path)
    tokenizer = CorpusTokenizer(corpus.tokenizer_path)
    checks = CheckList()
    check_vocabulary(checks, entities, metadata)
    checksum = tokenizer_checksum(corpus.tokenizer_path)
    check_tokenizer(checks, tokenizer, metadata, checksum)
    seconds["vocabularies"] = time.perf_counter() - clock

    rng = np.random.default_rng(seed)
    limits = {name: metadata[name] for name in ("max_seq_length", "max_entity_length", "max_mention_length")}
    occurrences = np.zeros(len(entities), dtype=np.int64)
    splits, opened = [], {}
    for name in corpus.split_names:
        clock = time.perf_counter()
        shards = SplitShards(name, [corpus.path / shard for shard in metadata["splits"][name]["shards"]])
        opened[name] = shards
        stats, split_occurrences = _split_stats(
            shards, metadata["splits"][name], limits, entities, tokenizer, checks, rng, sample_rows_per_split
        )
        occurrences += split_occurrences
        splits.append(stats)
        seconds[f"split {name}"] = time.perf_counter() - clock

    clock = time.perf_counter()
    decoder = RowDecoder(tokenizer, entities)
    decoded = [decoder.row(name, index, opened[name].row(index)) for name, index in _pick_rows(opened, rows, rng)]
    seconds["decoding"] = time.perf_counter() - clock
    return CorpusReport(corpus.path, metadata, splits, entities, occurrences, checks, decoded, checksum, seconds)


def _split_stats(
    shards: SplitShards,
    recorded: dict[str, Any],
    limits: dict[str, int],
    entities: EntityTable,
    tokenizer: CorpusTokenizer,
    checks: CheckList,
    rng: np.random.Generator,
    sample_size: int,
) -> tuple[SplitStats, np.ndarray]:
    word_lengths = shards.lengths("word_ids")
    column_counts = {column: shards.lengths(column) for column in ENTITY_COLUMNS}
    entity_counts = column_counts["entity_ids"]
    check_row_lengths(checks, RowPlace(shards), word_lengths, column_counts, limits)
    # rows whose entity columns differ in length are reported above; their spans mean nothing
    aligned = (entity_counts == column_counts["entity_starts"]) & (entity_counts == column_counts["entity_ends"])
    counted = {
        "sequences": len(shards),
        "word_tokens": int(word_lengths.sum(dtype=np.int64)),
        "mentions": int(entity_counts.sum(dtype=np.int64)),
    }
    chosen = sample_rows(len(shards), sample_size, rng)
    rows_read = len(shards) if chosen is None else len(chosen)
    scope = "every row" if chosen is None else f"{rows_read:,} sampled rows of {len(shards):,}"
    vocab_size = len(entities)
    occurrences = np.zeros(vocab_size, dtype=np.int64)
    mention_lengths = np.zeros(limits["max_mention_length"] + 2, dtype=np.int64)
    pending: list[np.ndarray] = []
    pending_size = mentions_read = unk_read = 0

    def flush() -> None:
        nonlocal pending, pending_size
        if pending:
            ids = np.concatenate(pending)
            ids = ids[(ids >= 0) & (ids < vocab_size)]
            occurrences[:] += np.bincount(ids, minlength=vocab_size)
        pending, pending_size = [], 0

    for batch, start, local in shards.selections(chosen):
        rows_aligned = aligned[start : start + batch.num_rows]
        if not rows_aligned.all():
            local = np.flatnonzero(rows_aligned) if local is None else local[rows_aligned[local]]
        place = RowPlace(shards, start, local)
        ids, per_row = batch.gather("entity_ids", local)
        starts, _ = batch.gather("entity_starts", local)
        ends, _ = batch.gather("entity_ends", local)
        lengths = word_lengths[start : start + batch.num_rows]
        lengths = lengths if local is None else lengths[local]
        mention_rows = np.repeat(np.arange(len(per_row)), per_row)
        check_mentions(
            checks, place, scope, mention_rows, lengths, ids, starts, ends, vocab_size, limits["max_mention_length"]
        )
        words, words_per_row = batch.gather("word_ids", local)
        check_word_ids(checks, place, scope, words_per_row, words, tokenizer.size)
        mention_lengths += np.bincount(
            np.clip(ends - starts, 0, len(mention_lengths) - 1), minlength=len(mention_lengths)
        )
        mentions_read += len(ids)
        unk_read += int(np.count_nonzero(ids == UNK_ID))
        pending.append(ids)
        pending_size += len(ids)
        if pending_size >= OCCURRENCE_CHUNK:
            flush()
    flush()
    if chosen is None:
        counted["unk_mentions"] = unk_read
    check_recorded_counts(checks, shards.name, recorded, counted)
    stats = SplitStats(
        name=shards.name,
        sequences=counted["sequences"],
        word_tokens=counted["word_tokens"],
        mentions=counted["mentions"],
        shard_rows=shards.shard_rows,
        rows_read=rows_read,
        mentions_read=mentions_read,
        unk_mentions_read=unk_read,
        sequence_lengths=np.bincount(word_lengths, minlength=limits["max_seq_length"] + 1),
        entities_per_sequence=np.bincount(entity_counts, minlength=limits["max_entity_length"] + 1),
        mention_lengths=mention_lengths,
        recorded=recorded,
    )
    return stats, occurrences


def _pick_rows(splits: dict[str, SplitShards], count: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    """``count`` random rows of all splits together (uniform over rows), in split and row order."""
    names = [name for name, shards in splits.items() if len(shards)]
    sizes = np.array([len(splits[name]) for name in names], dtype=np.int64)
    total = int(sizes.sum())
    if count <= 0 or total == 0:
        return []
    picked = np.sort(rng.choice(total, size=min(count, total), replace=False))
    bounds = np.cumsum(sizes) - sizes
    which = np.searchsorted(bounds, picked, side="right") - 1
    return [(names[w], int(p - bounds[w])) for w, p in zip(which, picked, strict=True)]
