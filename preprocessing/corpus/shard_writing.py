"""Writing one shard: rows, in the order given, into an Arrow IPC file, atomically, a record batch at a time.

The bytes depend only on the rows and their order (the packing pass gives them in the input's order): record
batches have a fixed number of rows, and the file appears under its final name only once complete (written
to a temporary name, then renamed; deleted if the write fails), on any Beam filesystem.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.atomic import atomic_create, is_local
from preprocessing.corpus.directory import LIST_COLUMNS, SCHEMA
from preprocessing.corpus.packing import UNK_ENTITY_ID, PackedSequence

ROWS_PER_BATCH = 4096


def shard_table_batches(rows: Iterable[PackedSequence]) -> Iterator[pa.RecordBatch]:
    """The record batches of a shard holding ``rows``, in schema version 1, made as the rows come."""
    batch: list[PackedSequence] = []
    for row in rows:
        batch.append(row)
        if len(batch) == ROWS_PER_BATCH:
            yield _batch(batch)
            batch = []
    if batch:
        yield _batch(batch)


def _batch(rows: list[PackedSequence]) -> pa.RecordBatch:
    columns = [pa.array(np.fromiter((row.page_id for row in rows), dtype=np.int64, count=len(rows)))]
    for name in LIST_COLUMNS:
        arrays = [getattr(row, name) for row in rows]
        offsets = np.zeros(len(arrays) + 1, dtype=np.int32)
        np.cumsum([len(array) for array in arrays], out=offsets[1:])
        values = np.concatenate(arrays).astype(np.int32, copy=False) if arrays else np.zeros(0, np.int32)
        columns.append(pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)))
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


def _add_row(stats: Counter, row: PackedSequence) -> None:
    stats["sequences"] += 1
    stats["word_tokens"] += len(row.word_ids)
    stats["mentions"] += len(row.entity_ids)
    stats["unk_mentions"] += int(np.count_nonzero(row.entity_ids == UNK_ENTITY_ID))


def write_shard(path: str, rows: Iterable[PackedSequence]) -> Counter:
    """Write ``rows`` to the Arrow IPC file ``path`` atomically; return what they hold: sequences, word tokens,
    mentions and [UNK] mentions."""
    stats: Counter = Counter()
    with atomic_create(path) as stream, pa.ipc.new_file(stream, SCHEMA) as writer:
        for batch in shard_table_batches(_counted(rows, stats)):
            writer.write_batch(batch)
    return stats


def _counted(rows: Iterable[PackedSequence], stats: Counter) -> Iterator[PackedSequence]:
    for row in rows:
        _add_row(stats, row)
        yield row


def rows_in_shard(path: str) -> int:
    """How many rows the shard file ``path`` holds, read back from the file (memory-mapped when local)."""
    if is_local(path):
        reader = pa.ipc.open_file(pa.memory_map(path, "r"))
    else:
        with FileSystems.open(path) as stream:
            reader = pa.ipc.open_file(pa.py_buffer(stream.read()))
    return sum(reader.get_batch(index).num_rows for index in range(reader.num_record_batches))
