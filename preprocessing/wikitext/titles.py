"""Page titles as MediaWiki normalises them, and the classification of a link's target.

``[[computer_science#History|...]]``, ``[[Computer  science]]`` and ``[[Computer&#32;science]]`` all name
the page "Computer science". A target in another namespace (``File:``, ``Category:``, localised names from
the dump's ``<siteinfo>``) or on another wiki (``wikt:``, ``fr:``) is not an entity.
"""

from __future__ import annotations

import enum
import html
import re
from dataclasses import dataclass

from preprocessing.sources.siteinfo import SiteInfo

# Characters MediaWiki treats as a space in titles (Title::secureAndSplit), and its forbidden characters.
_SPACES = re.compile(r"[\s_\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_FORBIDDEN = re.compile(r"[<>\[\]{}|\x00-\x1f\x7f\ufffd]")
_BIDI_MARKS = re.compile(r"[\u200e\u200f\u202a-\u202e]")

# Interwiki prefixes of Wikimedia projects. Together with language codes (see _LANGUAGE_CODE) they are
# the prefixes the interwiki table of every Wikipedia knows; the table itself is not part of a dump.
# fmt: off
WIKIMEDIA_PROJECT_PREFIXES = frozenset({
    "w", "wikipedia", "wikt", "wiktionary", "b", "wikibooks", "n", "wikinews", "q", "wikiquote", "s", "wikisource",
    "oldwikisource", "species", "wikispecies", "v", "wikiversity", "voy", "wikivoyage", "c", "commons", "m", "meta",
    "metawikimedia", "metawiki", "mw", "mediawikiwiki", "d", "wikidata", "wmf", "foundation", "wikimedia",
    "incubator", "outreach", "phab", "phabricator", "wikitech", "testwiki", "simple",
})
# fmt: on
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{1,8})*")


class TargetKind(enum.Enum):
    ARTICLE = "article"  # a title in the main namespace
    SECTION = "section_link"  # ``[[#History]]``: a section of the page itself, no other entity
    OTHER_NAMESPACE = "other_namespace"
    INTERWIKI = "interwiki"
    INVALID = "invalid_title"  # empty or with characters no title may contain


@dataclass(frozen=True)
class LinkTarget:
    kind: TargetKind
    title: str  # the normalised title for ARTICLE, else the raw target


def normalize_title(raw: str, first_letter_case: bool = True) -> str:
    """Normalise a title as MediaWiki does: decode HTML entities, ``_`` and Unicode spaces → one space,
    strip, drop a ``#fragment`` and upper-case the first letter (on first-letter wikis)."""
    title = html.unescape(raw)
    title = _BIDI_MARKS.sub("", title)
    title = title.split("#", 1)[0]
    title = _SPACES.sub(" ", title).strip()
    if first_letter_case and title:
        title = _upper_first(title)
    return title


def classify_target(raw: str, page_title: str, site: SiteInfo) -> LinkTarget:
    """Classify and normalise the target of an internal link as written in wikitext.

    A section link (``#History``) points to a section of the page itself: its title is ``page_title``
    (already normalised).
    """
    target = _SPACES.sub(" ", html.unescape(raw)).strip()
    if target.startswith("#"):
        return LinkTarget(TargetKind.SECTION, page_title)
    target = target.lstrip(":").lstrip()  # [[:Foo]] forces a plain link
    if ":" in target:
        prefix = target.split(":", 1)[0]
        if site.namespace_of(prefix) is not None:
            return LinkTarget(TargetKind.OTHER_NAMESPACE, target)
        if is_interwiki_prefix(prefix):
            return LinkTarget(TargetKind.INTERWIKI, target)
    title = normalize_title(target, site.first_letter_case)
    if not title or _FORBIDDEN.search(title):
        return LinkTarget(TargetKind.INVALID, target)
    return LinkTarget(TargetKind.ARTICLE, title)


def is_interwiki_prefix(prefix: str) -> bool:
    """Whether ``prefix:`` names another wiki: a Wikimedia project or a language edition (``fr``, ``zh-yue``).

    Language codes count only when written in lower case, as interlanguage links always are; this keeps
    titles such as ``[[AT: Attack]]`` in the main namespace.
    """
    stripped = prefix.strip()
    return stripped.lower() in WIKIMEDIA_PROJECT_PREFIXES or bool(_LANGUAGE_CODE.fullmatch(stripped))


def _upper_first(title: str) -> str:
    first = title[0].upper()
    # MediaWiki keeps characters whose upper case is several letters (ß → SS) as they are.
    return (first if len(first) == 1 else title[0]) + title[1:]
