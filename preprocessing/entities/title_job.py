"""The title pass and the table pass, the first jobs of both commands: the dump's titles and redirects → the
title table files.

The title pass reads every page but parses no wikitext; each unit writes its titles as a run (``part_runs``).
The table pass merges each part of the runs into the table; nothing crosses a shuffle but counts. The driver then
knows the table (:class:`TitleTableInfo`) that the article pass looks links up in, and what both passes counted
(checked by ``preprocessing.ledger``).
"""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.passes import PassRunner
from preprocessing.beam.reports import WriteCounts, read_counts
from preprocessing.entities.articles import ReadingOptions, ReadTitles
from preprocessing.entities.resolution import BuildTitleTable
from preprocessing.part_runs import parts_for_input, run_path
from preprocessing.sources.reading import SourceUnit

TABLE_DIR = "title_table"
RUNS_DIR = "title_runs"
TITLE_REPORT = "title_pass.json"
TABLE_REPORT = "table_pass.json"


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
    """Build the title pass into ``pipeline``: each unit's run under ``build_dir/title_runs``, the counts in
    ``build_dir/title_pass.json``."""
    _ = (
        pipeline
        | "Units" >> beam.Create(units, reshuffle=True).with_output_types(SourceUnit)
        | "ReadTitles" >> ReadTitles(reading, FileSystems.join(build_dir, RUNS_DIR), parts, progress_dir)
        | "WriteCounts" >> WriteCounts(FileSystems.join(build_dir, TITLE_REPORT))
    )


def table_pass(
    pipeline: beam.Pipeline,
    units: list[SourceUnit],
    build_dir: str,
    parts: int,
    max_page_id: int | None,
    progress_dir: str | None = None,
) -> None:
    """Build the table pass into ``pipeline``: the table's parts under ``build_dir/title_table``, the counts in
    ``build_dir/table_pass.json``."""
    runs = [run_path(FileSystems.join(build_dir, RUNS_DIR), unit.index) for unit in units]
    _ = (
        pipeline
        | "Parts" >> beam.Create(range(parts), reshuffle=True).with_output_types(int)
        | "BuildTitleTable"
        >> BuildTitleTable(runs, FileSystems.join(build_dir, TABLE_DIR), parts, max_page_id, progress_dir)
        | "WriteCounts" >> WriteCounts(FileSystems.join(build_dir, TABLE_REPORT))
    )


def build_title_table(
    units: list[SourceUnit],
    reading: ReadingOptions,
    build_dir: str,
    xml_bytes: int,
    passes: PassRunner,
) -> TitleTableInfo:
    """Run the title and table passes with ``passes`` and describe the table they wrote."""
    parts = parts_for_input(xml_bytes)
    progress_dir = passes.progress_dir("title")
    passes.run(
        lambda pipeline: title_pass(pipeline, units, reading, build_dir, parts, progress_dir),
        "title",
        ("pages",),
    )
    counts = read_counts(FileSystems.join(build_dir, TITLE_REPORT))
    max_page_id = counts.get("titles.max_page_id") if reading.max_pages is not None else None
    table_progress = passes.progress_dir("table")
    passes.run(
        lambda pipeline: table_pass(pipeline, units, build_dir, parts, max_page_id, table_progress), "table", ("parts",)
    )
    counts |= read_counts(FileSystems.join(build_dir, TABLE_REPORT))
    FileSystems.delete([FileSystems.join(build_dir, RUNS_DIR)])
    return TitleTableInfo(FileSystems.join(build_dir, TABLE_DIR), parts, max_page_id, counts)
