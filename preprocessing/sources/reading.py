"""``ReadDumpPages``: MediaWiki XML dump files → ``WikiPage`` records, read in parallel.

- Split dumps (``pages-articles1.xml-p1p41242.bz2``, ...) or plain ``.xml``: one reader per file, then the
  pages are reshuffled so that the (expensive) wikitext parsing spreads over all workers.
- A multistream dump with its index: the index is read by one worker and cut into ranges of whole bz2
  streams; the ranges are reshuffled and many workers read the same file at once.

Headers (``<siteinfo>``, encoding) are read on the driver when the pipeline is built: a file that is
missing, unreadable or not a dump fails the job before it starts, with a message naming it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import apache_beam as beam

from preprocessing.beam.metrics import FailureRecorder, counter
from preprocessing.defaults import DEFAULT_MAX_PAGE_BYTES, DEFAULT_STREAMS_PER_RANGE
from preprocessing.records import WikiPage
from preprocessing.sources.files import (
    DumpFile,
    DumpHeader,
    expand_patterns,
    iter_blocks,
    open_decompressed,
    read_header,
)
from preprocessing.sources.multistream import StreamRange, iter_range_blocks, read_stream_offsets, stream_ranges
from preprocessing.sources.siteinfo import SiteInfo, merge_site_infos
from preprocessing.sources.xml_pages import PageFailure, parse_page, split_pages


@dataclass(frozen=True)
class _FileTask:
    """A dump file and its header, as read on the driver."""

    file: DumpFile
    header: DumpHeader


def read_site_info(patterns: Sequence[str]) -> SiteInfo:
    """The ``<siteinfo>`` of the dumps matching ``patterns`` (all from one wiki), read on the driver."""
    files = expand_patterns(patterns)
    headers = [read_header(file.path) for file in files]
    return merge_site_infos([header.site for header in headers], [file.path for file in files])


class ReadDumpPages(beam.PTransform):
    """PBegin → PCollection[WikiPage]: every page of the dump files matching ``patterns``.

    Counters: ``pages.read``, ``pages_failed.<reason>`` (malformed_xml, invalid_encoding, page_too_large,
    truncated_page, truncated_file, corrupt_file), with sample page ids.
    """

    def __init__(
        self,
        patterns: Sequence[str],
        max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES,
        streams_per_range: int = DEFAULT_STREAMS_PER_RANGE,
    ) -> None:
        super().__init__()
        self._patterns = list(patterns)
        self._max_page_bytes = max_page_bytes
        self._streams_per_range = streams_per_range

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[WikiPage]:
        tasks = [_FileTask(file, read_header(file.path)) for file in expand_patterns(self._patterns)]
        whole_files = [task for task in tasks if task.file.index_path is None]
        multistream = [task for task in tasks if task.file.index_path is not None]
        outputs = []
        if whole_files:
            outputs.append(
                pbegin
                | "WholeFiles" >> beam.Create(whole_files, reshuffle=True)
                | "ReadWholeFiles" >> beam.ParDo(_ReadWholeFileFn(self._max_page_bytes))
                | "SpreadPages" >> beam.Reshuffle()
            )
        if multistream:
            outputs.append(
                pbegin
                | "MultistreamFiles" >> beam.Create(multistream, reshuffle=False)
                | "SplitIntoStreamRanges" >> beam.FlatMap(_stream_range_tasks, self._streams_per_range)
                | "SpreadRanges" >> beam.Reshuffle()
                | "ReadStreamRanges" >> beam.ParDo(_ReadStreamRangeFn(self._max_page_bytes))
            )
        if len(outputs) == 1:
            return outputs[0]
        return tuple(outputs) | "AllPages" >> beam.Flatten()


def _stream_range_tasks(task: _FileTask, streams_per_range: int) -> Iterator[tuple[StreamRange, DumpHeader]]:
    offsets = read_stream_offsets(task.file.index_path)
    for stream_range in stream_ranges(task.file.path, offsets, task.file.size, streams_per_range):
        yield stream_range, task.header


class _PageReaderFn(beam.DoFn):
    """Shared by both readers: bytes → pages, counting every failure."""

    def __init__(self, max_page_bytes: int) -> None:
        self._max_page_bytes = max_page_bytes

    def setup(self) -> None:
        self._pages_read = counter("pages.read")
        self._failures = FailureRecorder("pages_failed")

    def _pages(self, blocks: Callable[[], Iterator[bytes]], header: DumpHeader, where: str) -> Iterator[WikiPage]:
        guarded = _GuardedBlocks(blocks)
        first_letter_case = header.site.first_letter_case
        for item in split_pages(iter(guarded), header.encoding, self._max_page_bytes):
            page = parse_page(item, header.encoding, first_letter_case) if isinstance(item, bytes) else item
            if isinstance(page, PageFailure):
                self._failures.fail(page.reason, page.page_id)
            else:
                self._pages_read.inc()
                yield page
        if guarded.error is not None:
            self._failures.fail(guarded.error, where)


class _ReadWholeFileFn(_PageReaderFn):
    def process(self, task: _FileTask) -> Iterator[WikiPage]:
        def blocks() -> Iterator[bytes]:
            with open_decompressed(task.file.path) as stream:
                stream.read(task.header.bom_length)  # skip the byte-order mark
                yield from iter_blocks(stream)

        yield from self._pages(blocks, task.header, task.file.path)


class _ReadStreamRangeFn(_PageReaderFn):
    def process(self, element: tuple[StreamRange, DumpHeader]) -> Iterator[WikiPage]:
        stream_range, header = element
        where = f"{stream_range.path}@{stream_range.start}"
        yield from self._pages(lambda: iter_range_blocks(stream_range), header, where)


class _GuardedBlocks:
    """Iterates over a block source, turning a truncated or corrupt stream into a recorded reason."""

    def __init__(self, blocks: Callable[[], Iterator[bytes]]) -> None:
        self._blocks = blocks
        self.error: str | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._blocks()
        except EOFError:
            self.error = "truncated_file"
        except (OSError, zlib.error):
            self.error = "corrupt_file"
