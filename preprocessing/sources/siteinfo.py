"""A wiki's ``<siteinfo>``: its language, title case rule and namespace names (localised, from the dump)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

# Canonical (English) namespace names and the aliases MediaWiki accepts on every wiki, whatever the
# wiki's language; the localised names come from the dump's <siteinfo>.
CANONICAL_NAMESPACES: dict[str, int] = {
    "Media": -2,
    "Special": -1,
    "Talk": 1,
    "User": 2,
    "User talk": 3,
    "Project": 4,
    "Project talk": 5,
    "File": 6,
    "Image": 6,
    "File talk": 7,
    "Image talk": 7,
    "MediaWiki": 8,
    "MediaWiki talk": 9,
    "Template": 10,
    "Template talk": 11,
    "Help": 12,
    "Help talk": 13,
    "Category": 14,
    "Category talk": 15,
}


@dataclass(frozen=True)
class SiteInfo:
    """The parts of ``<siteinfo>`` the corpus builder needs.

    ``namespaces`` maps each namespace name, case-folded, to its key (0 is the main namespace, the
    articles). ``first_letter_case`` is MediaWiki's ``<case>first-letter</case>``: titles' first letter
    is upper-cased.
    """

    dbname: str
    language: str
    first_letter_case: bool
    namespaces: dict[str, int]

    def namespace_of(self, prefix: str) -> int | None:
        """The key of the namespace named ``prefix`` (any case, ``_`` or spaces), or None."""
        return self.namespaces.get(_fold(prefix))


def parse_site_info(document_start: str) -> SiteInfo:
    """Parse ``<siteinfo>`` from the start of a dump (decoded text). Raises ValueError when it is absent."""
    match = re.search(r"<siteinfo>.*?</siteinfo>", document_start, re.DOTALL)
    if not match:
        raise ValueError("no <siteinfo> element before the first page; not a MediaWiki XML dump")
    element = ET.fromstring(re.sub(r"\sxmlns(:\w+)?=\"[^\"]*\"", "", match.group(0)))
    dbname = (element.findtext("dbname") or "").strip()
    language_match = re.search(r"<mediawiki[^>]*\sxml:lang=\"([^\"]+)\"", document_start)
    language = language_match.group(1) if language_match else dbname.removesuffix("wiki") or "und"
    namespaces = {_fold(name): key for name, key in CANONICAL_NAMESPACES.items()}
    for namespace in element.iterfind("namespaces/namespace"):
        key = int(namespace.get("key", "0"))
        if namespace.text and key != 0:
            namespaces[_fold(namespace.text)] = key
    return SiteInfo(
        dbname=dbname,
        language=language,
        first_letter_case=(element.findtext("case") or "first-letter").strip() == "first-letter",
        namespaces=dict(sorted(namespaces.items())),
    )


def merge_site_infos(sites: Sequence[SiteInfo], paths: Sequence[str]) -> SiteInfo:
    """One SiteInfo for a job's files; they must come from one wiki (one language)."""
    languages = {site.language for site in sites}
    if len(languages) > 1:
        described = ", ".join(f"{path} ({site.language})" for path, site in zip(paths, sites, strict=False))
        raise ValueError(f"the dump files come from wikis of different languages: {described}; run one job per wiki")
    namespaces: dict[str, int] = {}
    for site in sites:
        namespaces.update(site.namespaces)
    first = sites[0]
    return SiteInfo(first.dbname, first.language, first.first_letter_case, dict(sorted(namespaces.items())))


def _fold(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name).strip().casefold()
