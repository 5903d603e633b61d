"""Write a SYNTHETIC MediaWiki multistream dump of about SIZE_MB MB of XML, and its index: benchmark input at
Wikipedia's proportions, not test data.

    python benchmarks/synthetic_dump.py 64 --output /tmp/enwiki-synthetic-pages-articles-multistream.xml.bz2 \\
        [--seed 0] [--pages-per-stream 100] [--workers 2] [--stats stats.json]

FILE must be named ``...-pages-articles-multistream.xml.bz2``; ``...-pages-articles-multistream-index.txt.bz2`` is
written next to it, laid out as Wikimedia does: a first bz2 stream with ``<mediawiki>`` and the enwiki sample's
``<siteinfo>``, one stream per ``--pages-per-stream`` pages, a last stream with ``</mediawiki>``; index lines
``offset:page_id:title``. The same seed gives the same bytes whatever ``--workers``; memory holds one stream per
worker. Workers generate and compress whole streams.

The text is the real enwiki sample's (``luke sample-dump``), cut into sentences and blocks (lead templates,
headings, lists, images, templates, tables) with their markup and recombined; the sample's article links keep
their form (piped label, trail, lower-case first letter) and get new targets among generated titles (unique
pseudo-words; the sample's title word counts and parenthesised qualifiers).

Targets, [S] measured on the sample at start-up, [W] Wikipedia-scale figures its 206 pages cannot show:
- links per article: log-normal, mean 27 [W], the log-spread of the sample's articles [S]; text is added until
  an article holds its links, so text per link is the sample's [S], and so is the lead templates' share of them
  [S]; these are links as written: the jobs' parser drops those inside templates, tables, refs and captions;
- link targets: Zipf (exponent 1: the most linked article gets 1 / ln(ranks) of the links) over articles and
  missing pages, these spread evenly over the ranks so that 30 % of the links miss [W]; links to redirects: the
  sample's share among its links to pages it holds [S];
- piped links, link trails, lower-case first letters: the sample's shares of links [S];
- articles with templates, tables, refs; with a lead template block: the sample's shares [S];
- redirects: geometric count per article, mean 1.5 [W]; 1 % in chains and 0.2 % in two-redirect cycles,
  more than on Wikipedia (bots mend them daily) so that every dump exercises them; the text after
  ``#REDIRECT [[...]]`` is one of the sample's redirects' [S];
- other namespaces: 0.8 pages per article, as enwiki's pages-articles dump holds [W] (the sample: 1 page),
  split over Talk, User, Wikipedia, File, Template and Category in the shares of the sample's links into them,
  plus one [S].

It prints the statistics measured on its own output next to these targets (``--stats`` writes both as JSON).
"""

from __future__ import annotations

import argparse
import bz2
import hashlib
import itertools
import json
import math
import multiprocessing
import random
import re
import statistics
import sys
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from luke.quiet import filter_known_log_records
from preprocessing.records import WikiPage
from preprocessing.sources.sample import fetch_sample_dump
from preprocessing.sources.siteinfo import SiteInfo, parse_site_info
from preprocessing.sources.xml_pages import parse_page, split_pages
from preprocessing.wikitext.titles import TargetKind, classify_target

NAME_SUFFIX = "-pages-articles-multistream.xml.bz2"
FOOTER = b"</mediawiki>\n"
MEAN_LINKS = 27.0
MISSING_SHARE = 0.3
REDIRECTS_PER_ARTICLE = 1.5
CHAIN_SHARE = 0.01
CYCLE_SHARE = 0.002
OTHER_PAGES_PER_ARTICLE = 0.8
REDIRECT_STOP = 1 / (1 + REDIRECTS_PER_ARTICLE)  # P(0) of the geometric redirect count: P(n or more) = (1 - P(0))**n
# An article's redirect r > 0 points to redirect r - 1 with this probability: the share of redirects with r > 0 is
# 1 - P(0). Redirects 2k and 2k + 1 point to each other with the second: the share of redirects in such pairs is
# 2 (1 - P(0)) / (2 - P(0)).
CHAIN_CHANCE = CHAIN_SHARE / (1 - REDIRECT_STOP)
CYCLE_CHANCE = CYCLE_SHARE * (2 - REDIRECT_STOP) / (2 * (1 - REDIRECT_STOP))
OTHER_NAMESPACES = ("Talk", "User", "Wikipedia", "File", "Template", "Category")
MAX_REDIRECTS = 64  # title numbers reserved per article for its redirects (more than 64: probability ~1e-14)
MAX_OTHER_PAGES = int(OTHER_PAGES_PER_ARTICLE) + 1  # title numbers reserved per article for its other pages
BLOCK_KINDS = ("heading", "list", "file", "template")  # blocks that follow paragraphs at the sample's rates
POOL_KINDS = ("lead", "sentence", "table", *BLOCK_KINDS)
FEATURE_MARKS = (("templates", "{{"), ("tables", "{|"), ("refs", "<ref"))  # an article feature: its mark
ARTICLE_FEATURES = tuple(name for name, _ in FEATURE_MARKS)
LINK_KINDS = ("missing", "redirect", "piped", "trail", "lowercase")  # link statistics, shares of all links
CALIBRATION_SLOTS = 300  # articles generated (with their redirects and other pages) to size the dump
MIN_ARTICLES = 100  # (~1 MB) so that some articles have redirects (P(none) = 0.4 ** 100)
PROGRESS_SECONDS = 10.0
MASK64 = (1 << 64) - 1
TITLE_MULTIPLIER = 0x9E3779B1  # odd: multiplying by it permutes the 32-bit title codes
TITLE_OFFSET = 0x5851F42D  # per seed: title number 0 is not code 0 (one syllable)
# Primes above any article count, so that multiplying by them modulo the article count permutes the articles:
ARTICLE_ORDER = 2654435761  # popularity rank → position in the dump
REDIRECT_ORDER = 4294967291  # position in the dump → the article whose redirects follow it
# Syllables: consonant + vowel + optional coda; no coda is an onset, so a title's syllables are read back uniquely.
SYLLABLES = tuple(onset + vowel + coda for onset in "bdfghjkmptvz" for vowel in "aeiou" for coda in ("", *"lnrs"))


