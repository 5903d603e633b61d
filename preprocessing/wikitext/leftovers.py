"""Brackets and separators that removed templates leave in the text: ``Asphalt (, occasionally), also known as
bitumen (,) is`` → ``Asphalt (occasionally), also known as bitumen is``.

wikiextractor drops templates whole (pronunciations, transliterations, conversions), so the punctuation written
around them stays. Removed here: a pair of round brackets holding nothing but separators and spaces (with the
spaces before it), and separators right after an opening bracket or right before a closing one. A link's text
never changes; the offsets of links after a removal shift with it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from preprocessing.records import Link

_LEFTOVERS = (
    re.compile(r"\s*\([\s,;:]*\)"),  # "bitumen (,) is"
    re.compile(r"(?<=\()\s*[,;:][\s,;:]*"),  # "(, occasionally)"
    re.compile(r"\s*[,;][\s,;]*(?=\))"),  # "(born 1950; )"
)


def without_leftovers(text: str, links: Sequence[Link] = ()) -> tuple[str, tuple[Link, ...], int]:
    """``text`` without template leftovers, ``links`` moved to match, and the number of places cleaned."""
    spans = sorted(
        match.span()
        for pattern in _LEFTOVERS
        for match in pattern.finditer(text)
        if match.end() > match.start() and not _touches_a_link(match.span(), links)
    )
    removed: list[tuple[int, int]] = []
    for start, end in spans:  # overlapping matches of one place merge into one removal
        if removed and start <= removed[-1][1]:
            removed[-1] = (removed[-1][0], max(end, removed[-1][1]))
        else:
            removed.append((start, end))
    if not removed:
        return text, tuple(links), 0
    bounds = zip([(0, 0), *removed], [*removed, (len(text), 0)], strict=True)
    kept = [text[end:start] for (_, end), (start, _) in bounds]

    def moved(offset: int) -> int:
        return offset - sum(end - start for start, end in removed if end <= offset)

    return "".join(kept), tuple(Link(moved(link.start), moved(link.end), link.target) for link in links), len(removed)


def _touches_a_link(span: tuple[int, int], links: Sequence[Link]) -> bool:
    return any(span[0] < link.end and link.start < span[1] for link in links)
