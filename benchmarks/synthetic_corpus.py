"""A SYNTHETIC corpus directory for benchmarks at scale: random ids, not text, in the real layout and schema.

``write_synthetic_corpus(root, rows)`` writes ``rows`` rows of word ids and mentions with valid spans, a
100K-entry entity vocabulary with Zipf-like ids, a word-level tokenizer of 32K tokens, 64 train shards +
1 validation shard (1 % of rows). ``SHORT_ROWS`` (8-24 words, 0-3 mentions; the default) fit 20M rows in
~2.2 GB; ``LUKE_ROWS`` (448-510 words, 0-32 mentions: packed rows of LUKE's 512 tokens) take ~2 KB a row.
``metadata.json`` says ``max_seq_length`` = the longest row + 2 (room for the special tokens), as the
builder does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from preprocessing.corpus.directory import SCHEMA, shard_path

BATCH_ROWS = 4096
WORD_VOCAB = 32_000
ENTITY_VOCAB = 100_000
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


@dataclass(frozen=True)
class RowShape:
    """The words and mentions of a synthetic row, each drawn uniformly within its bounds."""

    min_words: int
    max_words: int
    max_mentions: int
    max_mention_length: int

    @property
    def max_seq_length(self) -> int:
        return self.max_words + 2


SHORT_ROWS = RowShape(min_words=8, max_words=24, max_mentions=3, max_mention_length=4)
LUKE_ROWS = RowShape(min_words=448, max_words=510, max_mentions=32, max_mention_length=8)


def _lists(offsets: np.ndarray, values: np.ndarray) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


def _batch(rng: np.random.Generator, rows: int, first_page: int, shape: RowShape) -> pa.RecordBatch:
    words = rng.integers(shape.min_words, shape.max_words + 1, rows).astype(np.int32)
    word_offsets = np.concatenate([[0], np.cumsum(words)]).astype(np.int32)
    mentions = rng.integers(0, shape.max_mentions + 1, rows).astype(np.int32)
    mention_offsets = np.concatenate([[0], np.cumsum(mentions)]).astype(np.int32)
    total = int(mention_offsets[-1])
    # mention k of a row covers words [2k·s, 2k·s + length) with s = row length // (2 · mentions): never overlapping
    row_of = np.repeat(np.arange(rows), mentions)
    rank = np.arange(total) - np.repeat(mention_offsets[:-1], mentions)
    slot = words[row_of] // (2 * np.maximum(mentions[row_of], 1))
    starts = (2 * rank * slot).astype(np.int32)
    ends = (starts + np.minimum(rng.integers(1, shape.max_mention_length + 1, total), slot)).astype(np.int32)
    entity_ids = np.minimum(rng.zipf(1.3, total) + 2, ENTITY_VOCAB - 1).astype(np.int32)
    entity_ids[rng.random(total) < 0.02] = 1  # a few [UNK]
    word_ids = rng.integers(5, WORD_VOCAB, int(word_offsets[-1])).astype(np.int32)
    columns = [
        pa.array(np.arange(first_page, first_page + rows, dtype=np.int64)),
        _lists(word_offsets, word_ids),
        _lists(mention_offsets, entity_ids),
        _lists(mention_offsets, starts),
        _lists(mention_offsets, ends),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


def _write_splits(root: Path, rows: int, rng: np.random.Generator, shape: RowShape, train_shards: int) -> dict:
    """Write the shards; return metadata.json's ``splits``."""
    validation_rows = rows // 100
    plan = {"train": (rows - validation_rows, train_shards), "validation": (validation_rows, 1)}
    splits, page = {}, 0
    for split, (split_rows, num_shards) in plan.items():
        (root / split).mkdir()
        shards, word_tokens, mentions, unk = [], 0, 0, 0
        for index in range(num_shards):
            shard_rows = split_rows // num_shards + (index < split_rows % num_shards)
            shards.append(shard_path(split, index, num_shards))
            with pa.ipc.new_file(str(root / shards[-1]), SCHEMA) as writer:
                for first in range(0, shard_rows, BATCH_ROWS):
                    batch = _batch(rng, min(BATCH_ROWS, shard_rows - first), page, shape)
                    page += batch.num_rows
                    word_tokens += len(batch.column("word_ids").values)
                    ids = batch.column("entity_ids").values.to_numpy()
                    mentions += len(ids)
                    unk += int((ids == 1).sum())
                    writer.write_batch(batch)
        splits[split] = {"shards": shards, "sequences": split_rows, "word_tokens": word_tokens}
        splits[split].update(mentions=mentions, unk_mentions=unk)
    return splits


def _write_entity_vocab(root: Path) -> str:
    """Write entity_vocab.jsonl (Zipf-like counts); return its checksum."""
    counts = np.maximum(1, (1e6 / np.arange(1, ENTITY_VOCAB - 2) ** 1.1)).astype(int)
    lines = [
        json.dumps({"id": i, "entities": [[name, None]], "count": 0})
        for i, name in enumerate(("[PAD]", "[UNK]", "[MASK]"))
    ]
    lines += [
        json.dumps({"id": i + 3, "entities": [[f"Entity {i + 3}", "en"]], "count": int(c)})
        for i, c in enumerate(counts)
    ]
    vocab_text = "".join(line + "\n" for line in lines)
    (root / "entity_vocab.jsonl").write_text(vocab_text, encoding="utf-8")
    return "sha256:" + hashlib.sha256(vocab_text.encode("utf-8")).hexdigest()


def _write_tokenizer(root: Path) -> None:
    """A word-level tokenizer: the special tokens, then ``w5`` … ``w31999``."""
    from tokenizers import Tokenizer, decoders, models

    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *(f"w{i}" for i in range(5, WORD_VOCAB))])}
    tokenizer = Tokenizer(models.WordLevel(vocab, "<unk>"))
    tokenizer.decoder = decoders.WordPiece()  # joins tokens with spaces
    (root / "tokenizer").mkdir()
    tokenizer.save(str(root / "tokenizer" / "tokenizer.json"))


def write_synthetic_corpus(
    root: Path, rows: int, seed: int = 0, shape: RowShape = SHORT_ROWS, train_shards: int = 64
) -> None:
    """Write a synthetic corpus of ``rows`` rows of ``shape`` into the new directory ``root``."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    splits = _write_splits(root, rows, rng, shape, train_shards)
    checksum = _write_entity_vocab(root)
    _write_tokenizer(root)
    metadata = {
        "format": "luke-corpus",
        "format_version": 2,
        "max_seq_length": shape.max_seq_length,
        "max_entity_length": shape.max_mentions,
        "max_mention_length": shape.max_mention_length,
        "splits": splits,
        "language": "en",
        "wiki": "synthetic",
        "tokenizer": {
            "source": "synthetic word-level",
            "vocab_size": WORD_VOCAB,
            "unk_token": "<unk>",
            "unk_token_id": 3,
        },
        "entity_vocab": {"file": "entity_vocab.jsonl", "entries": ENTITY_VOCAB, "checksum": checksum},
        "input_files": [],
        "options": {"entity_vocab_size": ENTITY_VOCAB},
        "counters": {},
        "created_by": "benchmarks/synthetic_corpus.py",
    }
    (root / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")


def corpus_bytes(root: Path) -> int:
    """The size of the files under ``root``."""
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