# ----------------------------------------------------------------------------------------------- the sample


@dataclass(frozen=True)
class SampleLink:
    """A link to an article as the sample writes it: ``[[written|label]]trail`` (``label`` None: no pipe)."""

    written: str
    label: str | None
    trail: str

    @property
    def text(self) -> str:
        """What the reader sees."""
        return (self.written if self.label is None else self.label) + self.trail


@dataclass(frozen=True)
class Piece:
    """Sample wikitext with its article links cut out: ``texts[i]`` precedes ``links[i]``, ``texts[-1]`` ends it."""

    texts: tuple[str, ...]
    links: tuple[SampleLink, ...]

    @property
    def features(self) -> tuple[bool, bool]:
        """(holds a ``<ref``, holds a template)."""
        text = "".join(self.texts)
        return "<ref" in text, "{{" in text


@dataclass(frozen=True)
class SampleProfile:
    """What the generator takes from the enwiki sample: its header, its text in pieces, and its proportions."""

    header: str
    site: SiteInfo
    pools: dict[tuple[str, bool, bool], tuple[Piece, ...]]  # (kind, refs allowed, templates allowed) → pieces
    paragraph_sentences: tuple[int, ...]
    block_rates: dict[str, float]  # blocks of each BLOCK_KINDS per paragraph
    category_counts: tuple[int, ...]
    article_shares: dict[str, float]  # lead, templates, tables, refs
    link_shares: dict[str, float]  # piped, trail, lowercase, to_redirect, in_lead
    link_log_spread: float
    redirect_tails: tuple[str, ...]
    title_words: tuple[int, ...]
    qualifiers: tuple[str, ...]
    qualifier_share: float
    namespace_weights: dict[int, float]


_LINK = re.compile(r"\[\[([^\[\]|\n]+)(?:\|([^\[\]\n]*))?\]\]([a-z]*)")
_NESTING = re.compile(r"\[\[|\]\]|\{\{|\}\}|<ref[^>]*/>|<ref[^>]*>|</ref>")
_SENTENCE_END = re.compile(r"(?P<end>[.!?][\"')]*(?:<ref[^>]*/>|<ref[^>]*>.*?</ref>)*)\s+(?=[A-Z\[\"'])")
_HEADING = re.compile(r"=+[^=].*=+")
_QUALIFIER = re.compile(r" \(([^()]+)\)$")


def read_sample(path: Path) -> tuple[str, list[WikiPage]]:
    """The sample dump's header (everything before its first page) and its pages."""
    with bz2.open(path) as stream:
        xml = stream.read()
    pages = [parse_page(data, "utf-8") for data in split_pages(iter([xml]), "utf-8")]
    return xml[: xml.index(b"  <page>")].decode(), [page for page in pages if isinstance(page, WikiPage)]


def cut_links(text: str, site: SiteInfo) -> Piece:
    """``text`` with its links to articles cut out (other namespaces, interwiki and sections stay text)."""
    texts, links, start = [], [], 0
    for match in _LINK.finditer(text):
        written, label, trail = match.groups()
        if classify_target(written, "", site).kind is TargetKind.ARTICLE:
            texts.append(text[start : match.start()])
            links.append(SampleLink(written, label, trail))
            start = match.end()
    texts.append(text[start:])
    return Piece(tuple(texts), tuple(links))


def nested_spans(line: str) -> list[tuple[int, int]] | None:
    """The outermost ``[[...]]``, ``{{...}}`` and ``<ref>...</ref>`` spans of ``line``; None when unbalanced."""
    spans, depth, start = [], 0, 0
    for match in _NESTING.finditer(line):
        token = match.group()
        if token.endswith("/>"):
            continue
        if token in ("]]", "}}", "</ref>"):
            depth -= 1
            if depth < 0:
                return None
            if depth == 0:
                spans.append((start, match.end()))
        else:
            start = match.start() if depth == 0 else start
            depth += 1
    return spans if depth == 0 else None


