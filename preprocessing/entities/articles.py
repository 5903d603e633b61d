"""Pages → articles, in the two passes over the dump: titles first, then articles whose links are looked up.

- :class:`ReadTitles` (the title pass, Beam): each unit's article titles and redirects, no wikitext parsed,
  written as the unit's run of the title table (merged per part by ``resolution.BuildTitleTable``).
- :class:`ArticleExtractor` (the article pass, no Beam): one wikiextractor pass per article page
  (``WikitextParser``), its links resolved by the title table (``resolution.LinkResolver``): articles are made
  where their pages are read, and never cross a shuffle.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol

import apache_beam as beam

from preprocessing.beam.combiners import Smallest
from preprocessing.beam.metrics import FailureRecorder, record_counts
from preprocessing.beam.progress import ProgressReporter
from preprocessing.beam.setup_state import SetUpDoFn
from preprocessing.beam.split import SplitByKind
from preprocessing.defaults import DEFAULT_MAX_PAGE_BYTES, DEFAULT_MAX_REDIRECT_HOPS
from preprocessing.entities.resolution import LinkResolver
from preprocessing.entities.title_table import TitleEntry, TitleKind, TitleTable, write_title_run
from preprocessing.part_runs import run_path
from preprocessing.records import Article, WikiPage
from preprocessing.sources.reading import PageReader, SourceUnit
from preprocessing.sources.siteinfo import SiteInfo
from preprocessing.wikitext.parser import WikitextParser

ARTICLE_NAMESPACE = 0


class UnitArticles(Protocol):
    def articles(self, unit: SourceUnit, counts: Counter) -> Iterator[Article]: ...


class ArticleSource(Protocol):
    """What makes a unit's articles (``entities.articles.DumpArticles``, ``sources.documents.DocumentArticles``):
    configuration that pickles, opened once per worker (``open`` runs in ``DoFn.setup``)."""

    def open(self) -> UnitArticles: ...


def entity_link_counts(article: Article, counts: Counter) -> None:
    """Add the article's kept links to ``counts`` by entity title."""
    for paragraph in article.paragraphs:
        for link in paragraph.links:
            counts[link.target] += 1


@dataclass(frozen=True)
class ExtractionOptions:
    """How links are resolved.

    ``keep_missing_targets``: keep links whose target page is not in the dump (for dumps that are a
    slice of a wiki, such as the samples); a full dump drops them as red links.
    ``max_redirect_hops``: redirect chains longer than this are dropped (and counted).
    ``keep_section_links``: keep ``[[#Section|...]]`` links as mentions of the page itself; by default they
    are dropped (``links_dropped.section_link``), as LUKE did.
    """

    keep_missing_targets: bool = False
    max_redirect_hops: int = DEFAULT_MAX_REDIRECT_HOPS
    keep_section_links: bool = False

    def __post_init__(self) -> None:
        if self.max_redirect_hops < 1:
            raise ValueError(f"max_redirect_hops must be at least 1, got {self.max_redirect_hops}")


@dataclass(frozen=True)
class ReadingOptions:
    """Which pages are read: ``max_pages`` (keep the article pages of smallest ids), ``abstract_only`` (cut each
    article at its first heading), and the dump reading's limits."""

    max_pages: int | None = None
    abstract_only: bool = False
    max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES
    allow_damaged: bool = False


def page_kind(page: WikiPage) -> str:
    """``articles``, ``redirects`` or ``other_namespace``."""
    if page.namespace != ARTICLE_NAMESPACE:
        return "other_namespace"
    return "redirects" if page.redirect is not None else "articles"


class ReadTitles(beam.PTransform):
    """PCollection[SourceUnit] → PCollection[dict]: each unit's article titles and redirects written as its run of
    the title table's ``parts`` under ``runs_dir`` (``title_table.write_title_run``), and what each unit read
    (``pages.read``, ``pages.<kind>``, ``pages_failed.<reason>``; with ``max_pages``, once: ``titles.max_page_id``,
    the largest of the ``max_pages`` smallest article page ids)."""

    def __init__(self, reading: ReadingOptions, runs_dir: str, parts: int, progress_dir: str | None = None) -> None:
        super().__init__()
        self._reading = reading
        self._fn = _ReadTitlesFn(reading, runs_dir, parts, progress_dir)

    def expand(self, units: beam.PCollection[SourceUnit]) -> beam.PCollection[dict]:
        read = units | "ReadUnitTitles" >> beam.ParDo(self._fn)
        kinds = read | "SplitKinds" >> SplitByKind({"reports": dict, "page_ids": int})
        if self._reading.max_pages is None:
            return kinds["reports"]
        kept = kinds["page_ids"] | "SmallestPageIds" >> Smallest(self._reading.max_pages)
        return (kinds["reports"], kept | "KeptReport" >> beam.Map(_kept_report)) | "AllReports" >> beam.Flatten()


def _kept_report(page_ids: list[int]) -> dict:
    return {"titles.max_page_id": max(page_ids, default=-1)}


