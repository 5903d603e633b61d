"""Wikimedia's multistream dumps: one ``.xml.bz2`` made of many independent bz2 streams (100 pages each)
plus an index (``offset:page_id:title`` lines, bz2-compressed) giving each stream's byte offset.

Workers read disjoint byte ranges of whole streams, so one big file is read by many workers at once.
The first stream holds the ``<siteinfo>`` header, the last one ``</mediawiki>``.
"""

from __future__ import annotations

import bz2
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from preprocessing.sources.files import BLOCK_SIZE, DumpFileError, damage_of, open_decompressed, open_raw


@dataclass(frozen=True)
class StreamRange:
    """Bytes ``[start, end)`` of a multistream file: whole bz2 streams."""

    path: str
    start: int
    end: int


def read_stream_offsets(index_path: str) -> list[int]:
    """The distinct stream offsets listed in a multistream index, ascending (read on the driver when a job is
    planned; English Wikipedia's ~23M lines take an estimated 40 s, ``benchmarks/bench_index_read.py``)."""
    offsets: set[int] = set()
    try:
        with open_decompressed(index_path) as stream:
            for number, line in enumerate(stream, start=1):
                head = line.split(b":", 1)[0]
                if not head.strip():
                    continue
                if not head.isdigit():
                    raise DumpFileError(
                        f"{index_path}, line {number}: expected 'offset:page_id:title', got {line[:80].rstrip()!r}"
                    )
                offsets.add(int(head))
    except (OSError, EOFError) as error:
        raise DumpFileError(f"cannot read multistream index {index_path}: {error}") from error
    return sorted(offsets)


def stream_ranges(path: str, offsets: list[int], file_size: int, streams_per_range: int) -> list[StreamRange]:
    """Cut the page streams (from the first indexed offset to the end of file) into ranges of
    ``streams_per_range`` streams; the header stream before the first offset is not a range."""
    if not offsets:
        return []
    bounds = [*offsets[::streams_per_range], file_size]
    return [StreamRange(path, start, end) for start, end in itertools.pairwise(bounds) if start < end]


def iter_range_blocks(stream_range: StreamRange) -> Iterator[bytes]:
    """Decompress the bz2 streams of a range, block by block (bounded memory).

    Raises :class:`DamagedDumpError` naming the file and the offset of the bz2 stream where reading stopped:
    ``truncated_file`` when the range ends inside a stream (a truncated or mis-indexed file),
    ``corrupt_file`` on data that does not decompress.
    """
    stream_start = position = stream_range.start
    try:
        with open_raw(stream_range.path) as raw:
            raw.seek(stream_range.start)
            decompressor: bz2.BZ2Decompressor | None = None  # None between streams
            while position < stream_range.end:
                chunk = raw.read(min(BLOCK_SIZE, stream_range.end - position))
                if not chunk:
                    break
                position += len(chunk)
                while chunk:
                    if decompressor is None:
                        decompressor, stream_start = bz2.BZ2Decompressor(), position - len(chunk)
                    output = decompressor.decompress(chunk)
                    if output:
                        yield output
                    if not decompressor.eof:
                        break
                    chunk, decompressor = decompressor.unused_data, None
        if decompressor is not None:
            raise EOFError("the range ends inside a bz2 stream")
    except (EOFError, OSError) as error:
        where = f"the bz2 stream at byte {stream_start:,} (range {stream_range.start:,}-{stream_range.end:,})"
        raise damage_of(error, stream_range.path, stream_start, where) from error
