"""Titles, link classification and wikitext → paragraphs, checked against an independent parser."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from wikitext_reference import independent_links

from preprocessing.sources.files import iter_blocks, open_decompressed, read_header
from preprocessing.sources.xml_pages import parse_page, split_pages
from preprocessing.wikitext.parser import WikitextParser
from preprocessing.wikitext.titles import LinkTarget, TargetKind, classify_target, normalize_title


@pytest.fixture(scope="session")
def enwiki_pages(enwiki_dump):
    header = read_header(str(enwiki_dump))
    with open_decompressed(str(enwiki_dump)) as stream:
        pages = [parse_page(data, header.encoding) for data in split_pages(iter_blocks(stream), header.encoding)]
    return header.site, {page.page_id: page for page in pages}


@pytest.fixture(scope="session")
def bgwiki_site(bgwiki_dump):
    return read_header(str(bgwiki_dump)).site


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("computer_science", "Computer science"),
        ("  Computer   science  ", "Computer science"),
        ("Computer science#History", "Computer science"),
        ("AT&amp;T", "AT&T"),
        ("Caf&eacute;\u00a0society", "Café society"),
        ("ßtraße", "ßtraße"),  # no single-letter upper case: kept, as MediaWiki does
        ("éclair", "Éclair"),
    ],
)
def test_normalize_title_follows_mediawiki(raw, expected):
    assert normalize_title(raw) == expected


def test_classify_target_uses_the_wikis_own_namespaces(enwiki_pages, bgwiki_site):
    en_site, _ = enwiki_pages
    assert classify_target("File:Foo.jpg", "Page", en_site).kind is TargetKind.OTHER_NAMESPACE
    assert classify_target("image:Foo.jpg", "Page", en_site).kind is TargetKind.OTHER_NAMESPACE
    assert classify_target("Category talk:X", "Page", en_site).kind is TargetKind.OTHER_NAMESPACE
    assert classify_target("Категория:Календари", "Страница", bgwiki_site).kind is TargetKind.OTHER_NAMESPACE
    assert classify_target("Уикипедия:Правила", "Страница", bgwiki_site).kind is TargetKind.OTHER_NAMESPACE
    assert classify_target("Категория:Календари", "Page", en_site).kind is TargetKind.ARTICLE  # not an en namespace
    assert classify_target("wikt:anarchism", "Page", en_site).kind is TargetKind.INTERWIKI
    assert classify_target("fr:Anarchisme", "Page", en_site).kind is TargetKind.INTERWIKI
    assert classify_target("Star Trek: Voyager", "Page", en_site) == classify_target("star_Trek: Voyager", "P", en_site)
    assert classify_target("Star Trek: Voyager", "Page", en_site).title == "Star Trek: Voyager"
    assert classify_target("#History", "Anarchism", en_site) == LinkTarget(TargetKind.SECTION, "Anarchism")
    assert classify_target("", "Page", en_site).kind is TargetKind.INVALID
    assert classify_target("A{{b}}", "Page", en_site).kind is TargetKind.INVALID


def test_paragraphs_are_plain_text_and_spans_are_anchors(enwiki_pages):
    site, pages = enwiki_pages
    parser = WikitextParser(site)
    parsed = parser.parse(12, "Anarchism", pages[12].wikitext)
    first = parsed.paragraphs[0]
    assert first.text.startswith("Anarchism is a political philosophy")
    anchors = [(first.text[link.start : link.end], link.target) for link in first.links]
    assert anchors[:3] == [
        ("political philosophy", "Political philosophy"),
        ("self-governed", "Self-governance"),
        ("stateless societies", "Stateless society"),
    ]
    for paragraph in parsed.paragraphs:
        assert not re.search(r"&(?:[a-z]+|#\d+|#x[0-9a-f]+);|<a |</a>|\[\[|\]\]", paragraph.text), paragraph.text
        for link in paragraph.links:
            anchor = paragraph.text[link.start : link.end]
            assert anchor and anchor == anchor.strip()
    assert parsed.dropped_links["other_namespace"] > 0  # the page's files and categories


def test_articles_pickle_flat_and_back_to_equal_records(enwiki_pages):
    import pickle

    from preprocessing.records import Article

    site, pages = enwiki_pages
    paragraphs = WikitextParser(site).parse(12, "Anarchism", pages[12].wikitext).paragraphs
    article = Article(12, "Anarchism", (*paragraphs, type(paragraphs[0])("no links", ())))
    copy = pickle.loads(pickle.dumps(article))
    assert copy == article and sum(len(paragraph.links) for paragraph in copy.paragraphs) > 100


def test_link_trail_belongs_to_the_anchor_and_colon_titles_stay_links(enwiki_pages):
    site, _ = enwiki_pages
    parsed = WikitextParser(site).parse(1, "Test", "Two [[bus]]es and [[Star Trek: Voyager|Voyager]]. [[fr:Bus]]")
    (paragraph,) = parsed.paragraphs
    assert paragraph.text == "Two buses and Voyager."
    assert [(paragraph.text[link.start : link.end], link.target) for link in paragraph.links] == [
        ("buses", "Bus"),
        ("Voyager", "Star Trek: Voyager"),
    ]
    assert parsed.dropped_links == Counter({"interwiki": 1})


def test_one_parser_for_every_page_gives_what_a_fresh_parser_per_page_gives(enwiki_pages, monkeypatch):
    site, pages = enwiki_pages
    articles = [page for page in pages.values() if page.namespace == 0 and page.redirect is None]
    section_link = "See [[#History|its history]] and [[Anarchism]]."

    def parse_all(parser_for_page) -> list:
        parsed = [parser_for_page().parse(page.page_id, page.title, page.wikitext) for page in articles]
        parsed += [parser_for_page().parse(page_id, title, section_link) for page_id, title in [(1, "A"), (2, "B")]]
        return parsed

    expected = parse_all(lambda: WikitextParser(site, keep_section_links=True))
    shared = WikitextParser(site, keep_section_links=True)
    assert parse_all(lambda: shared) == expected  # the parser's memory of link targets changes nothing
    monkeypatch.setattr("preprocessing.wikitext.parser.TARGET_CACHE_SIZE", 50)  # and neither does starting afresh
    small = WikitextParser(site, keep_section_links=True)
    assert parse_all(lambda: small) == expected
    assert [link.target for link in expected[-1].paragraphs[0].links] == ["B", "Anarchism"]


@pytest.mark.parametrize("page_id", [12, 25, 39, 290, 330])
def test_links_agree_with_mwparserfromhell(enwiki_pages, page_id):
    site, pages = enwiki_pages
    page = pages[page_id]
    ours: Counter = Counter()
    for paragraph in WikitextParser(site).parse(page.page_id, page.title, page.wikitext).paragraphs:
        for link in paragraph.links:
            ours[(link.target, paragraph.text[link.start : link.end].replace('"', ""))] += 1
    theirs = independent_links(page.wikitext, page.title, site)
    # every link we keep is one of the running text's links, with its anchor text, as often as it occurs
    assert ours - theirs == Counter()
    # and we miss few: list items are kept, with their links
    assert sum(ours.values()) >= 0.9 * sum(theirs.values())
