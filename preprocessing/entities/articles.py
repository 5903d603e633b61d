"""``ExtractArticles``: pages → articles of clean paragraphs whose links carry resolved entity titles.

One wikiextractor pass per article page (``WikitextParser``); redirect pages and article titles feed the
joins of ``resolution``; everything skipped is counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam

from preprocessing.beam.metrics import FailureRecorder, counter
from preprocessing.beam.progress import ProgressReporter
from preprocessing.beam.split import SplitByKind
from preprocessing.defaults import DEFAULT_MAX_REDIRECT_HOPS
from preprocessing.entities.resolution import Redirect, ResolveLinks, ResolveRedirects
from preprocessing.records import Article, Paragraph, WikiPage
from preprocessing.sources.siteinfo import SiteInfo
from preprocessing.wikitext.parser import WikitextParser

ARTICLE_NAMESPACE = 0


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


class ExtractArticles(beam.PTransform):
    """PCollection[WikiPage] → PCollection[Article] (main namespace, not redirects, with some text).

    ``site`` is the wiki's ``<siteinfo>`` (``sources.reading.read_site_info``): its namespace names decide
    which links point outside the articles. ``links_only`` (the entity vocabulary job, which reads nothing
    else) leaves each paragraph's text out once parsed, its links' offsets pointing into text that is not
    there: the link resolution's join by page then shuffles the links alone, not the whole text of the wiki.
    Counters: ``pages.articles|redirects|other_namespace``,
    ``pages_failed.extraction_error``, ``articles.without_text``, ``links_dropped.<reason>`` for
    other_namespace, interwiki, invalid_title, section_link, empty_anchor (here) and those of ``ResolveLinks``.
    """

    def __init__(
        self,
        site: SiteInfo,
        options: ExtractionOptions | None = None,
        progress_dir: str | None = None,
        links_only: bool = False,
    ) -> None:
        super().__init__()
        self._site = site
        self._options = options or ExtractionOptions()
        self._progress_dir = progress_dir  # where workers report pages and articles read (beam.progress)
        self._links_only = links_only

    def expand(self, pages: beam.PCollection[WikiPage]) -> beam.PCollection[Article]:
        parsed = (
            pages
            | "ParseWikitext"
            >> beam.ParDo(
                _ParseArticleFn(self._site, self._options.keep_section_links, self._progress_dir, self._links_only)
            )
            | "SplitPageKinds" >> SplitByKind({"articles": Article, "redirects": Redirect, "titles": str})
        )
        redirects = {
            "redirects": parsed["redirects"],
            "titles": parsed["titles"],
        } | "ResolveRedirects" >> ResolveRedirects(self._options.max_redirect_hops)
        return {
            "articles": parsed["articles"],
            "redirects": redirects,
            "titles": parsed["titles"],
        } | "ResolveLinks" >> ResolveLinks(self._options.keep_missing_targets)


class _ParseArticleFn(beam.DoFn):
    """Article pages → ("articles", Article with unresolved links) and ("titles", title); redirect pages →
    ("redirects", (source, target))."""

    def __init__(
        self, site: SiteInfo, keep_section_links: bool, progress_dir: str | None = None, links_only: bool = False
    ) -> None:
        self._site = site
        self._keep_section_links = keep_section_links
        self._progress_dir = progress_dir
        self._links_only = links_only

    def setup(self) -> None:
        self._parser = WikitextParser(self._site, self._keep_section_links)
        self._failures = FailureRecorder("pages_failed")
        self._articles = counter("pages.articles")
        self._redirects = counter("pages.redirects")
        self._other_namespace = counter("pages.other_namespace")
        self._without_text = counter("articles.without_text")
        self._progress = ProgressReporter(self._progress_dir) if self._progress_dir else None

    def finish_bundle(self) -> None:
        if self._progress is not None:
            self._progress.flush()

    def process(self, page: WikiPage) -> Iterator[tuple[str, Article | Redirect | str]]:
        if self._progress is not None:
            is_article = page.namespace == ARTICLE_NAMESPACE and page.redirect is None
            self._progress.add({"pages": 1, "articles": int(is_article), "wikitext_mb": len(page.wikitext) / 1e6})
        if page.namespace != ARTICLE_NAMESPACE:
            self._other_namespace.inc()
            return
        if page.redirect is not None:
            self._redirects.inc()
            yield "redirects", (page.title, page.redirect)
            return
        self._articles.inc()
        yield "titles", page.title
        try:
            parsed = self._parser.parse(page.page_id, page.title, page.wikitext)
        except Exception:  # wikiextractor's failure modes are many (recursion, regex, index errors)
            self._failures.fail("extraction_error", page.page_id)
            return
        for reason, count in parsed.dropped_links.items():
            counter(f"links_dropped.{reason}").inc(count)
        if parsed.removed_leftovers:
            counter("text.template_leftovers_removed").inc(parsed.removed_leftovers)
        if not parsed.paragraphs:
            self._without_text.inc()
            return
        paragraphs = parsed.paragraphs
        if self._links_only:
            paragraphs = tuple(Paragraph("", paragraph.links) for paragraph in paragraphs)
        yield "articles", Article(page.page_id, page.title, paragraphs)