def split_sentences(line: str) -> list[str]:
    """A prose line's sentences, cut after ``.!?`` (and the refs that follow) outside links, templates and refs."""
    spans = nested_spans(line)
    if spans is None:
        return []
    starts = [start for start, _ in spans]
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(line):
        inside = bisect_right(starts, match.start()) - 1
        if inside >= 0 and match.start() < spans[inside][1]:
            continue
        sentences.append(line[start : match.end("end")])
        start = match.end()
    sentences.append(line[start:])
    return [sentence for sentence in sentences if sentence.strip()]


def line_kind(line: str) -> str | None:
    """The kind of block a line of article wikitext starts; None for blank and non-text lines."""
    stripped = line.strip()
    if stripped[:1] in ("|", "!", "}", "<"):  # inside a template or table opened mid-line; markup lines
        return None
    if stripped.startswith("{{"):
        return "template"
    if stripped.startswith("{|"):
        return "table"
    if _HEADING.fullmatch(stripped):
        return "heading"
    if stripped.startswith(("[[File:", "[[Image:")):
        return "file"
    if stripped.startswith("[[Category:"):
        return "category"
    if stripped[:1] in ("*", "#", ":", ";"):
        return "list"
    return "prose" if re.search(r"[a-z]{2,} [a-z]{2,}", stripped) else None


def article_blocks(wikitext: str) -> list[tuple[str, str]]:
    """(kind, text) of each block of an article: multi-line templates and tables whole, list lines together,
    the templates before the first paragraph together as the ``lead`` block."""
    blocks: list[tuple[str, str]] = []
    lines = iter(wikitext.split("\n"))
    in_lead = True
    for line in lines:
        kind = line_kind(line)
        if kind is None:
            continue
        text = "\n".join([line, *_block_continuation(kind, line, lines)])
        in_lead &= kind != "prose"
        if kind == "template" and in_lead:
            kind = "lead"
        if blocks and blocks[-1][0] == kind and kind in ("list", "lead"):
            blocks[-1] = (kind, blocks[-1][1] + "\n" + text)
        else:
            blocks.append((kind, text))
    return blocks


def _block_continuation(kind: str, line: str, lines: Iterator[str]) -> Iterator[str]:
    """The lines after ``line`` that belong to its template or table, up to the one that closes it."""
    if kind == "template":
        depth = line.count("{{") - line.count("}}")
        while depth > 0 and (line := next(lines, None)) is not None:
            depth += line.count("{{") - line.count("}}")
            yield line
    elif kind == "table":
        depth = 1
        while depth > 0 and (line := next(lines, None)) is not None:
            depth += line.lstrip().startswith("{|") - line.lstrip().startswith("|}")
            yield line


def article_pieces(blocks: list[tuple[str, str]], site: SiteInfo) -> Iterator[tuple[str, list[Piece]]]:
    """The pieces of an article's blocks by kind: a paragraph's sentences, or a whole block of another kind."""
    for kind, text in blocks:
        if kind == "prose":
            sentences = [cut_links(sentence, site) for sentence in split_sentences(text)]
            if sentences:
                yield "sentence", sentences
        elif kind in POOL_KINDS:
            yield kind, [cut_links(text, site)]


def measure_sample(path: Path) -> SampleProfile:
    """Cut the sample's articles into pieces and measure the proportions the generator reproduces."""
    header, pages = read_sample(path)
    site = parse_site_info(header)
    articles = [page for page in pages if page.namespace == 0 and page.redirect is None]
    pieces: dict[str, list[Piece]] = {kind: [] for kind in POOL_KINDS}
    paragraph_sentences, category_counts, link_counts, leads = [], [], [], 0
    for article in articles:
        blocks = article_blocks(article.wikitext)
        leads += any(kind == "lead" for kind, _ in blocks)
        category_counts.append(sum(kind == "category" for kind, _ in blocks))
        links = 0
        for kind, cut in article_pieces(blocks, site):
            pieces[kind] += cut
            paragraph_sentences += [len(cut)] if kind == "sentence" else []
            links += sum(len(piece.links) for piece in cut)
        link_counts.append(links)
    sample_links = [link for kind_pieces in pieces.values() for piece in kind_pieces for link in piece.links]
    return SampleProfile(
        header=header,
        site=site,
        pools=_pools(pieces),
        paragraph_sentences=tuple(paragraph_sentences),
        block_rates={kind: len(pieces[kind]) / len(paragraph_sentences) for kind in BLOCK_KINDS},
        category_counts=tuple(category_counts),
        article_shares={"lead": leads / len(articles), **_feature_shares(articles)},
        link_shares=_link_shares(sample_links, pages, site)
        | {"in_lead": sum(len(piece.links) for piece in pieces["lead"]) / len(sample_links)},
        link_log_spread=statistics.pstdev(math.log(count) for count in link_counts if count),
        redirect_tails=tuple(_redirect_tail(page.wikitext) for page in pages if page.redirect is not None),
        title_words=tuple(len(_QUALIFIER.sub("", page.title).split()) for page in pages),
        qualifiers=tuple(match.group(1) for page in pages if (match := _QUALIFIER.search(page.title))),
        qualifier_share=sum(bool(_QUALIFIER.search(page.title)) for page in pages) / len(pages),
        namespace_weights=_namespace_weights(pages, site),
    )


