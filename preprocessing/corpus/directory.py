"""The corpus directory: its layout, the Arrow schema (version 1) and a zero-copy random-access reader.

Layout (written by ``luke build-corpus``, read by ``luke train``)::

    corpus/
      metadata.json         written last: its presence marks the corpus complete
      entity_vocab.jsonl    official LUKE jsonl format; ids 0, 1, 2 = [PAD], [UNK], [MASK]
      tokenizer/            a Hugging Face tokenizer directory
      train/shard-00000-of-00064.arrow ...
      validation/shard-00000-of-00001.arrow ...

``metadata.json`` holds at least ``format``, ``format_version``, the three length limits and, per split,
``{"shards": [relative paths], "sequences": row count}``; the builder adds its counters and options.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

FORMAT_NAME = "luke-corpus"
FORMAT_VERSION = 3  # what the builder writes; the reader takes every READABLE_FORMAT_VERSIONS (same schema)
# 1: the text before LUKE's reading (sentences tokenized without their leading space, italics in quote marks,
# list items dropped, section links as mentions of the page itself); 2: the text as LUKE read it; 3: each
# sentence with links cut at them and its pieces tokenized apart, as LUKE's tokenizers cut a text at its
# entity_spans (2 tokenized it whole): ``luke export`` checks a 3's rows against its tokenizer with spans
READABLE_FORMAT_VERSIONS = (1, 2, 3)
SPANS_FORMAT_VERSION = 3  # the first whose rows the exported tokenizer gives back from their text and mentions
METADATA_FILE = "metadata.json"
ENTITY_VOCAB_FILE = "entity_vocab.jsonl"
TOKENIZER_DIR = "tokenizer"
SPLITS = ("train", "validation")
LENGTH_FIELDS = ("max_seq_length", "max_entity_length", "max_mention_length")

SCHEMA = pa.schema(
    [
        pa.field("page_id", pa.int64(), nullable=False),
        pa.field("word_ids", pa.list_(pa.int32()), nullable=False),
        pa.field("entity_ids", pa.list_(pa.int32()), nullable=False),
        pa.field("entity_starts", pa.list_(pa.int32()), nullable=False),
        pa.field("entity_ends", pa.list_(pa.int32()), nullable=False),
    ]
)
LIST_COLUMNS = ("word_ids", "entity_ids", "entity_starts", "entity_ends")


class CorpusError(ValueError):
    """A corpus directory that is missing, incomplete or of another format."""


def shard_path(split: str, index: int, num_shards: int) -> str:
    """Relative path of shard ``index`` of ``num_shards`` in ``split``."""
    return f"{split}/shard-{index:05d}-of-{num_shards:05d}.arrow"


def shard_record_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """The non-empty record batches of shard ``path``, memory-mapped (no copy); :class:`CorpusError` for a file
    that is no Arrow IPC file of the corpus schema."""
    try:
        reader = pa.ipc.open_file(pa.memory_map(str(path), "r"))
    except (OSError, pa.ArrowInvalid) as error:
        raise CorpusError(f"cannot read shard {path}: {error}") from error
    if not reader.schema.equals(SCHEMA):
        raise CorpusError(f"shard {path} has schema {reader.schema}, expected that of version {FORMAT_VERSION}")
    for index in range(reader.num_record_batches):
        batch = reader.get_batch(index)
        if batch.num_rows:
            yield batch


class _RecordBatchView:
    """Numpy views (no copy) of one record batch's columns."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.page_ids = batch.column("page_id").to_numpy(zero_copy_only=True)
        self.columns = {}
        for name in LIST_COLUMNS:
            column = batch.column(name)
            self.columns[name] = (
                column.offsets.to_numpy(zero_copy_only=True),
                column.values.to_numpy(zero_copy_only=True),
            )

    def row(self, index: int) -> dict[str, Any]:
        row: dict[str, Any] = {"page_id": int(self.page_ids[index])}
        for name, (offsets, values) in self.columns.items():
            row[name] = values[offsets[index] : offsets[index + 1]]
        return row


