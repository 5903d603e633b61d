"""Writing one shard: rows sorted by (page id, sequence index) into an Arrow IPC file, atomically.

The bytes depend only on the rows: the sort makes the order independent of how bundles arrived, record
batches have a fixed number of rows, and the file appears under its final name only once complete (written
to a temporary name, then renamed; deleted if the write fails), on any Beam filesystem.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from preprocessing.beam.atomic import atomic_create
from preprocessing.corpus.directory import LIST_COLUMNS, SCHEMA
from preprocessing.corpus.packing import UNK_ENTITY_ID, PackedSequence

ROWS_PER_BATCH = 4096


def shard_table_batches(rows: Iterable[PackedSequence]) -> list[pa.RecordBatch]:
    """The record batches of a shard holding ``rows`` (sorted here), in schema version 1."""
    ordered = sorted(rows, key=lambda row: (row.page_id, row.index))
    return [_batch(ordered[start : start + ROWS_PER_BATCH]) for start in range(0, len(ordered), ROWS_PER_BATCH)]


def _batch(rows: list[PackedSequence]) -> pa.RecordBatch:
    columns = [pa.array(np.fromiter((row.page_id for row in rows), dtype=np.int64, count=len(rows)))]
    for name in LIST_COLUMNS:
        arrays = [getattr(row, name) for row in rows]
        offsets = np.zeros(len(arrays) + 1, dtype=np.int32)
        np.cumsum([len(array) for array in arrays], out=offsets[1:])
        values = np.concatenate(arrays).astype(np.int32, copy=False) if arrays else np.zeros(0, np.int32)
        columns.append(pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)))
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


def shard_stats(rows: Iterable[PackedSequence]) -> Counter:
    """What a shard holds: sequences, word tokens, mentions and [UNK] mentions."""
    stats: Counter = Counter()
    for row in rows:
        stats["sequences"] += 1
        stats["word_tokens"] += len(row.word_ids)
        stats["mentions"] += len(row.entity_ids)
        stats["unk_mentions"] += int(np.count_nonzero(row.entity_ids == UNK_ENTITY_ID))
    return stats


def write_shard(path: str, rows: list[PackedSequence]) -> Counter:
    """Write ``rows`` to the Arrow IPC file ``path`` atomically; return :func:`shard_stats` of them."""
    with atomic_create(path) as stream, pa.ipc.new_file(stream, SCHEMA) as writer:
        for batch in shard_table_batches(rows):
            writer.write_batch(batch)
    return shard_stats(rows)