def _pools(pieces: dict[str, list[Piece]]) -> dict[tuple[str, bool, bool], tuple[Piece, ...]]:
    """Each kind's pieces an article may use, by (refs allowed, templates allowed); ``ref_sentence``: the
    sentences with a ref (an article with refs starts with one)."""
    pieces = {**pieces, "ref_sentence": [piece for piece in pieces["sentence"] if piece.features[0]]}
    return {
        (kind, refs, templates): tuple(
            piece for piece in kind_pieces if (refs or not piece.features[0]) and (templates or not piece.features[1])
        )
        for kind, kind_pieces in pieces.items()
        for refs in (False, True)
        for templates in (False, True)
    }


def _feature_shares(articles: list[WikiPage]) -> dict[str, float]:
    """The shares of articles with templates, tables and refs."""
    return {name: sum(mark in article.wikitext for article in articles) / len(articles) for name, mark in FEATURE_MARKS}


def _link_shares(links: list[SampleLink], pages: list[WikiPage], site: SiteInfo) -> dict[str, float]:
    redirects = {page.title: page.redirect is not None for page in pages}
    inside = [
        redirects[title] for link in links if (title := classify_target(link.written, "", site).title) in redirects
    ]
    return {
        "piped": sum(link.label is not None for link in links) / len(links),
        "trail": sum(bool(link.trail) for link in links) / len(links),
        "lowercase": sum(link.written[:1].islower() for link in links) / len(links),
        "to_redirect": sum(inside) / len(inside),
    }


def _redirect_tail(wikitext: str) -> str:
    """What follows ``#REDIRECT [[...]]`` in a redirect page (usually redirect category templates)."""
    return re.sub(r"^\s*#REDIRECT\s*\[\[[^\]]*\]\]", "", wikitext, flags=re.IGNORECASE)


def _namespace_weights(pages: list[WikiPage], site: SiteInfo) -> dict[int, float]:
    """Each of OTHER_NAMESPACES' share of the sample's links into them, each counted once more."""
    numbers = {name: site.namespace_of(name) for name in OTHER_NAMESPACES}
    counts = Counter(numbers.values())
    for page in pages:
        for match in _LINK.finditer(page.wikitext):
            target = classify_target(match.group(1), "", site)
            if target.kind is TargetKind.OTHER_NAMESPACE:
                counts[site.namespace_of(target.title.split(":", 1)[0])] += 1
    total = sum(counts[number] for number in numbers.values())
    return {number: counts[number] / total for number in numbers.values()}


# ------------------------------------------------------------------------------------------ titles and links


def mix64(value: int) -> int:
    """SplitMix64's finaliser: a 64-bit value → a well-mixed 64-bit value."""
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9 & MASK64
    value = (value ^ (value >> 27)) * 0x94D049BB133111EB & MASK64
    return value ^ (value >> 31)


def unit(*keys: int) -> float:
    """A uniform number in [0, 1) that depends only on ``keys``."""
    value = 0
    for key in keys:
        value = mix64((value ^ key) + 0x9E3779B97F4A7C15 & MASK64)
    return (value >> 11) / (1 << 53)


def missing_density(articles: int) -> float:
    """The share of ranks, spread evenly from the first, that must be missing pages for MISSING_SHARE of the
    Zipf-drawn links to miss (more than MISSING_SHARE: the most linked ranks exist)."""
    low, high = MISSING_SHARE, 0.9
    for _ in range(30):
        density = (low + high) / 2
        ranks = int(articles / (1 - density))
        missing = np.ceil(np.arange(1, int(ranks * density) + 1) / density)  # rank k misses if ⌊k·d⌋ > ⌊(k-1)·d⌋
        share = np.log1p(1 / missing).sum() / math.log(ranks + 1)  # P(rank = k) = ln((k + 1) / k) / ln(ranks + 1)
        low, high = (density, high) if share < MISSING_SHARE else (low, density)
    return density


def count_with_mean(u: float, mean: float) -> int:
    """``int(mean)`` or one more, with probability the fraction of ``mean`` (``u`` uniform in [0, 1))."""
    return int(mean) + (u < mean % 1)


