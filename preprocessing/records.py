"""The records that flow between the Beam transforms of the corpus builder.

Plain frozen dataclasses: picklable by every Beam runner, cheap to build, explicit about their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WikiPage:
    """One ``<page>`` of a MediaWiki XML dump, as read (nothing resolved yet)."""

    page_id: int
    namespace: int
    title: str  # as in the dump, e.g. "Computer accessibility"
    redirect: str | None  # normalised target title of a redirect page, else None
    wikitext: str


@dataclass(frozen=True)
class Link:
    """A hyperlink in a paragraph's plain text: ``text[start:end]`` is its anchor text."""

    start: int  # character offset into Paragraph.text
    end: int  # exclusive
    target: str  # normalised title; after link resolution, the redirect-resolved entity title


@dataclass(frozen=True)
class Paragraph:
    """Plain text of one paragraph (no markup, no HTML escapes) and the links inside it."""

    text: str
    links: tuple[Link, ...]


@dataclass(frozen=True)
class Article:
    """An article (namespace 0, not a redirect) as clean paragraphs with resolved links; made and consumed where
    its unit is read (it crosses no shuffle)."""

    page_id: int
    title: str
    paragraphs: tuple[Paragraph, ...]
