"""Reading MediaWiki XML dump files in parallel work items (``SourceUnit``), without shuffling their pages.

- Split dumps (``pages-articles1.xml-p1p41242.bz2``, ...) or plain ``.xml``: one unit per file.
- A multistream dump with its index: the index is read on the driver when the pipeline is built and cut
  into ranges of whole bz2 streams, one unit each, so that many workers read the same file at once.

The units are created as the jobs' elements on the driver, so that every runner spreads them (the DaskRunner
partitions a ``Create``'s elements, 128 a partition unless ``--dask_partition_size`` says otherwise, but keeps
whatever one element fans out to in that element's partition). Each unit's pages are then handled where they
are read: the jobs never shuffle page text (``PageReader`` is the plain reader; ``ReadDumpPages`` the Beam one).

Headers (``<siteinfo>``, encoding) and indexes are read on the driver when the pipeline is built: a file
that is missing, unreadable or not a dump fails the job before it starts, with a message naming it. A file that
turns out damaged while it is read (compressed data truncated or corrupt, XML ending before
``</mediawiki>``) fails the job with :class:`DamagedDumpError`, unless damage is allowed: then it is counted
as ``files_damaged.<reason>`` with its ``path@offset`` and the job goes on without the rest of that file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import apache_beam as beam

from preprocessing.beam.metrics import DAMAGED_FILES, FailureRecorder, record_counts
from preprocessing.beam.setup_state import SetUpDoFn
from preprocessing.defaults import DEFAULT_MAX_PAGE_BYTES, DEFAULT_STREAMS_PER_RANGE
from preprocessing.records import WikiPage
from preprocessing.sources.files import (
    DamagedDumpError,
    DumpFile,
    DumpHeader,
    expand_patterns,
    iter_file_blocks,
    multistream_index_path,
    read_header,
)
from preprocessing.sources.multistream import StreamRange, iter_range_blocks, read_stream_offsets, stream_ranges
from preprocessing.sources.siteinfo import SiteInfo, merge_site_infos
from preprocessing.sources.xml_pages import (
    DOCUMENT_END,
    TAIL_BYTES,
    PageFailure,
    ends_document,
    parse_page,
    split_pages,
)


@dataclass(frozen=True)
class FileTask:
    """A dump file and its header, as read on the driver."""

    file: DumpFile
    header: DumpHeader


@dataclass(frozen=True)
class RangeTask:
    """A range of whole bz2 streams of a multistream file, its file's header and the file's size."""

    stream_range: StreamRange
    header: DumpHeader
    file_size: int


@dataclass(frozen=True)
class SourceUnit:
    """One work item of the jobs: a whole dump file, a stream range of one, or (``--documents``) a documents
    file; ``index`` is its place in the input, which names what the unit writes."""

    index: int
    task: FileTask | RangeTask | str

    def describe(self) -> str:
        if isinstance(self.task, RangeTask):
            return f"{self.task.stream_range.path}@{self.task.stream_range.start}"
        return self.task.file.path if isinstance(self.task, FileTask) else self.task


def read_site_info(patterns: Sequence[str]) -> SiteInfo:
    """The ``<siteinfo>`` of the dumps matching ``patterns`` (all from one wiki), read on the driver."""
    return _read_headers(patterns)[1]


def _read_headers(patterns: Sequence[str]) -> tuple[list[FileTask], SiteInfo]:
    """The dump files matching ``patterns`` with their headers, and their wiki's ``<siteinfo>`` (raises
    ``ValueError`` for dumps of different wikis)."""
    tasks = [FileTask(file, read_header(file.path)) for file in expand_patterns(patterns)]
    return tasks, merge_site_infos([task.header.site for task in tasks], [task.file.path for task in tasks])


@dataclass(frozen=True)
class ReadingPlan:
    """What :class:`ReadDumpPages` reads, planned on the driver: the dump files and their wiki's ``<siteinfo>``,
    the files read whole (one reader each) and the stream ranges of the multistream files, cut from their
    indexes (``(range, header, file size)`` each)."""

    files: list[DumpFile]
    site: SiteInfo
    whole_files: list[FileTask]
    stream_ranges: list[RangeTask]

    def describe(self) -> list[str]:
        """One line per multistream file: how many ranges its index gave, or a warning that its index is missing
        (one worker then reads all of it)."""
        ranges = Counter(task.stream_range.path for task in self.stream_ranges)
        lines = [f"{path}: {count:,} stream ranges from its index, read in parallel" for path, count in ranges.items()]
        for file in self.files:
            index = multistream_index_path(file.path)
            if index is not None and file.index_path is None:
                lines.append(
                    f"warning: {file.path} is a multistream dump but its index {index} is missing: one worker reads "
                    "the whole file (hours for English Wikipedia); put the index next to it to read it in parallel"
                )
        return lines

    @property
    def units(self) -> list[SourceUnit]:
        """The work items: the whole files, then the stream ranges, in the order of the input."""
        tasks: list[FileTask | RangeTask] = [*self.whole_files, *self.stream_ranges]
        return [SourceUnit(index, task) for index, task in enumerate(tasks)]


def plan_reading(patterns: Sequence[str], streams_per_range: int = DEFAULT_STREAMS_PER_RANGE) -> ReadingPlan:
    """Read the headers of the dump files matching ``patterns`` and the indexes of the multistream ones.

    Raises :class:`DumpFileError` naming a file that is missing, not a dump, or whose index is damaged, and
    ``ValueError`` for dumps of different wikis."""
    tasks, site = _read_headers(patterns)
    ranges = []
    for task in tasks:
        if task.file.index_path is not None:
            offsets = read_stream_offsets(task.file.index_path)
            for stream_range in stream_ranges(task.file.path, offsets, task.file.size, streams_per_range):
                ranges.append(RangeTask(stream_range, task.header, task.file.size))
    files = [task.file for task in tasks]
    return ReadingPlan(files, site, [task for task in tasks if task.file.index_path is None], ranges)


class ReadDumpPages(beam.PTransform):
    """PBegin → PCollection[WikiPage]: every page of the dump files of ``plan`` (:func:`plan_reading`), read unit
    by unit (:class:`PageReader`; counters there)."""

    def __init__(
        self, plan: ReadingPlan, max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES, allow_damaged: bool = False
    ) -> None:
        super().__init__()
        self._plan = plan
        self._max_page_bytes = max_page_bytes
        self._allow_damaged = allow_damaged

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[WikiPage]:
        return (
            pbegin
            | "Units" >> beam.Create(self._plan.units, reshuffle=True).with_output_types(SourceUnit)
            | "ReadUnits" >> beam.ParDo(_ReadUnitFn(self._max_page_bytes, self._allow_damaged))
        )


class _ReadUnitFn(SetUpDoFn):
    STATE = ("_reader",)

    def __init__(self, max_page_bytes: int, allow_damaged: bool) -> None:
        super().__init__()
        self._max_page_bytes = max_page_bytes
        self._allow_damaged = allow_damaged

    def build_state(self) -> None:
        self._reader = PageReader(self._max_page_bytes, self._allow_damaged)

    def process(self, unit: SourceUnit) -> Iterator[WikiPage]:
        counts: Counter = Counter()
        yield from self._reader.pages(unit, counts)
        record_counts(counts)


class PageReader:
    """A dump unit's bytes → its pages, counting every failed page; a damaged file raises
    :class:`DamagedDumpError` (the job fails, naming it) unless damage is allowed, then it is counted. Create it
    in a DoFn (it records Beam metrics).

    Counts, in the ``counts`` given (``metrics.record_counts`` makes them counters): ``pages.read``,
    ``pages_failed.<reason>`` (malformed_xml,
    invalid_encoding, page_too_large, truncated_page; with sample page ids), ``files_damaged.<reason>``
    (truncated_file, corrupt_file, xml_ends_early; with ``path@offset`` samples).
    """

    def __init__(self, max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES, allow_damaged: bool = False) -> None:
        self._max_page_bytes = max_page_bytes
        self._allow_damaged = allow_damaged
        self._failures = FailureRecorder("pages_failed")
        self._damaged = FailureRecorder(DAMAGED_FILES)

    def pages(self, unit: SourceUnit, counts: Counter) -> Iterator[WikiPage]:
        task = unit.task
        if isinstance(task, RangeTask):
            blocks = iter_range_blocks(task.stream_range)
            ends_file = task.stream_range.end == task.file_size
            yield from self._pages(blocks, task.header, task.stream_range.path, ends_file, counts)
        else:
            blocks = iter_file_blocks(task.file, task.header.bom_length)
            yield from self._pages(blocks, task.header, task.file.path, True, counts)

    def _pages(
        self, blocks: Iterator[bytes], header: DumpHeader, path: str, ends_file: bool, counts: Counter
    ) -> Iterator[WikiPage]:
        """The pages in ``blocks``; ``ends_file`` when they run to the end of ``path`` (``</mediawiki>`` due)."""
        watched = _WatchedBlocks(blocks)
        first_letter_case = header.site.first_letter_case
        for item in split_pages(iter(watched), header.encoding, self._max_page_bytes):
            page = parse_page(item, header.encoding, first_letter_case) if isinstance(item, bytes) else item
            if isinstance(page, PageFailure):
                counts[f"pages_failed.{page.reason}"] += 1
                self._failures.sample(page.reason, page.page_id)
            else:
                counts["pages.read"] += 1
                yield page
        damage = watched.damage
        if damage is None and ends_file and not ends_document(watched.tail, header.encoding):
            damage = DamagedDumpError(
                f"damaged dump file {path}: the XML ends early, after {watched.size:,} bytes of XML without "
                f"{DOCUMENT_END}; reading stopped at the end of the file",
                "xml_ends_early",
                f"{path}@{watched.size}",
            )
        if damage is not None:
            if not self._allow_damaged:
                raise damage
            counts[f"{DAMAGED_FILES}.{damage.reason}"] += 1
            self._damaged.sample(damage.reason, damage.where)


class _WatchedBlocks:
    """Iterates over a block source, keeping its size, its last bytes and the damage that stopped it."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self.size = 0
        self.tail = b""
        self.damage: DamagedDumpError | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            for block in self._blocks:
                self.size += len(block)
                self.tail = (self.tail + block[-TAIL_BYTES:])[-TAIL_BYTES:]
                yield block
        except DamagedDumpError as error:
            self.damage = error
