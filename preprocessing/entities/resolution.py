"""Link targets resolved through the title table: looked up per article, redirect chains followed by lookup.

No title crosses a shuffle: they travel through files (``part_runs``). English Wikipedia has ~17M titles (~10M of them
redirects): as a Python dict in every worker that is ~2-3 GB per process; the title table (``title_table``) is
~0.6 GB of files that every worker of a machine memory-maps once. The table holds each redirect's own target;
chains are followed when a link meets one (~1 % of links lead to a redirect), not with a join per hop.

- :class:`BuildTitleTable`: the title pass's runs → the title table's parts, merged by one work item each.
- :class:`LinkResolver` (no Beam): an article whose links carry normalised titles → the same article whose
  links carry resolved entity titles; links to missing pages, redirect loops and too-long chains dropped (or
  kept, for missing pages, with ``keep_missing_targets``), each occurrence counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import apache_beam as beam

from preprocessing.beam.progress import report_once
from preprocessing.defaults import DEFAULT_MAX_REDIRECT_HOPS
from preprocessing.entities.title_table import RUN_SCHEMA, TitleEntry, TitleKind, TitleTable, part_path, write_part
from preprocessing.part_runs import read_part
from preprocessing.records import Article, Link, Paragraph


class BuildTitleTable(beam.PTransform):
    """PCollection[int] (part indexes) → PCollection[dict]: each part of the title table merged from that part of
    every run in ``runs`` (``title_table.write_part``; articles above ``max_page_id`` left out) and written under
    ``directory``; each element says what one part holds (``table.<kind>``, ``table.duplicates``,
    ``table.beyond_max_pages``)."""

    def __init__(
        self,
        runs: list[str],
        directory: str,
        parts: int,
        max_page_id: int | None = None,
        progress_dir: str | None = None,
    ) -> None:
        super().__init__()
        self._runs = runs
        self._directory = directory
        self._parts = parts
        self._max_page_id = max_page_id
        self._progress_dir = progress_dir

    def expand(self, indexes: beam.PCollection[int]) -> beam.PCollection[dict]:
        return indexes | "WritePart" >> beam.Map(
            _write_part, self._runs, self._directory, self._parts, self._max_page_id, self._progress_dir
        ).with_output_types(dict)


def _write_part(
    index: int, runs: list[str], directory: str, parts: int, max_page_id: int | None, progress_dir: str | None
) -> dict:
    rows = read_part(runs, index, RUN_SCHEMA)
    counts = write_part(part_path(directory, index, parts), rows, max_page_id)
    report_once(progress_dir, {"parts": 1})
    return {f"table.{name}": count for name, count in counts.items()}


# A decision about one link target: (entity title or None when dropped, counter suffix, via redirect)
Decision = tuple[str | None, str | None, bool]


class LinkResolver:
    """Articles with normalised link targets → articles with resolved, kept links (no Beam).

    A link to an article keeps its title; a link to a redirect follows it, through at most ``max_hops`` redirect
    pages, to the article it ends at (a chain that comes back to a title it passed is a loop). Counts, in the
    ``counts`` given: ``links.parsed`` (links in), ``links.kept``, ``links.kept_missing_target`` (with
    ``keep_missing_targets``), ``links.through_redirect``,
    ``links_dropped.missing_target|redirect_loop|redirect_chain_too_long``.
    """

    def __init__(
        self, table: TitleTable, keep_missing_targets: bool = False, max_hops: int = DEFAULT_MAX_REDIRECT_HOPS
    ) -> None:
        if max_hops < 1:
            raise ValueError(f"max_hops must be at least 1, got {max_hops}")
        self._table = table
        self._keep_missing = keep_missing_targets
        self._max_hops = max_hops

    def resolve(self, article: Article, counts: Counter) -> Article:
        targets = sorted({link.target for paragraph in article.paragraphs for link in paragraph.links})
        entries = self._table.lookup(targets, counts)
        decisions = {
            target: self._decide(target, entry, counts) for target, entry in zip(targets, entries, strict=True)
        }
        paragraphs = tuple(
            Paragraph(paragraph.text, tuple(_resolve(paragraph.links, decisions, counts)))
            for paragraph in article.paragraphs
        )
        return Article(article.page_id, article.title, paragraphs)

    def _decide(self, target: str, entry: TitleEntry | None, counts: Counter) -> Decision:
        if entry is None:
            return _missing(target, self._keep_missing, False)
        if entry[0] == TitleKind.ARTICLE:
            return target, None, False
        return self._follow(target, entry[1], counts)

    def _follow(self, source: str, target: str, counts: Counter) -> Decision:
        """Where the redirect ``source`` → ``target`` ends."""
        passed = {source, target}
        for _ in range(self._max_hops):
            (entry,) = self._table.lookup([target], counts)
            if entry is None:
                return _missing(target, self._keep_missing, True)
            kind, next_target = entry
            if kind == TitleKind.ARTICLE:
                return target, None, True
            if next_target in passed:
                return None, "redirect_loop", True
            passed.add(next_target)
            target = next_target
        return None, "redirect_chain_too_long", True


def _missing(title: str, keep_missing: bool, through_redirect: bool) -> Decision:
    return (title if keep_missing else None), "missing_target", through_redirect


def _resolve(links: tuple[Link, ...], decisions: dict[str, Decision], counts: Counter) -> Iterator[Link]:
    for link in links:
        counts["links.parsed"] += 1
        title, reason, through_redirect = decisions[link.target]
        if title is None:
            counts[f"links_dropped.{reason}"] += 1
            continue
        counts["links.kept"] += 1
        if reason == "missing_target":
            counts["links.kept_missing_target"] += 1
        if through_redirect:
            counts["links.through_redirect"] += 1
        yield Link(link.start, link.end, title)
