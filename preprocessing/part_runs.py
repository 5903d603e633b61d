"""Rows exchanged through files instead of a shuffle: each unit writes its rows cut into parts, and one work item
per part reads that part of every unit's file.

A unit's **run** is one Arrow IPC file with exactly ``parts`` record batches: batch ``p`` holds the unit's rows
whose 64-bit key is ``p`` modulo ``parts``. A part's reader takes batch ``p`` of every run (read by offset), so
no runner ever holds the rows in between: memory is one unit's rows while writing and one part's while reading,
whatever the size of the dump. The titles (title table) and the link counts (entity vocabulary) travel this way;
parts hold ~:data:`ROWS_PER_PART` rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import CompressionTypes, FileSystems

from preprocessing.beam.atomic import atomic_create, is_local

ROWS_PER_PART = 250_000  # a title-table part: ~9 MB of Arrow, sorted by the worker that merges it
INPUT_BYTES_PER_TITLE = 5_000  # English Wikipedia: ~17M titles in ~95 GB of XML (errs towards more parts)


def part_count(rows: int) -> int:
    """Parts for about ``rows`` rows: one per :data:`ROWS_PER_PART`, at least one."""
    return max(1, -(-rows // ROWS_PER_PART))


def parts_for_input(input_bytes: int) -> int:
    """Parts for the titles (or the link targets) of an input of ``input_bytes``."""
    return part_count(input_bytes // INPUT_BYTES_PER_TITLE)


def run_path(directory: str, unit_index: int) -> str:
    return FileSystems.join(directory, f"unit-{unit_index:06d}.arrow")


def write_run(path: str, rows: pa.Table, keys: np.ndarray, parts: int) -> None:
    """Write ``rows`` (``keys``: their uint64 keys) as a run of ``parts`` batches, each in the rows' order."""
    part = keys % np.uint64(parts)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(parts + 1, dtype=np.uint64))
    ordered = _one_batch(rows.take(pa.array(order)))
    with atomic_create(path) as stream, pa.ipc.new_file(stream, rows.schema) as writer:
        for index in range(parts):
            writer.write_batch(ordered.slice(int(bounds[index]), int(bounds[index + 1] - bounds[index])))


class DamagedRunError(ValueError):
    """A run (a scratch file of this job) that cannot be read as a whole Arrow IPC file; the message names it."""


@contextlib.contextmanager
def open_run(path: str) -> Iterator[pa.ipc.RecordBatchFileReader]:
    """A reader of the run (or any Arrow IPC file) at ``path`` that reads a batch by its offset
    (:class:`DamagedRunError` for a file that is not one, ``FileNotFoundError`` for a missing one).

    Not memory-mapped: a page fault maps its neighbours too (the kernel's fault-around, 64 KB), so a part's
    reader mapped most of every run; at 688 runs (4 GB of XML) that held ~70 MB more than reading the batches.
    """
    with contextlib.ExitStack() as stack:
        if is_local(path):
            file = stack.enter_context(pa.OSFile(path, "r"))
        else:
            stream = stack.enter_context(FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED))
            file = pa.PythonFile(stream, mode="r")
        try:
            yield pa.ipc.open_file(file)
        except (pa.ArrowInvalid, OSError) as error:  # opening it, or reading a batch (Arrow: OSError)
            raise DamagedRunError(
                f"{path} is damaged ({error}): a scratch file of this job, changed or cut short "
                "after it was written; run the job again"
            ) from error


def read_part(paths: Sequence[str], index: int, schema: pa.Schema) -> pa.Table:
    """Batch ``index`` of every run in ``paths``, as one table (``FileNotFoundError`` names a missing run,
    :class:`DamagedRunError` a damaged one)."""
    batches = []
    for path in paths:
        with open_run(path) as run:
            batches.append(run.get_batch(index))
    return pa.Table.from_batches(batches, schema)


def _one_batch(table: pa.Table) -> pa.RecordBatch:
    batches = table.combine_chunks().to_batches()
    if batches:
        return batches[0]
    return pa.record_batch([pa.array([], field.type) for field in table.schema], schema=table.schema)