@dataclass(frozen=True)
class TitleMaker:
    """Unique titles from numbers below 2**32: pseudo-words, split into the sample's word counts, some with one
    of its parenthesised qualifiers."""

    seed: int
    word_counts: tuple[int, ...]
    qualifiers: tuple[str, ...]
    qualifier_share: float

    def __call__(self, number: int) -> str:
        code = (number * TITLE_MULTIPLIER + (self.seed + 1) * TITLE_OFFSET) & 0xFFFFFFFF
        syllables, rest = [], code + 1  # bijective numeration in base len(SYLLABLES): no two codes alike
        while rest:
            rest, digit = divmod(rest - 1, len(SYLLABLES))
            syllables.append(SYLLABLES[digit])
        choice = mix64(code)
        words = min(self.word_counts[choice % len(self.word_counts)], len(syllables))
        cuts = [len(syllables) * index // words for index in range(words + 1)]
        parts = ["".join(syllables[a:b]) for a, b in itertools.pairwise(cuts)]
        proper = choice >> 20 & 1
        title = " ".join(part.capitalize() if proper or index == 0 else part for index, part in enumerate(parts))
        if (choice >> 21) % 10_000 < self.qualifier_share * 10_000:
            title += f" ({self.qualifiers[(choice >> 40) % len(self.qualifiers)]})"
        return title


@dataclass(frozen=True)
class Universe:
    """The titles of a dump of ``articles`` articles and where links and redirects point, from the seed alone.

    Title numbers: article ``i`` (its position in the dump) is ``i``; missing page ``j`` is ``articles + j``;
    redirect ``r`` of article ``i`` is ``articles + ranks + i * MAX_REDIRECTS + r``; other pages' names follow.
    """

    articles: int
    seed: int
    titles: TitleMaker
    redirect_link_share: float  # of the links to existing pages
    missing_density: float  # the share of ranks that are missing pages (``missing_density``)

    @property
    def ranks(self) -> int:
        """The size of the title universe that links are drawn from (articles and missing pages)."""
        return int(self.articles / (1 - self.missing_density))

    @property
    def title_numbers(self) -> int:
        """How many title numbers the dump uses (TitleMaker makes 2**32)."""
        return self.other_number(self.articles, 0)

    def link_target(self, rng: random.Random) -> tuple[str, str]:
        """A Zipf-drawn link target and its kind: ``article``, ``redirect`` or ``missing``."""
        rank = int((self.ranks + 1) ** rng.random())  # P(rank) ∝ 1/rank
        missing = int(rank * self.missing_density)  # missing ranks up to this one
        popularity = rank - 1 - missing
        if missing > int((rank - 1) * self.missing_density) or popularity >= self.articles:
            return self.titles(self.articles + missing), "missing"
        article = popularity * ARTICLE_ORDER % self.articles
        if rng.random() < self.redirect_link_share:
            while not (redirects := self.redirect_count(article)):  # the next article in the dump that has some
                article = (article + 1) % self.articles
            return self.titles(self.redirect_number(article, rng.randrange(redirects))), "redirect"
        return self.titles(article), "article"

    def redirect_count(self, article: int) -> int:
        """Geometric, mean REDIRECTS_PER_ARTICLE."""
        u = unit(self.seed, 1, article)
        return min(MAX_REDIRECTS, int(math.log1p(-u) / math.log(1 - REDIRECT_STOP)))

    def redirect_number(self, article: int, redirect: int) -> int:
        return self.articles + self.ranks + article * MAX_REDIRECTS + redirect

    def other_number(self, position: int, index: int) -> int:
        return self.redirect_number(self.articles, 0) + position * MAX_OTHER_PAGES + index

    def redirect_target(self, article: int, redirect: int) -> tuple[str, str]:
        """The target of a redirect and its kind: ``cycle`` (redirects 2k and 2k+1 point to each other),
        ``chain`` (to the article's previous redirect) or ``article``."""
        partner = redirect ^ 1
        if partner < self.redirect_count(article) and unit(self.seed, 2, article, redirect // 2) < CYCLE_CHANCE:
            return self.titles(self.redirect_number(article, partner)), "cycle"
        if redirect and unit(self.seed, 3, article, redirect) < CHAIN_CHANCE:
            return self.titles(self.redirect_number(article, redirect - 1)), "chain"
        return self.titles(article), "article"

    def redirected_article(self, position: int) -> int:
        """The article whose redirects follow article ``position`` in the dump."""
        return position * REDIRECT_ORDER % self.articles

    def other_pages(self, position: int) -> int:
        return count_with_mean(unit(self.seed, 4, position), OTHER_PAGES_PER_ARTICLE)

    def slot_size(self, position: int) -> int:
        """Pages of slot ``position``: the article, the redirects of ``redirected_article``, other pages."""
        return 1 + self.redirect_count(self.redirected_article(position)) + self.other_pages(position)


def universe_of(articles: int, profile: SampleProfile, titles: TitleMaker, seed: int) -> Universe:
    return Universe(articles, seed, titles, profile.link_shares["to_redirect"], missing_density(articles))


# ----------------------------------------------------------------------------------------------- statistics


@dataclass
class Stats:
    """Counts over generated pages; ``merge`` adds another's (bounded memory: histograms, not lists)."""

    counts: Counter[str] = field(default_factory=Counter)
    namespaces: Counter[int] = field(default_factory=Counter)
    links_per_article: Counter[int] = field(default_factory=Counter)

    def merge(self, other: Stats) -> None:
        self.counts.update(other.counts)
        self.namespaces.update(other.namespaces)
        self.links_per_article.update(other.links_per_article)

    def summary(self) -> dict:
        counts = self.counts
        articles, redirects, links = (max(1, counts[name]) for name in ("articles", "redirects", "links"))
        return {
            "pages_by_namespace": dict(sorted(self.namespaces.items())),
            "articles": counts["articles"],
            "redirects": counts["redirects"],
            "redirects_per_article": counts["redirects"] / articles,
            "redirects_in_chains": counts["redirects.chain"] / redirects,
            "redirects_in_cycles": counts["redirects.cycle"] / redirects,
            "links_per_article_mean": counts["links"] / articles,
            "links_per_article_median": self.percentile(0.5),
            "links_per_article_p99": self.percentile(0.99),
            **{f"links_{kind}": counts[f"links.{kind}"] / links for kind in LINK_KINDS},
            **{f"articles_with_{kind}": counts[f"articles.{kind}"] / articles for kind in ARTICLE_FEATURES},
            "xml_bytes": counts["xml_bytes"],
            "bz2_bytes": counts["bz2_bytes"],
            "streams": counts["streams"],
        }

    def percentile(self, share: float) -> int:
        """The smallest link count that ``share`` of the articles do not exceed."""
        seen, wanted = 0, share * self.counts["articles"]
        for links, articles in sorted(self.links_per_article.items()):
            seen += articles
            if seen >= wanted:
                return links
        return 0


def targets(profile: SampleProfile) -> dict[str, float]:
    """The statistics the generator aims at (keys of ``Stats.summary``)."""
    spread = profile.link_log_spread
    median = MEAN_LINKS * math.exp(-(spread**2) / 2)
    return {
        "redirects_per_article": REDIRECTS_PER_ARTICLE,
        "redirects_in_chains": CHAIN_SHARE,
        "redirects_in_cycles": CYCLE_SHARE,
        "links_per_article_mean": MEAN_LINKS,
        "links_per_article_median": median,
        "links_per_article_p99": median * math.exp(2.326 * spread),
        "links_missing": MISSING_SHARE,
        "links_redirect": profile.link_shares["to_redirect"] * (1 - MISSING_SHARE),
        **{f"links_{kind}": profile.link_shares[kind] for kind in ("piped", "trail", "lowercase")},
        **{f"articles_with_{kind}": profile.article_shares[kind] for kind in ARTICLE_FEATURES},
    }


# ------------------------------------------------------------------------------------------------ pages


@dataclass(frozen=True)
class Page:
    title: str
    namespace: int
    text: str
    redirect: str | None = None


class Linker:
    """Renders pieces for one article: its first ``budget`` sample links get new targets, the rest become text."""

    def __init__(self, universe: Universe, rng: random.Random, budget: int, stats: Stats) -> None:
        self.universe, self.rng, self.budget, self.stats = universe, rng, budget, stats

    def render(self, piece: Piece) -> str:
        parts = []
        for text, link in zip(piece.texts, piece.links, strict=False):
            parts += [text, self._link(link) if self.budget > 0 else link.text]
        parts.append(piece.texts[-1])
        return "".join(parts)

    def _link(self, link: SampleLink) -> str:
        self.budget -= 1
        target, kind = self.universe.link_target(self.rng)
        lowercase = link.written[:1].islower()
        if lowercase:
            target = target[0].lower() + target[1:]
        counts = self.stats.counts
        counts["links"] += 1
        counts[f"links.{kind}"] += 1
        counts["links.piped"] += link.label is not None
        counts["links.trail"] += bool(link.trail)
        counts["links.lowercase"] += lowercase
        label = "" if link.label is None else "|" + link.label
        return f"[[{target}{label}]]{link.trail}"


class PageMaker:
    """Every page of the dump, each from the seed and its place alone (so that streams are made independently)."""

    def __init__(self, profile: SampleProfile, universe: Universe) -> None:
        self.profile, self.universe = profile, universe
        weights = profile.namespace_weights
        self._namespaces, self._namespace_weights = list(weights), list(itertools.accumulate(weights.values()))
        self._prefixes = {profile.site.namespace_of(name): name for name in OTHER_NAMESPACES}
        self._talk = profile.site.namespace_of("Talk")

    def pages_from(self, position: int, part: int, stats: Stats) -> Iterator[Page]:
        """The pages from part ``part`` of slot ``position`` (article, redirects, other pages) to the end."""
        for slot in range(position, self.universe.articles):
            redirected = self.universe.redirected_article(slot)
            redirects = self.universe.redirect_count(redirected)
            for index in range(part if slot == position else 0, self.universe.slot_size(slot)):
                rng = random.Random(self.universe.seed << 48 ^ slot << 8 ^ index)
                if index == 0:
                    yield self.article(slot, rng, stats)
                elif index <= redirects:
                    yield self.redirect(redirected, index - 1, rng, stats)
                else:
                    yield self.other_page(slot, index - 1 - redirects, rng, stats)

    def article(self, position: int, rng: random.Random, stats: Stats) -> Page:
        profile = self.profile
        budget = round(
            rng.lognormvariate(math.log(MEAN_LINKS) - profile.link_log_spread**2 / 2, profile.link_log_spread)
        )
        features = {name: rng.random() < profile.article_shares[name] for name in ("lead", *ARTICLE_FEATURES)}
        linker = Linker(self.universe, rng, budget, stats)
        text = "\n\n".join(self._article_blocks(linker, features))
        stats.counts.update(["articles", *(f"articles.{name}" for name, mark in FEATURE_MARKS if mark in text)])
        stats.links_per_article[budget - linker.budget] += 1
        return Page(self.universe.titles(position), 0, text)

    def _article_blocks(self, linker: Linker, features: dict[str, bool]) -> Iterator[str]:
        """Lead templates (with the sample's share of the links), paragraphs (a table after the first) each followed
        by blocks at the sample's rates, until the article holds its links; then category links."""
        rng, profile = linker.rng, self.profile
        refs, templates = features["refs"], features["templates"]

        def block(kind: str) -> str:
            return linker.render(rng.choice(profile.pools[kind, refs, templates]))

        if templates and features["lead"]:
            body_links = linker.budget - round(linker.budget * profile.link_shares["in_lead"])
            linker.budget -= body_links
            yield block("lead")
            linker.budget += body_links
        first = True
        while first or linker.budget > 0:
            sentences = [block("sentence") for _ in range(rng.choice(profile.paragraph_sentences))]
            if first and refs:
                sentences[0] = block("ref_sentence")
            yield " ".join(sentences)
            if first and features["tables"]:
                yield block("table")
            for kind, rate in profile.block_rates.items():
                for _ in range(count_with_mean(rng.random(), rate)):
                    yield block(kind)
            first = False
        for _ in range(rng.choice(profile.category_counts)):
            yield self._category(rng)

    def _category(self, rng: random.Random) -> str:
        return f"[[Category:{self.universe.titles(int((self.universe.articles + 1) ** rng.random()))}]]"

    def redirect(self, article: int, redirect: int, rng: random.Random, stats: Stats) -> Page:
        target, kind = self.universe.redirect_target(article, redirect)
        stats.counts.update(["redirects", f"redirects.{kind}"])
        text = f"#REDIRECT [[{target}]]{rng.choice(self.profile.redirect_tails)}"
        return Page(self.universe.titles(self.universe.redirect_number(article, redirect)), 0, text, target)

    def other_page(self, position: int, index: int, rng: random.Random, stats: Stats) -> Page:
        """Other page ``index`` of slot ``position``: a paragraph of sample sentences without links, a category;
        a talk page is the talk page of the slot's article."""
        namespace = self._namespaces[bisect_right(self._namespace_weights, rng.random() * self._namespace_weights[-1])]
        number = position if namespace == self._talk else self.universe.other_number(position, index)
        plain, pool = Linker(self.universe, rng, 0, stats), self.profile.pools["sentence", True, True]
        sentences = [plain.render(rng.choice(pool)) for _ in range(rng.choice(self.profile.paragraph_sentences))]
        text = " ".join(sentences) + "\n\n" + self._category(rng)
        return Page(f"{self._prefixes[namespace]}:{self.universe.titles(number)}", namespace, text)


def page_xml(page_id: int, page: Page) -> str:
    """A ``<page>`` element as the sample's dump (export-0.10) writes it."""
    redirect = f"    <redirect title={quoteattr(page.redirect)} />\n" if page.redirect else ""
    sha1 = _base36(int.from_bytes(hashlib.sha1(page.text.encode()).digest(), "big"))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_000_000_000 + mix64(page_id) % 500_000_000))
    return (
        f"  <page>\n    <title>{escape(page.title)}</title>\n    <ns>{page.namespace}</ns>\n    <id>{page_id}</id>\n"
        f"{redirect}    <revision>\n      <id>{page_id + 700_000_000}</id>\n      <timestamp>{stamp}</timestamp>\n"
        f"      <contributor>\n        <username>Editor {page_id % 9973}</username>\n"
        f"        <id>{page_id % 9973}</id>\n      </contributor>\n"
        f"      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
        f'      <text xml:space="preserve">{escape(page.text)}</text>\n      <sha1>{sha1}</sha1>\n'
        "    </revision>\n  </page>\n"
    )


