"""The title pass, the first job of both commands: the dump's titles and redirects → the title table files.

It reads every page but parses no wikitext; what crosses its shuffle is titles (grouped once into table parts).
The driver then knows the table (:class:`TitleTableInfo`) that the article pass looks links up in, and what the
pass read (its counts, checked by ``preprocessing.ledger``).
"""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.passes import PassRunner
from preprocessing.beam.reports import WriteCounts, read_counts
from preprocessing.entities.articles import ReadingOptions, ReadTitles
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
    build_dir: str,
    xml_bytes: int,
    passes: PassRunner,
) -> TitleTableInfo:
    """Run the title pass with ``passes`` and describe the table it wrote."""
    parts = table_parts(xml_bytes)
    progress_dir = passes.progress_dir("title")
    passes.run(
        lambda pipeline: title_pass(pipeline, units, reading, build_dir, parts, progress_dir),
        "title",
        ("pages",),
    )
    counts = read_counts(FileSystems.join(build_dir, TITLE_REPORT))
    max_page_id = counts.get("titles.max_page_id") if reading.max_pages is not None else None
    return TitleTableInfo(FileSystems.join(build_dir, TABLE_DIR), parts, max_page_id, counts)
