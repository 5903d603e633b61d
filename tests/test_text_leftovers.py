"""Brackets and separators left empty by removed templates are cleaned, links shift with the text, the cleaning
is counted (``preprocessing.wikitext.leftovers``), on hand-written text and on the sample's pages."""

from __future__ import annotations

import re

import pytest
from corpus_builders import read_dump_pages

from preprocessing.records import Link
from preprocessing.sources.reading import read_site_info
from preprocessing.wikitext.leftovers import without_leftovers
from preprocessing.wikitext.parser import WikitextParser

LEFTOVER = re.compile(r"\([\s,;:]*\)|\(\s*[,;:]|[,;]\s*\)")


@pytest.mark.parametrize(
    ("text", "expected", "removed"),
    [
        (
            "Asphalt (, occasionally), also known as bitumen (,) is",
            "Asphalt (occasionally), also known as bitumen is",
            2,
        ),
        ("Born (; died 2001) in Ohio", "Born (died 2001) in Ohio", 1),
        ("Alice (born 1950, ) and Bob ()", "Alice (born 1950) and Bob", 2),
        ("A ( ; , ) b (see below: x) c", "A b (see below: x) c", 1),
        ("Nothing to clean (really, truly).", "Nothing to clean (really, truly).", 0),
    ],
)
def test_leftovers_are_removed_and_counted(text, expected, removed):
    assert without_leftovers(text)[0::2] == (expected, removed)


def test_links_after_a_removal_shift_and_link_text_never_changes():
    text = "Asphalt (, occasionally), also bitumen (,) is a [[liquid]] (,)"
    plain = "Asphalt (, occasionally), also bitumen (,) is a liquid (,)"
    assert text.replace("[[", "").replace("]]", "") == plain
    links = (Link(0, 7, "Asphalt"), Link(plain.index("liquid"), plain.index("liquid") + 6, "Liquid"))
    cleaned, moved, removed = without_leftovers(plain, links)
    assert cleaned == "Asphalt (occasionally), also bitumen is a liquid"
    assert [(cleaned[link.start : link.end], link.target) for link in moved] == [
        ("Asphalt", "Asphalt"),
        ("liquid", "Liquid"),
    ]
    assert removed == 3
    protected = (Link(0, 3, "Odd"),)  # a link whose own text is a leftover stays as it is
    assert without_leftovers("(,) x", protected) == ("(,) x", protected, 0)


def test_sample_pages_hold_no_leftovers_and_their_links_keep_their_text(enwiki_dump):
    site = read_site_info([str(enwiki_dump)])
    parser = WikitextParser(site)
    removed = 0
    for page in read_dump_pages(enwiki_dump):
        if page.namespace != 0 or page.redirect:
            continue
        parsed = parser.parse(page.page_id, page.title, page.wikitext)
        removed += parsed.removed_leftovers
        for paragraph in parsed.paragraphs:
            assert not LEFTOVER.search(paragraph.text), (page.title, paragraph.text)
            for link in paragraph.links:
                anchor = paragraph.text[link.start : link.end]
                assert anchor == anchor.strip() and anchor, (page.title, link)
        if page.title == "Asphalt":
            first = parsed.paragraphs[0]
            assert first.text.startswith("Asphalt (occasionally), also known as bitumen is a sticky, black")
            assert [first.text[link.start : link.end] for link in first.links][:2] == ["viscous", "petroleum"]
    assert removed > 150  # 186 places on the sample