def _base36(value: int) -> str:
    digits = []
    while value:
        value, digit = divmod(value, 36)
        digits.append("0123456789abcdefghijklmnopqrstuvwxyz"[digit])
    return "".join(reversed(digits)).rjust(31, "0")


# ---------------------------------------------------------------------------------------------- the streams


@dataclass(frozen=True)
class StreamTask:
    """Pages ``first_page`` to ``first_page + pages`` of the dump, starting at part ``part`` of slot ``slot``."""

    first_page: int
    slot: int
    part: int
    pages: int


@dataclass(frozen=True)
class StreamResult:
    data: bytes  # one bz2 stream
    index: list[str]  # "page_id:title" of its pages
    stats: Stats


def stream_tasks(universe: Universe, pages_per_stream: int) -> list[StreamTask]:
    """Cut the dump's pages (slot by slot) into streams of ``pages_per_stream`` pages."""
    starts, position, next_start = [], 0, 0
    for slot in range(universe.articles):
        size = universe.slot_size(slot)
        while next_start < position + size:
            starts.append((next_start, slot, next_start - position))
            next_start += pages_per_stream
        position += size
    return [StreamTask(page, slot, part, min(pages_per_stream, position - page)) for page, slot, part in starts]


_maker: PageMaker | None = None  # the worker's PageMaker, set once per process


