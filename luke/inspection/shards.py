"""A split's shards as numpy views: every row's list lengths from the Arrow list offsets, and the values of a
chosen set of rows gathered batch by batch, without a Python loop over rows.

The shards are memory-mapped (``pa.memory_map``) and every array is a zero-copy view, so reading the offsets
of a 20M-row split touches only the offset buffers (4 bytes per row and list column), never the token ids,
and gathering sampled rows touches only the pages that hold them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from preprocessing.corpus.directory import LIST_COLUMNS, shard_record_batches


@dataclass(frozen=True)
class BatchView:
    """One record batch: page ids and, per list column, its offsets and values (numpy views, no copy)."""

    page_ids: np.ndarray
    offsets: dict[str, np.ndarray]
    values: dict[str, np.ndarray]

    @property
    def num_rows(self) -> int:
        return len(self.page_ids)

    def lengths(self, column: str) -> np.ndarray:
        return np.diff(self.offsets[column])

    def gather(self, column: str, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The values of ``rows`` (local indices, ascending; None = all) concatenated, and each row's count."""
        offsets, values = self.offsets[column], self.values[column]
        if rows is None:
            return values[offsets[0] : offsets[-1]], np.diff(offsets)
        starts = offsets[rows].astype(np.int64)
        counts = offsets[rows + 1].astype(np.int64) - starts
        total = int(counts.sum())
        if total == 0:
            return values[:0], counts
        # position of value j of row k = starts[k] + j, for all rows at once
        begin_of_row = np.cumsum(counts) - counts
        positions = np.arange(total, dtype=np.int64) + np.repeat(starts - begin_of_row, counts)
        return values[positions], counts

    def row(self, index: int) -> dict[str, object]:
        row: dict[str, object] = {"page_id": int(self.page_ids[index])}
        for column in LIST_COLUMNS:
            offsets = self.offsets[column]
            row[column] = self.values[column][offsets[index] : offsets[index + 1]]
        return row


class SplitShards:
    """The record batches of one split's shard files, in order, and the row count of each shard."""

    def __init__(self, name: str, files: list[Path]) -> None:
        self.name = name
        self.files = files
        self.batches: list[BatchView] = []
        self.shard_rows: list[int] = []
        for path in files:
            rows = 0
            for batch in shard_record_batches(path):
                self.batches.append(_view(batch))
                rows += batch.num_rows
            self.shard_rows.append(rows)
        self.batch_starts = np.cumsum([0] + [batch.num_rows for batch in self.batches], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.batch_starts[-1])

    def lengths(self, column: str) -> np.ndarray:
        """Every row's length of a list column, in row order (one int32 per row)."""
        if not self.batches:
            return np.zeros(0, dtype=np.int32)
        return np.concatenate([batch.lengths(column) for batch in self.batches])

    def selections(self, rows: np.ndarray | None) -> Iterator[tuple[BatchView, int, np.ndarray | None]]:
        """(batch, its first global row, local indices of the chosen rows in it) for every batch holding some
        of ``rows`` (global indices, ascending; None = every row, passed on as None)."""
        if rows is None:
            for batch, start in zip(self.batches, self.batch_starts[:-1], strict=True):
                yield batch, int(start), None
            return
        which = np.searchsorted(self.batch_starts, rows, side="right") - 1
        bounds = np.flatnonzero(np.diff(which)) + 1
        for chunk in np.split(np.arange(len(rows)), bounds):
            if len(chunk):
                index = int(which[chunk[0]])
                start = int(self.batch_starts[index])
                yield self.batches[index], start, rows[chunk] - start

    def row(self, index: int) -> dict[str, object]:
        """Row ``index`` as a dict of page_id and int32 arrays (views)."""
        batch = int(np.searchsorted(self.batch_starts, index, side="right") - 1)
        return self.batches[batch].row(index - int(self.batch_starts[batch]))


def _view(batch: pa.RecordBatch) -> BatchView:
    offsets, values = {}, {}
    for column in LIST_COLUMNS:
        array = batch.column(column)
        offsets[column] = array.offsets.to_numpy(zero_copy_only=True)
        values[column] = array.values.to_numpy(zero_copy_only=True)
    return BatchView(batch.column("page_id").to_numpy(zero_copy_only=True), offsets, values)


def sample_rows(total: int, size: int, rng: np.random.Generator) -> np.ndarray | None:
    """``size`` distinct row indices of ``total`` in ascending order; None (every row) when ``size`` is 0 or
    covers them all."""
    if size <= 0 or size >= total:
        return None
    return np.sort(rng.choice(total, size=size, replace=False))
