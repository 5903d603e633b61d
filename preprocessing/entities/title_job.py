"""The title pass, the first job of both commands: the dump's titles and redirects → the title table files.

It reads every page but parses no wikitext; what crosses its shuffles is titles (the joins of redirect chains,
the grouping into table parts). The driver then knows the table (:class:`TitleTableInfo`) that the article pass
looks links up in, and what the pass read (its counts, checked by ``corpus.ledger``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.metrics import record_counts
from preprocessing.beam.passes import PassRunner
from preprocessing.beam.progress import ProgressReporter
from preprocessing.beam.reports import WriteCounts, read_counts
from preprocessing.beam.split import SplitByKind
from preprocessing.entities.articles import (
    ArticleSource,
    ExtractionOptions,
    ReadingOptions,
    ReadTitles,
    TitleCount,
    entity_link_counts,
)
from preprocessing.entities.resolution import BuildTitleTable
from preprocessing.entities.title_table import part_count
from preprocessing.sources.reading import SourceUnit

TABLE_DIR = "title_table"
TITLE_REPORT = "title_pass.json"
XML_BYTES_PER_TITLE = 5_000  # English Wikipedia: ~17M titles in ~95 GB of XML (errs towards more parts)


@dataclass(frozen=True)
class TitleTableInfo:
    """The title table the title pass wrote: where, in how many parts, the largest article page id kept (with
    ``--max-pages``) and the pass's counts."""

    directory: str
    parts: int
    max_page_id: int | None
    counts: dict[str, int]


def title_pass(
    pipeline: beam.Pipeline,
    units: list[SourceUnit],
    reading: ReadingOptions,
    extraction: ExtractionOptions,
    build_dir: str,
    parts: int,
    progress_dir: str | None = None,
) -> None:
    """Build the title pass into ``pipeline``: the table's parts under ``build_dir/title_table``, the counts in
    ``build_dir/title_pass.json``."""
    table_dir = FileSystems.join(build_dir, TABLE_DIR)
    read = (
        pipeline
        | "Units" >> beam.Create(units, reshuffle=True).with_output_types(SourceUnit)
        | "ReadTitles" >> ReadTitles(reading, progress_dir)
    )
    table = read | "BuildTitleTable" >> BuildTitleTable(table_dir, parts)
    _ = (
        (read["reports"], table)
        | "AllCounts" >> beam.Flatten()
        | "WriteCounts" >> WriteCounts(FileSystems.join(build_dir, TITLE_REPORT))
    )


def table_parts(xml_bytes: int) -> int:
    """How many parts the table of a dump of ``xml_bytes`` gets (``title_table.TITLES_PER_PART`` titles each)."""
    return part_count(xml_bytes // XML_BYTES_PER_TITLE)


def build_title_table(
    units: list[SourceUnit],
    reading: ReadingOptions,
    extraction: ExtractionOptions,
    build_dir: str,
    xml_bytes: int,
    passes: PassRunner,
) -> TitleTableInfo:
    """Run the title pass with ``passes`` and describe the table it wrote."""
    parts = table_parts(xml_bytes)
    progress_dir = passes.progress_dir("title")
    passes.run(
        lambda pipeline: title_pass(pipeline, units, reading, extraction, build_dir, parts, progress_dir),
        "title",
        ("pages",),
    )
    counts = read_counts(FileSystems.join(build_dir, TITLE_REPORT))
    max_page_id = counts.get("titles.max_page_id") if reading.max_pages is not None else None
    return TitleTableInfo(FileSystems.join(build_dir, TABLE_DIR), parts, max_page_id, counts)


class CountUnitLinks(beam.PTransform):
    """PCollection[SourceUnit] → ``{"reports": PCollection[dict], "entity_counts": PCollection[TitleCount]}``:
    the vocabulary job's article pass, which parses and resolves the links of each unit's articles and counts
    them by entity title (no sentences, no tokens, nothing written)."""

    def __init__(self, source: ArticleSource, progress_dir: str | None = None) -> None:
        super().__init__()
        self._fn = _CountUnitLinksFn(source, progress_dir)

    def expand(self, units: beam.PCollection[SourceUnit]):
        return (
            units
            | "CountUnitLinks" >> beam.ParDo(self._fn)
            | "SplitOutputs" >> SplitByKind({"reports": dict, "entity_counts": TitleCount})
        )


class _CountUnitLinksFn(beam.DoFn):
    def __init__(self, source: ArticleSource, progress_dir: str | None) -> None:
        self._source = source
        self._progress_dir = progress_dir

    def setup(self) -> None:
        self._articles = self._source.open()
        self._progress = ProgressReporter(self._progress_dir) if self._progress_dir else None

    def process(self, unit: SourceUnit) -> Iterator[tuple[str, dict | TitleCount]]:
        counts: Counter = Counter()
        entities: Counter = Counter()
        for article in self._articles.articles(unit, counts):
            entity_link_counts(article, entities)
        if self._progress is not None:
            self._progress.add({"pages": counts["pages.read"], "articles": counts["articles.parsed"]})
        record_counts(counts)
        yield "reports", dict(counts)
        for title_count in entities.items():
            yield "entity_counts", title_count

    def finish_bundle(self) -> None:
        if self._progress is not None:
            self._progress.flush()

    def __getstate__(self) -> dict:
        return {"_source": self._source, "_progress_dir": self._progress_dir}