class _ReadTitlesFn(SetUpDoFn):
    STATE = ("_reader", "_progress")

    def __init__(self, reading: ReadingOptions, runs_dir: str, parts: int, progress_dir: str | None) -> None:
        super().__init__()
        self._reading = reading
        self._runs_dir = runs_dir
        self._parts = parts
        self._progress_dir = progress_dir

    def build_state(self) -> None:
        self._reader = PageReader(self._reading.max_page_bytes, self._reading.allow_damaged)
        self._progress = ProgressReporter(self._progress_dir) if self._progress_dir else None

    def process(self, unit: SourceUnit) -> Iterator[tuple[str, dict | int]]:
        counts: Counter = Counter()
        titles: list[tuple[str, TitleEntry, int]] = []
        for page in self._reader.pages(unit, counts):
            kind = page_kind(page)
            counts[f"pages.{kind}"] += 1
            if kind == "articles":
                titles.append((page.title, (TitleKind.ARTICLE.value, None), page.page_id))
            elif kind == "redirects":
                titles.append((page.title, (TitleKind.REDIRECT.value, page.redirect), -1))
        write_title_run(run_path(self._runs_dir, unit.index), titles, self._parts)
        if self._progress is not None:
            self._progress.add({"pages": counts["pages.read"]})
        record_counts(counts)
        yield "reports", dict(counts)
        if self._reading.max_pages is not None:
            page_ids = (page_id for _, (kind, _), page_id in titles if kind == TitleKind.ARTICLE)
            for page_id in heapq.nsmallest(self._reading.max_pages, page_ids):
                yield "page_ids", page_id

    def finish_bundle(self) -> None:
        if self._progress is not None:
            self._progress.flush()


class ArticleExtractor:
    """A unit's pages → its articles (main namespace, not redirects, with some text), links resolved (no Beam;
    create it in a DoFn's ``setup``: it records Beam metrics).

    ``max_page_id``: article pages above it are skipped (``--max-pages``: the title pass's largest kept id).
    Counts, in the ``counts`` given: those of ``PageReader``, ``pages.<kind>``, ``articles.beyond_max_pages``,
    ``pages_failed.extraction_error``, ``articles.without_text``, ``articles.parsed``, ``links_dropped.<reason>``
    for other_namespace, interwiki, invalid_title, section_link, empty_anchor (the parser), those of
    ``LinkResolver``, and ``text.template_leftovers_removed``.
    """

    def __init__(
        self,
        site: SiteInfo,
        resolver: LinkResolver,
        reading: ReadingOptions,
        keep_section_links: bool = False,
        max_page_id: int | None = None,
    ) -> None:
        self._parser = WikitextParser(site, keep_section_links)
        self._resolver = resolver
        self._reader = PageReader(reading.max_page_bytes, reading.allow_damaged)
        self._abstract_only = reading.abstract_only
        self._max_page_id = max_page_id
        self._failures = FailureRecorder("pages_failed")

    def articles(self, unit: SourceUnit, counts: Counter) -> Iterator[Article]:
        for page in self._reader.pages(unit, counts):
            kind = page_kind(page)
            counts[f"pages.{kind}"] += 1
            if kind != "articles":
                continue
            if self._max_page_id is not None and page.page_id > self._max_page_id:
                counts["articles.beyond_max_pages"] += 1
                continue
            article = self._parsed(lead_section(page) if self._abstract_only else page, counts)
            if article is not None:
                counts["articles.parsed"] += 1
                yield self._resolver.resolve(article, counts)

    def _parsed(self, page: WikiPage, counts: Counter) -> Article | None:
        try:
            parsed = self._parser.parse(page.page_id, page.title, page.wikitext)
        except Exception:  # wikiextractor's failure modes are many (recursion, regex, index errors)
            counts["pages_failed.extraction_error"] += 1
            self._failures.sample("extraction_error", page.page_id)
            return None
        for reason, count in parsed.dropped_links.items():
            counts[f"links_dropped.{reason}"] += count
        if parsed.removed_leftovers:
            counts["text.template_leftovers_removed"] += parsed.removed_leftovers
        if not parsed.paragraphs:
            counts["articles.without_text"] += 1
            return None
        return Article(page.page_id, page.title, parsed.paragraphs)


@dataclass(frozen=True)
class DumpArticles:
    """The articles of dump units, links looked up in the title table under ``table_dir`` (``table_parts``
    files): the article pass's ``ArticleSource`` for dumps."""

    site: SiteInfo
    table_dir: str
    table_parts: int
    extraction: ExtractionOptions
    reading: ReadingOptions
    max_page_id: int | None = None

    def open(self) -> ArticleExtractor:
        table = TitleTable(self.table_dir, self.table_parts)
        resolver = LinkResolver(table, self.extraction.keep_missing_targets, self.extraction.max_redirect_hops)
        return ArticleExtractor(self.site, resolver, self.reading, self.extraction.keep_section_links, self.max_page_id)


def lead_section(page: WikiPage) -> WikiPage:
    """``page`` with the wikitext of an article cut at its first section heading (``== History ==``)."""
    heading = _HEADING.search(page.wikitext)
    return page if heading is None else replace(page, wikitext=page.wikitext[: heading.start()])


_HEADING = re.compile(r"^=+[^=\n].*?=+[ \t]*$", re.MULTILINE)