def _set_maker(maker: PageMaker) -> None:
    global _maker
    _maker = maker


def make_stream(task: StreamTask) -> StreamResult:
    """Generate and compress one stream of pages (in a worker)."""
    stats = Stats()
    pages = itertools.islice(_maker.pages_from(task.slot, task.part, stats), task.pages)
    xml, index = [], []
    for page_id, page in enumerate(pages, start=task.first_page + 1):
        xml.append(page_xml(page_id, page))
        index.append(f"{page_id}:{page.title}")
        stats.namespaces[page.namespace] += 1
    data = "".join(xml).encode()
    compressed = bz2.compress(data)
    stats.counts.update({"xml_bytes": len(data), "bz2_bytes": len(compressed), "streams": 1})
    return StreamResult(compressed, index, stats)


@contextmanager
def stream_mapper(maker: PageMaker, workers: int) -> Iterator[Callable[..., Iterator[StreamResult]]]:
    """``map`` over stream tasks, in order: in this process, or in a pool of ``workers`` processes."""
    if workers == 1:
        _set_maker(maker)
        yield map
        return
    with multiprocessing.Pool(workers, _set_maker, (maker,)) as pool:
        yield pool.imap


def write_dump(path: Path, maker: PageMaker, pages_per_stream: int, workers: int, size_mb: float) -> Stats:
    """Write the multistream dump and its index; return the statistics of its pages."""
    from preprocessing.sources.files import multistream_index_path  # imports Beam

    header = maker.profile.header.encode()
    stats, started, reported = Stats(), time.perf_counter(), time.perf_counter()
    tasks = stream_tasks(maker.universe, pages_per_stream)
    index_path = multistream_index_path(str(path))
    with (
        open(path, "wb") as dump,
        bz2.open(index_path, "wt", encoding="utf-8") as index,
        stream_mapper(maker, workers) as mapper,
    ):
        dump.write(bz2.compress(header))
        for result in mapper(make_stream, tasks):
            offset = dump.tell()
            dump.write(result.data)
            index.writelines(f"{offset}:{line}\n" for line in result.index)
            stats.merge(result.stats)
            if time.perf_counter() - reported > PROGRESS_SECONDS:
                reported = time.perf_counter()
                done = stats.counts["xml_bytes"] / 1e6
                print(f"  {done:,.0f} of ~{size_mb:,.0f} MB of XML, {done / (reported - started):.1f} MB/s", flush=True)
        dump.write(bz2.compress(FOOTER))
    stats.counts.update({"xml_bytes": len(header) + len(FOOTER), "streams": 2})
    stats.counts["bz2_bytes"] = path.stat().st_size
    return stats


