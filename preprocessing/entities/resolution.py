"""Redirects and link targets resolved with Beam joins keyed by title.

Why joins and not a side-input dict: English Wikipedia has ~10M redirects and ~6.7M articles. As a
Python dict that is ~1.5-2 GB in every worker process (titles are ~20-30 characters, and a dict entry
with two str objects costs ~150-200 bytes), copied into each of the dozens of processes of a cluster. A
``CoGroupByKey`` keyed by title instead shuffles each title once and holds, on any worker, only the
entries of one key at a time, so memory per worker stays flat whatever the wiki's size.

- :class:`ResolveRedirects`: (redirect source → target) pairs → final target per source, following
  chains hop by hop (one join per hop, ``max_hops`` of them), breaking loops.
- :class:`ResolveLinks`: articles whose links carry normalised titles → the same articles whose links
  carry resolved entity titles; links to missing pages, redirect loops and too-long chains dropped (or
  kept, for missing pages, with ``keep_missing_targets``), each occurrence counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import apache_beam as beam

from preprocessing.beam.join import JoinByKey
from preprocessing.beam.metrics import counter
from preprocessing.beam.split import SplitByKind
from preprocessing.defaults import DEFAULT_MAX_REDIRECT_HOPS
from preprocessing.records import Article, Link, Paragraph


class Resolution(NamedTuple):
    """Where a redirect leads: the final title and whether that page exists, or why it leads nowhere."""

    title: str | None
    exists: bool
    failure: str | None  # "redirect_loop" or "redirect_chain_too_long"


class ResolveRedirects(beam.PTransform):
    """``{"redirects": PCollection[(source, target)], "titles": PCollection[str]}`` →
    PCollection[(source, Resolution)], ``titles`` being the articles (main namespace, not redirects)."""

    def __init__(self, max_hops: int = DEFAULT_MAX_REDIRECT_HOPS) -> None:
        super().__init__()
        if max_hops < 1:
            raise ValueError(f"max_hops must be at least 1, got {max_hops}")
        self._max_hops = max_hops

    def expand(self, inputs) -> beam.PCollection[tuple[str, Resolution]]:
        redirects, titles = inputs["redirects"], inputs["titles"]
        pending = redirects | "StartChains" >> beam.Map(_start_chain)
        ended = []
        for hop in range(self._max_hops):
            step = (
                {"chains": pending, "next": redirects}
                | f"JoinHop{hop}" >> JoinByKey(str)
                | f"FollowHop{hop}" >> beam.ParDo(_FollowRedirectFn())
                | f"SplitHop{hop}" >> SplitByKind({"ended": EndedChain, "pending": PendingChain})
            )
            ended.append(step["ended"])
            pending = step["pending"]
        too_long = pending | "ChainsTooLong" >> beam.Map(_chain_too_long)
        finals = tuple(ended) | "EndedChains" >> beam.Flatten()
        resolved = (
            {"sources": finals, "titles": titles | "KeyTitles" >> beam.Map(_keyed_title)}
            | "JoinFinalTitles" >> JoinByKey(str | None)
            | "CheckFinalTitles" >> beam.ParDo(_CheckFinalTitleFn())
        )
        return (resolved, too_long) | "AllResolutions" >> beam.Flatten()


# A redirect page (source title, target title); a chain being followed: its source and the titles it passed
Redirect = tuple[str, str]
Chain = tuple[str, tuple[str, ...]]
# Keyed by the title a chain reached next (a redirect's target), or ended: (final title, or None for a loop; source)
PendingChain = tuple[str, Chain]
EndedChain = tuple[str | None, str]


def _start_chain(redirect: Redirect) -> PendingChain:
    source, target = redirect
    return target, (source, redirect)


def _keyed_title(title: str) -> tuple[str, None]:
    return title, None


class _FollowRedirectFn(beam.DoFn):
    """One hop: a chain ending at a redirect moves on to its target, or ends (at a page, or in a loop)."""

    def process(self, element: tuple[str, dict[str, list]]) -> Iterator[tuple[str, EndedChain | PendingChain]]:
        current, grouped = element
        chains = grouped["chains"]
        if not chains:
            return
        targets = sorted(set(grouped["next"]))  # one page per title; sorted keeps duplicates deterministic
        for source, path in chains:
            if not targets:
                yield "ended", (current, source)
            elif targets[0] in path:
                yield "ended", (None, source)  # a loop
            else:
                yield "pending", (targets[0], (source, (*path, targets[0])))


def _chain_too_long(element: PendingChain) -> tuple[str, Resolution]:
    _, (source, _) = element
    counter("redirects.chain_too_long").inc()
    return source, Resolution(None, False, "redirect_chain_too_long")


class _CheckFinalTitleFn(beam.DoFn):
    def process(self, element: tuple[str | None, dict[str, list]]) -> Iterator[tuple[str, Resolution]]:
        final, grouped = element
        exists = bool(grouped["titles"])
        for source in grouped["sources"]:
            if final is None:
                counter("redirects.loop").inc()
                yield source, Resolution(None, False, "redirect_loop")
            else:
                counter("redirects.resolved" if exists else "redirects.to_missing_page").inc()
                yield source, Resolution(final, exists, None)


class ResolveLinks(beam.PTransform):
    """``{"articles": PCollection[Article], "redirects": PCollection[(source, Resolution)],
    "titles": PCollection[str]}`` → PCollection[Article] with resolved, kept links only.

    Two joins, the job's busiest shuffles (one input per distinct target of each article), written as
    combines so that each worker merges its inputs per key before the shuffle (Beam's combiner lifting):
    by title, each distinct target meets the pages linking to it, its redirect resolution and whether an
    article has that title (one shuffled element per title and bundle, not per linking page); by page id,
    each page's decisions are collected into one list (one element per page and bundle, not per target),
    which meets the article in a ``GroupByKey``. Decisions are plain tuples, which Beam encodes without
    pickling.

    Counters: ``links.kept``, ``links.kept_missing_target`` (with ``keep_missing_targets``),
    ``links.through_redirect``, ``links_dropped.missing_target|redirect_loop|redirect_chain_too_long``.
    """

    def __init__(self, keep_missing_targets: bool = False) -> None:
        super().__init__()
        self._keep_missing_targets = keep_missing_targets

    def expand(self, inputs) -> beam.PCollection[Article]:
        articles = inputs["articles"]
        by_title = (
            articles | "DistinctTargets" >> beam.FlatMap(_distinct_targets),
            inputs["redirects"] | "TagRedirects" >> beam.Map(_tagged_redirect),
            inputs["titles"] | "TagTitles" >> beam.Map(_tagged_title),
        )
        decisions = (
            by_title
            | "UniteByTitle" >> beam.Flatten().with_output_types(tuple[str, tuple[int, Any]])
            | "CombineByTitle" >> beam.CombinePerKey(_TitleFactsFn()).with_output_types(tuple[str, TitleFacts])
            | "DecideTargets" >> beam.FlatMap(_decide_target, self._keep_missing_targets)
            | "CollectByPage" >> beam.CombinePerKey(beam.combiners.ToListCombineFn())
            | "TagDecisions" >> beam.Map(_tagged_decisions)
        )
        return (
            (articles | "KeyByPageId" >> beam.Map(_keyed_article), decisions)
            | "UniteByPage" >> beam.Flatten().with_output_types(tuple[int, tuple[int, Any]])
            | "GroupByPage" >> beam.GroupByKey()
            | "RewriteLinks" >> beam.ParDo(_RewriteLinksFn())
        )


# Tags of the joined values, and a decision: (entity title or None when dropped, counter suffix, via redirect)
_ARTICLE, _REDIRECT, _PAGE, _DECISION = 0, 1, 2, 3
Decision = tuple[str | None, str | None, bool]
# What the join by title gathers about one title: pages linking to it, its redirect resolutions, is an article
TitleFacts = tuple[list[int], list[Resolution], bool]


def _distinct_targets(article: Article) -> Iterator[tuple[str, tuple[int, int]]]:
    targets = {link.target for paragraph in article.paragraphs for link in paragraph.links}
    for target in sorted(targets):
        yield target, (_PAGE, article.page_id)


def _tagged_redirect(element: tuple[str, Resolution]) -> tuple[str, tuple[int, Resolution]]:
    source, resolution = element
    return source, (_REDIRECT, resolution)


def _tagged_title(title: str) -> tuple[str, tuple[int, None]]:
    return title, (_ARTICLE, None)


def _tagged_decisions(element: tuple[int, list[tuple[str, Decision]]]) -> tuple[int, tuple[int, list]]:
    page_id, decided = element
    return page_id, (_DECISION, decided)


def _keyed_article(article: Article) -> tuple[int, tuple[int, Article]]:
    return article.page_id, (_ARTICLE, article)


class _TitleFactsFn(beam.CombineFn):
    """Tagged values of one title → its :data:`TitleFacts` (lists in no particular order)."""

    def create_accumulator(self) -> TitleFacts:
        return [], [], False

    def add_input(self, facts: TitleFacts, tagged: tuple[int, object]) -> TitleFacts:
        pages, redirects, is_article = facts
        tag, value = tagged
        if tag == _PAGE:
            pages.append(value)
        elif tag == _REDIRECT:
            redirects.append(value)
        else:
            is_article = True
        return pages, redirects, is_article

    def merge_accumulators(self, accumulators) -> TitleFacts:
        pages, redirects, is_article = [], [], False
        for more_pages, more_redirects, more_is_article in accumulators:
            pages.extend(more_pages)
            redirects.extend(more_redirects)
            is_article = is_article or more_is_article
        return pages, redirects, is_article

    def extract_output(self, facts: TitleFacts) -> TitleFacts:
        return facts


def _decide_target(element: tuple[str, TitleFacts], keep_missing: bool) -> Iterator[tuple[int, tuple[str, Decision]]]:
    target, (pages, redirects, is_article) = element
    if not pages:
        return
    if is_article:
        decision = (target, None, False)
    elif redirects:
        resolution = min(redirects, key=repr)  # one redirect page per title; min keeps duplicates deterministic
        if resolution.failure:
            decision = (None, resolution.failure, True)
        elif resolution.exists:
            decision = (resolution.title, None, True)
        else:
            decision = _missing(resolution.title, keep_missing, True)
    else:
        decision = _missing(target, keep_missing, False)
    for page_id in pages:
        yield page_id, (target, decision)


def _missing(title: str, keep_missing: bool, through_redirect: bool) -> Decision:
    return (title if keep_missing else None), "missing_target", through_redirect


class _RewriteLinksFn(beam.DoFn):
    """An article and the decisions about its targets → the article with kept, resolved links. Either side
    missing means the runner lost an element (seen with the FnApiRunner's multi-process mode at 8 GB of XML): the
    job fails naming the page rather than dropping the page or its links."""

    def process(self, element: tuple[int, Iterable[tuple[int, Any]]]) -> Iterator[Article]:
        page_id, values = element
        values = list(values)  # read twice
        decisions = {target: decision for tag, value in values if tag == _DECISION for target, decision in value}
        articles = [value for tag, value in values if tag == _ARTICLE]
        if decisions and not articles:  # decisions exist only for an article's targets
            raise RuntimeError(
                f"page {page_id}: its join by page brought {len(values)} decision list(s) for "
                f"{len(decisions)} link target(s) but not the article; the runner lost it"
            )
        for article in articles:
            tally: Counter = Counter()
            try:
                paragraphs = tuple(
                    Paragraph(paragraph.text, tuple(_resolve(paragraph.links, decisions, tally)))
                    for paragraph in article.paragraphs
                )
            except KeyError:
                raise _undecided_targets(article, decisions, values) from None
            for name, count in tally.items():  # one update per counter and article, not per link
                counter(name).inc(count)
            yield Article(article.page_id, article.title, paragraphs)


def _undecided_targets(article: Article, decisions: dict[str, Decision], joined: list) -> RuntimeError:
    """The error for an article with a target that has no decision, naming the page and what its join brought:
    the joins lost an element (seen on the DirectRunner with 2 workers at 8 GB of synthetic XML)."""
    targets = {link.target for paragraph in article.paragraphs for link in paragraph.links}
    undecided = sorted(targets - decisions.keys())
    lists = sum(tag == _DECISION for tag, _ in joined)
    return RuntimeError(
        f"page {article.page_id} ({article.title!r}): {len(undecided)} of its {len(targets)} link targets have no "
        f"resolution, e.g. {undecided[:3]}; its join by page brought {len(joined) - lists} article(s) and "
        f"{lists} decision list(s)"
    )


def _resolve(links: tuple[Link, ...], decisions: dict[str, Decision], tally: Counter) -> Iterator[Link]:
    for link in links:
        title, reason, through_redirect = decisions[link.target]
        if title is None:
            tally[f"links_dropped.{reason}"] += 1
            continue
        tally["links.kept"] += 1
        if reason == "missing_target":
            tally["links.kept_missing_target"] += 1
        if through_redirect:
            tally["links.through_redirect"] += 1
        yield Link(link.start, link.end, title)