class CorpusSplit:
    """Random access to the rows of one split, over memory-mapped shards: ``split[i]`` is a dict of
    ``page_id`` (int) and int32 numpy arrays that view the mapped file (read-only, no copy)."""

    def __init__(self, name: str, shard_files: list[Path]) -> None:
        self.name = name
        self.shard_files = shard_files
        self._batches: list[_RecordBatchView] = []
        self._starts: list[int] = []
        total = 0
        for path in shard_files:
            for batch in shard_record_batches(path):
                self._starts.append(total)
                self._batches.append(_RecordBatchView(batch))
                total += batch.num_rows
        self._length = total

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -self._length <= index < self._length:
            raise IndexError(f"row {index} out of range for split {self.name!r} of {self._length} rows")
        index %= self._length
        batch = bisect_right(self._starts, index) - 1
        return self._batches[batch].row(index - self._starts[batch])


@dataclass(frozen=True)
class Corpus:
    """A complete corpus directory, validated on open."""

    path: Path
    metadata: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path) -> Corpus:
        """Open and validate ``path``; raise :class:`CorpusError` naming what is wrong."""
        path = Path(path)
        if not path.is_dir():
            raise CorpusError(f"corpus directory {path} does not exist")
        metadata_file = path / METADATA_FILE
        if not metadata_file.is_file():
            raise CorpusError(
                f"{path} is not a complete corpus: {METADATA_FILE} is missing "
                "(it is written last; was `luke build-corpus` interrupted?)"
            )
        try:
            metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CorpusError(f"{metadata_file} is not valid JSON: {error}") from error
        corpus = cls(path, metadata)
        corpus._validate()
        return corpus

    def _validate(self) -> None:
        where = self.path / METADATA_FILE
        if self.metadata.get("format") != FORMAT_NAME:
            raise CorpusError(f"{where}: format is {self.metadata.get('format')!r}, expected {FORMAT_NAME!r}")
        if self.metadata.get("format_version") not in READABLE_FORMAT_VERSIONS:
            raise CorpusError(
                f"{where}: format_version {self.metadata.get('format_version')!r} is not supported by this "
                f"version of the pipeline (it reads versions {', '.join(map(str, READABLE_FORMAT_VERSIONS))})"
            )
        for field in LENGTH_FIELDS:
            if not isinstance(self.metadata.get(field), int) or self.metadata[field] < 1:
                raise CorpusError(f"{where}: {field} must be a positive integer, got {self.metadata.get(field)!r}")
        splits = self.metadata.get("splits")
        if not isinstance(splits, dict) or "train" not in splits:
            raise CorpusError(f"{where}: 'splits' must map split names to shards and include 'train'")
        for name, split in splits.items():
            missing = [shard for shard in split.get("shards", []) if not (self.path / shard).is_file()]
            if missing:
                raise CorpusError(f"{where}: split {name!r} lists shards that do not exist: {missing[:5]}")
        for required in (ENTITY_VOCAB_FILE, TOKENIZER_DIR):
            if not (self.path / required).exists():
                raise CorpusError(f"{self.path} is not a complete corpus: {required} is missing")

    @property
    def max_seq_length(self) -> int:
        return self.metadata["max_seq_length"]

    @property
    def max_entity_length(self) -> int:
        return self.metadata["max_entity_length"]

    @property
    def max_mention_length(self) -> int:
        return self.metadata["max_mention_length"]

    @property
    def entity_vocab_path(self) -> Path:
        return self.path / ENTITY_VOCAB_FILE

    @property
    def tokenizer_path(self) -> Path:
        return self.path / TOKENIZER_DIR

    @property
    def split_names(self) -> list[str]:
        return list(self.metadata["splits"])

    def split(self, name: str) -> CorpusSplit:
        """Random access to split ``name``; its row count is checked against metadata.json."""
        if name not in self.metadata["splits"]:
            raise CorpusError(f"{self.path} has no split {name!r}; it has {self.split_names}")
        entry = self.metadata["splits"][name]
        split = CorpusSplit(name, [self.path / shard for shard in entry["shards"]])
        if "sequences" in entry and len(split) != entry["sequences"]:
            raise CorpusError(
                f"split {name!r} of {self.path} holds {len(split)} rows but metadata.json says "
                f"{entry['sequences']}: the corpus is incomplete or was modified"
            )
        return split
