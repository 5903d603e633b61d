"""Example: Wikipedia pages as annotated documents for ``luke build-corpus --documents``.

Each article of a (small) dump becomes one JSON line: its clean paragraphs joined by newlines as ``text``,
each hyperlink as an entity span whose title is the link target with the dump's redirects followed. Building
a corpus from these documents gives the mentions that building it from the dump gives (tested).

    python examples/wikipedia_documents.py "$(luke sample-dump)" --output documents.jsonl [--titles A B ...]

The redirects are held in a dict, which suits a sample, not full Wikipedia (use the Beam job there). Your own
documents need only the same three fields: ``id``, ``text`` and ``entities`` (``start``, ``end``, ``entity``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence

from preprocessing.records import WikiPage
from preprocessing.sources.files import iter_blocks, open_decompressed, read_header
from preprocessing.sources.xml_pages import parse_page, split_pages
from preprocessing.wikitext.parser import WikitextParser

MAX_REDIRECT_HOPS = 4  # as the corpus job's default


def wikipedia_documents(dump: str, titles: Sequence[str] = ()) -> Iterator[dict]:
    """The documents of the dump's articles (of ``titles`` only, when given), in dump order."""
    header = read_header(dump)
    with open_decompressed(dump) as stream:
        pages = [parse_page(data, header.encoding) for data in split_pages(iter_blocks(stream), header.encoding)]
    pages = [page for page in pages if isinstance(page, WikiPage) and page.namespace == 0]
    redirects = {page.title: page.redirect for page in pages if page.redirect is not None}
    parser = WikitextParser(header.site)
    for page in pages:
        if page.redirect is None and (not titles or page.title in titles):
            paragraphs = parser.parse(page.page_id, page.title, page.wikitext).paragraphs
            yield _document(page.page_id, page.title, paragraphs, redirects)


def _document(page_id: int, title: str, paragraphs, redirects: dict[str, str]) -> dict:
    texts, entities, offset = [], [], 0
    for paragraph in paragraphs:
        for link in paragraph.links:
            entity = {"start": offset + link.start, "end": offset + link.end}
            entities.append(entity | {"entity": _resolved(link.target, redirects)})
        texts.append(paragraph.text)
        offset += len(paragraph.text) + 1  # the newline between paragraphs
    return {"id": str(page_id), "title": title, "text": "\n".join(texts), "entities": entities}


def _resolved(title: str, redirects: dict[str, str]) -> str:
    for _ in range(MAX_REDIRECT_HOPS):
        if title not in redirects:
            break
        title = redirects[title]
    return title


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dump", help="a MediaWiki XML dump (.xml or .xml.bz2)")
    parser.add_argument("--output", required=True, help="the JSON Lines file to write")
    parser.add_argument("--titles", nargs="*", default=(), help="only these articles")
    args = parser.parse_args()
    with open(args.output, "w", encoding="utf-8") as output:
        for document in wikipedia_documents(args.dump, args.titles):
            output.write(json.dumps(document, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
