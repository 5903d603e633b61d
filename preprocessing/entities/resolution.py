"""Link targets resolved through the title table: redirects followed once per title, links looked up per article.

Only titles cross a shuffle, never article text. English Wikipedia has ~17M titles (~10M of them redirects): as
a Python dict in every worker that is ~2-3 GB per process; the title table (``title_table``) is ~0.6 GB of
files that every worker of a machine memory-maps once.

- :class:`ResolveRedirects`: (redirect source → target) pairs → final target per source, following chains hop
  by hop (one join of titles per hop, ``max_hops`` of them), breaking loops.
- :class:`BuildTitleTable`: article titles and redirects → the title table's parts, written by one worker each.
- :class:`LinkResolver` (no Beam): an article whose links carry normalised titles → the same article whose
  links carry resolved entity titles; links to missing pages, redirect loops and too-long chains dropped (or
  kept, for missing pages, with ``keep_missing_targets``), each occurrence counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import apache_beam as beam

from preprocessing.beam.join import JoinByKey
from preprocessing.beam.metrics import counter
from preprocessing.beam.split import SplitByKind
from preprocessing.defaults import DEFAULT_MAX_REDIRECT_HOPS
from preprocessing.entities.title_table import TitleEntry, TitleKind, TitleTable, part_of, part_path, write_part
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


class BuildTitleTable(beam.PTransform):
    """``{"titles": PCollection[str], "redirects": PCollection[Redirect]}`` → PCollection[dict]: the title table
    of the articles (main namespace, not redirects) and redirects written as ``parts`` files under
    ``directory``, every part even if empty; each element says what one part holds (``title_table.write_part``).
    """

    def __init__(self, directory: str, parts: int, max_hops: int = DEFAULT_MAX_REDIRECT_HOPS) -> None:
        super().__init__()
        self._directory = directory
        self._parts = parts
        self._max_hops = max_hops

    def expand(self, inputs) -> beam.PCollection[dict]:
        resolutions = inputs | "ResolveRedirects" >> ResolveRedirects(self._max_hops)
        every_part = inputs["titles"].pipeline | "EveryPart" >> beam.Create(
            [(index, None) for index in range(self._parts)]
        ).with_output_types(tuple[int, tuple[str, TitleEntry] | None])
        entries = (
            inputs["titles"] | "ArticleEntries" >> beam.Map(_article_entry, self._parts),
            resolutions | "RedirectEntries" >> beam.Map(_redirect_entry, self._parts),
            every_part,
        )
        return (
            entries
            | "AllEntries" >> beam.Flatten().with_output_types(tuple[int, tuple[str, TitleEntry] | None])
            | "GroupByPart" >> beam.GroupByKey()
            | "WritePart" >> beam.Map(_write_part, self._directory, self._parts)
        )


def _article_entry(title: str, parts: int) -> tuple[int, tuple[str, TitleEntry] | None]:
    return part_of(title, parts), (title, (TitleKind.ARTICLE.value, None))


_FAILURE_KINDS = {
    "redirect_loop": TitleKind.REDIRECT_LOOP,
    "redirect_chain_too_long": TitleKind.REDIRECT_CHAIN_TOO_LONG,
}


def _redirect_entry(element: tuple[str, Resolution], parts: int) -> tuple[int, tuple[str, TitleEntry] | None]:
    source, resolution = element
    if resolution.failure is not None:
        entry = (_FAILURE_KINDS[resolution.failure].value, None)
    else:
        kind = TitleKind.REDIRECT if resolution.exists else TitleKind.REDIRECT_TO_MISSING
        entry = (kind.value, resolution.title)
    return part_of(source, parts), (source, entry)


def _write_part(element: tuple[int, Iterable[tuple[str, TitleEntry] | None]], directory: str, parts: int) -> dict:
    index, entries = element
    counts = write_part(part_path(directory, index, parts), _entries_of_part(entries))
    return {f"table.{name}": count for name, count in counts.items()}


def _entries_of_part(grouped: Iterable[tuple[str, TitleEntry] | None]) -> Iterator[tuple[str, TitleEntry]]:
    """A part's entries as its group brought them (``None`` marks the part's existence, see ``EveryPart``)."""
    return (entry for entry in grouped if entry is not None)


# A decision about one link target: (entity title or None when dropped, counter suffix, via redirect)
Decision = tuple[str | None, str | None, bool]
_FAILURES = {TitleKind.REDIRECT_LOOP: "redirect_loop", TitleKind.REDIRECT_CHAIN_TOO_LONG: "redirect_chain_too_long"}


class LinkResolver:
    """Articles with normalised link targets → articles with resolved, kept links (no Beam).

    Counts, in the ``counts`` given: ``links.parsed`` (links in), ``links.kept``, ``links.kept_missing_target``
    (with ``keep_missing_targets``), ``links.through_redirect``,
    ``links_dropped.missing_target|redirect_loop|redirect_chain_too_long``.
    """

    def __init__(self, table: TitleTable, keep_missing_targets: bool = False) -> None:
        self._table = table
        self._keep_missing = keep_missing_targets

    def resolve(self, article: Article, counts: Counter) -> Article:
        targets = sorted({link.target for paragraph in article.paragraphs for link in paragraph.links})
        entries = self._table.lookup(targets, counts)
        decisions = {target: self._decide(target, entry) for target, entry in zip(targets, entries, strict=True)}
        paragraphs = tuple(
            Paragraph(paragraph.text, tuple(_resolve(paragraph.links, decisions, counts)))
            for paragraph in article.paragraphs
        )
        return Article(article.page_id, article.title, paragraphs)

    def _decide(self, target: str, entry: TitleEntry | None) -> Decision:
        if entry is None:
            return _missing(target, self._keep_missing, False)
        kind, final = entry
        if kind == TitleKind.ARTICLE:
            return target, None, False
        if kind == TitleKind.REDIRECT:
            return final, None, True
        if kind == TitleKind.REDIRECT_TO_MISSING:
            return _missing(final, self._keep_missing, True)
        return None, _FAILURES[TitleKind(kind)], True


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
