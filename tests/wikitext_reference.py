"""An independent reading of wikitext with mwparserfromhell (what wikipedia2vec, and so LUKE, parsed pages
with): the links of the running text and the page's plain-text rendering."""

from __future__ import annotations

import re
from collections import Counter

import mwparserfromhell
from mwparserfromhell.nodes import ExternalLink, Heading, Tag, Template, Text, Wikilink

from preprocessing.wikitext.titles import TargetKind, classify_target


def reference_text(wikitext: str) -> str:
    """The page as plain text (``strip_code``: templates, tags and markup removed), whitespace collapsed."""
    return " ".join(mwparserfromhell.parse(wikitext).strip_code().split())


def independent_links(wikitext: str, page_title: str, site) -> Counter:
    """Links of the running text, read by mwparserfromhell: not inside templates, tags (refs, tables),
    headings, other links (file captions); anchor + link trail, as MediaWiki displays them."""
    code = mwparserfromhell.parse(wikitext)
    links: Counter = Counter()
    for link in code.filter_wikilinks(recursive=True):
        ancestors = code.get_ancestors(link)
        if any(
            isinstance(node, (Template, Wikilink, Heading, ExternalLink))
            or (isinstance(node, Tag) and str(node.tag).lower() not in ("b", "i", "blockquote"))
            for node in ancestors
        ):
            continue
        target = classify_target(str(link.title), page_title, site)
        if target.kind is not TargetKind.ARTICLE:
            continue
        anchor = link.text.strip_code() if link.text is not None else str(link.title)
        siblings = (ancestors[-1].contents if ancestors else code).nodes
        position = next(index for index, node in enumerate(siblings) if node is link)
        if position + 1 < len(siblings) and isinstance(siblings[position + 1], Text):
            anchor += re.match(r"\w*", str(siblings[position + 1])).group()
        links[(target.title, anchor.strip().replace('"', ""))] += 1
    return links
