"""Wikitext → paragraphs of plain text with link spans, with one wikiextractor pass per page.

wikiextractor cleans the markup (templates, tables, references, files, formatting) and, with
``keepLinks``, leaves each kept internal link as ``<a href="quoted target">label</a>``. We cut those
tags out of its output, which gives the plain text and each link's span in it. A link trail
(``[[bus]]es``) belongs to the link's anchor, as in MediaWiki.

The text is the one LUKE trained on (wikipedia2vec's reading of the page with mwparserfromhell):
wikiextractor runs with ``HtmlFormatting``, so italics and bold lose their quote marks instead of turning
into ``"quoted"`` text, and list items stay, one paragraph each (without it, wikiextractor drops every list
item with its links). Its list markup (``<ul>``, ``<li>``…) and section headings (``<h2>``…) are removed
here, and a blank line closes each list before ``compact`` runs: ``compact`` drops the line that follows a
list otherwise. Section links (``[[#History|below]]``) name no other entity: they are dropped and counted
(``section_link``) unless ``keep_section_links``, which makes them links to the page itself. Brackets and
separators left empty by removed templates are cleaned (``leftovers``).

wikiextractor decides whether a ``[[prefix:...]]`` link keeps its text by asking ``prefix in
acceptedNamespaces``; :class:`_PrefixPolicy` answers from the wiki's own namespace names (so
``[[Star Trek: Voyager]]`` stays a link, ``[[Категория:...]]`` goes) and counts what it drops.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import unquote

from wikiextractor.extract import Extractor, clean, compact, wgUrlProtocols

from preprocessing.records import Link, Paragraph
from preprocessing.sources.siteinfo import SiteInfo
from preprocessing.wikitext.leftovers import without_leftovers
from preprocessing.wikitext.titles import WIKIMEDIA_PROJECT_PREFIXES, LinkTarget, TargetKind, classify_target

_ANCHOR = re.compile(r'<a href="([^"]*)">(.*?)</a>(\w*)', re.DOTALL)
_EXTERNAL = re.compile("(?i)^(?:" + "|".join(re.escape(protocol) for protocol in wgUrlProtocols) + ")")
_LANGUAGE_LINK_PREFIX = re.compile(r"\s*[a-z]{2,3}(-[a-z0-9]{1,8})*\s*")
_EXTERNAL_LINK = LinkTarget(TargetKind.INVALID, "")  # marks wikiextractor's <a> of an external link
# link targets a parser remembers (~300 bytes each). A classification costs ~3.5 µs (the enwiki sample), and 200,000
# saved no measurable time against none on either the sample or a 4 GB synthetic dump, while filling to ~44 MiB per
# worker: a small cache keeps the most-linked targets' savings at a bounded few MiB
TARGET_CACHE_SIZE = 20_000
_LIST_END = re.compile(r"^([*#;].*\n)(?![*#;])", re.MULTILINE)  # the last item of a list
_MARKUP_LINE = re.compile(r"</?(?:ul|ol|dl)>|<h(\d)>.*</h\1>")  # a list opening or closing, a heading
_LIST_ITEM = re.compile(r"<(li|dt|dd)>[*#:;]*(.*?)(?:</\1>|</<li>)")  # (wikiextractor closes # items so)


@dataclass(frozen=True)
class ParsedPage:
    """Paragraphs whose ``Link.target`` are normalised titles (redirects not resolved yet), the count of
    links dropped by kind (``TargetKind`` values and ``empty_anchor``), and of places where removed templates
    left empty brackets or separators (cleaned, ``preprocessing.wikitext.leftovers``)."""

    paragraphs: tuple[Paragraph, ...]
    dropped_links: Counter
    removed_leftovers: int = 0


class _PrefixPolicy:
    """Handed to wikiextractor as ``acceptedNamespaces``: which ``[[prefix:...]]`` links keep their text.

    Links into other namespaces (files, categories, ...) and interlanguage links (``[[fr:...]]``) are
    not part of the text; every other prefix (``Star Trek:``, ``wikt:``) is kept and classified later.
    """

    def __init__(self, site: SiteInfo) -> None:
        self._site = site
        self.dropped: Counter = Counter()

    def __contains__(self, prefix: str) -> bool:
        if self._site.namespace_of(prefix) is not None:
            self.dropped[TargetKind.OTHER_NAMESPACE.value] += 1
            return False
        if _LANGUAGE_LINK_PREFIX.fullmatch(prefix) and prefix.strip() not in WIKIMEDIA_PROJECT_PREFIXES:
            self.dropped[TargetKind.INTERWIKI.value] += 1
            return False
        return True


class WikitextParser:
    """Turns a page's wikitext into paragraphs with links, for one wiki (its ``SiteInfo``)."""

    def __init__(self, site: SiteInfo, keep_section_links: bool = False) -> None:
        self._site = site
        self._keep_section_links = keep_section_links
        self._targets: dict[str, LinkTarget] = {}  # href → classification, for every page this parser sees

    def parse(self, page_id: int, title: str, wikitext: str) -> ParsedPage:
        """Clean ``wikitext`` and return its paragraphs; raises whatever wikiextractor raises."""
        policy = _PrefixPolicy(self._site)
        extractor = Extractor(
            page_id,
            0,
            "",
            title,
            [],
            keepLinks=True,
            keepSections=False,
            HtmlFormatting=True,
            acceptedNamespaces=policy,
        )
        cleaned = clean(extractor, wikitext, expand_templates=False, html_safe=False)
        lines = compact(_LIST_END.sub(r"\1\n", cleaned), extractor=extractor)
        dropped = policy.dropped
        paragraphs = []
        removed_leftovers = 0
        for line in lines:
            text, links = self._text_and_links(_without_markup(line), title, dropped)
            text, links, removed = without_leftovers(text, links)
            removed_leftovers += removed
            stripped = text.strip()
            if stripped:
                offset = len(text) - len(text.lstrip())
                links = tuple(Link(link.start - offset, link.end - offset, link.target) for link in links)
                paragraphs.append(Paragraph(stripped, links))
        return ParsedPage(tuple(paragraphs), dropped, removed_leftovers)

    def _text_and_links(self, line: str, page_title: str, dropped: Counter) -> tuple[str, list[Link]]:
        """The plain text of a line of wikiextractor's output and its links' spans in it."""
        pieces: list[str] = []
        links: list[Link] = []
        length = 0
        cursor = 0
        for match in _ANCHOR.finditer(line):
            before = html.unescape(line[cursor : match.start()])
            pieces.append(before)
            length += len(before)
            href, label, trail = match.groups()
            anchor = html.unescape(label + trail)
            start, end = _trimmed_span(anchor, length)
            pieces.append(anchor)
            length += len(anchor)
            cursor = match.end()
            classified = self._targets.get(href) or self._classify(href, page_title)
            if classified is _EXTERNAL_LINK:
                continue  # an external link: its text stays, it is no entity
            if start == end:
                dropped["empty_anchor"] += 1
                continue
            if classified.kind is TargetKind.ARTICLE or (
                classified.kind is TargetKind.SECTION and self._keep_section_links
            ):
                links.append(Link(start, end, classified.title))
            else:
                dropped[classified.kind.value] += 1
        pieces.append(html.unescape(line[cursor:]))
        return "".join(pieces), links

    def _classify(self, href: str, page_title: str) -> LinkTarget:
        """Classify a link's quoted target and remember it, unless it names the page itself: a section
        link (``#History``) means a different page on every page, so it is never remembered."""
        target = unquote(href)
        classified = _EXTERNAL_LINK if _EXTERNAL.match(target) else classify_target(target, page_title, self._site)
        if classified.title != page_title:
            if len(self._targets) >= TARGET_CACHE_SIZE:
                self._targets.clear()
            self._targets[href] = classified
        return classified


def _without_markup(line: str) -> str:
    """A line of ``compact``'s output without its list and heading markup (a heading line becomes empty)."""
    if _MARKUP_LINE.fullmatch(line):
        return ""
    item = _LIST_ITEM.fullmatch(line)
    return item.group(2) if item else line


def _trimmed_span(anchor: str, offset: int) -> tuple[int, int]:
    """The span of ``anchor`` placed at ``offset``, without its leading/trailing whitespace."""
    stripped = anchor.strip()
    if not stripped:
        return offset, offset
    lead = len(anchor) - len(anchor.lstrip())
    return offset + lead, offset + lead + len(stripped)