def articles_for(size_bytes: float, profile: SampleProfile, titles: TitleMaker, seed: int) -> int:
    """How many articles (with their redirects and other pages) make ``size_bytes`` of XML, from a trial run."""
    pages = PageMaker(profile, universe_of(CALIBRATION_SLOTS, profile, titles, seed)).pages_from(0, 0, Stats())
    xml = sum(len(page_xml(page_id, page).encode()) for page_id, page in enumerate(pages))
    return max(MIN_ARTICLES, round((size_bytes - len(profile.header)) * CALIBRATION_SLOTS / xml))


# ---------------------------------------------------------------------------------------------------- main


def print_statistics(measured: dict, aims: dict[str, float]) -> None:
    """One line per statistic: its target, if any, and its value in this dump."""
    print(f"{'statistic':<28} {'target':>10} {'this dump':>14}")
    for name, value in measured.items():
        aim = _shown(name, aims[name]) if name in aims else ""
        print(f"{name:<28} {aim:>10} {_shown(name, value):>14}")


def _shown(name: str, value: float | int | dict) -> str:
    if isinstance(value, dict):
        return json.dumps(value)
    if name.startswith(("links_", "articles_with", "redirects_in")) and not name.startswith("links_per"):
        return f"{100 * value:.1f} %"
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("size_mb", type=float, help="MB of uncompressed XML, about")
    parser.add_argument("--output", type=Path, required=True, help=f"the dump file, named ...{NAME_SUFFIX}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pages-per-stream", type=int, default=100)
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--stats", type=Path, help="also write the targets and measured statistics as JSON")
    args = parser.parse_args()
    if not args.output.name.endswith(NAME_SUFFIX):
        sys.exit(
            f"error: --output must be named ...{NAME_SUFFIX} (its index is named after it), not {args.output.name}"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    filter_known_log_records()  # Beam's import logs that its Google Cloud clients are absent
    started = time.perf_counter()
    profile = measure_sample(fetch_sample_dump("en"))
    titles = TitleMaker(args.seed, profile.title_words, profile.qualifiers, profile.qualifier_share)
    articles = articles_for(args.size_mb * 1e6, profile, titles, args.seed)
    universe = universe_of(articles, profile, titles, args.seed)
    if universe.title_numbers > 1 << 32:
        sys.exit(f"error: {args.size_mb} MB needs more titles than this generator makes (2**32)")
    print(f"writing {articles:,} articles with their redirects and other pages to {args.output}", flush=True)
    stats = write_dump(args.output, PageMaker(profile, universe), args.pages_per_stream, args.workers, args.size_mb)
    seconds = time.perf_counter() - started
    measured = stats.summary() | {
        "seconds": round(seconds, 1),
        "xml_mb_per_s": stats.counts["xml_bytes"] / 1e6 / seconds,
    }
    aims = targets(profile)
    print_statistics(measured, aims)
    if args.stats:
        args.stats.write_text(json.dumps({"targets": aims, "measured": measured}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
