"""Build dump files for tests from the real sample dump: multistream + index, extra pages, broken files."""

from __future__ import annotations

import bz2
import re
from pathlib import Path
from xml.sax.saxutils import escape


def sample_parts(dump: Path) -> tuple[bytes, list[bytes], bytes]:
    """The sample dump's decompressed XML as (header, pages, footer) byte strings."""
    xml = bz2.decompress(dump.read_bytes())
    first = xml.index(b"  <page>")
    last = xml.rindex(b"</page>") + len(b"</page>\n")
    pages = re.findall(rb"  <page>.*?</page>\n", xml[first:last], re.DOTALL)
    return xml[:first], pages, xml[last:]


def write_multistream(dump: Path, directory: Path, pages_per_stream: int = 10) -> Path:
    """Write ``<name>-multistream.xml.bz2`` and its ``-index.txt.bz2`` as Wikimedia lays them out."""
    header, pages, footer = sample_parts(dump)
    path = directory / "enwiki-test-pages-articles-multistream.xml.bz2"
    index_lines = []
    with open(path, "wb") as out:
        out.write(bz2.compress(header))
        for start in range(0, len(pages), pages_per_stream):
            offset = out.tell()
            group = pages[start : start + pages_per_stream]
            for page in group:
                page_id = re.search(rb"<id>(\d+)</id>", page).group(1).decode()
                title = re.search(rb"<title>(.*?)</title>", page).group(1).decode()
                index_lines.append(f"{offset}:{page_id}:{title}\n")
            out.write(bz2.compress(b"".join(group)))
        out.write(bz2.compress(footer))
    index = directory / "enwiki-test-pages-articles-multistream-index.txt.bz2"
    index.write_bytes(bz2.compress("".join(index_lines).encode()))
    return path


def page_xml(page_id: int, title: str, text: str, redirect: str | None = None, namespace: int = 0) -> bytes:
    redirect_element = f'    <redirect title="{escape(redirect)}" />\n' if redirect else ""
    return (
        f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{namespace}</ns>\n    <id>{page_id}</id>\n"
        f"{redirect_element}    <revision>\n      <id>{page_id + 1000000}</id>\n"
        f'      <text xml:space="preserve">{escape(text)}</text>\n    </revision>\n  </page>\n'
    ).encode()


def write_dump(path: Path, header: bytes, pages: list[bytes], footer: bytes = b"</mediawiki>\n") -> Path:
    """Write an XML dump (bz2-compressed when the name ends in .bz2)."""
    data = header + b"".join(pages) + footer
    path.write_bytes(bz2.compress(data) if path.suffix == ".bz2" else data)
    return path


def write_damaged_dumps(dump: Path, directory: Path) -> dict[str, Path]:
    """Damaged copies of a sample dump, named by their damage: ``cut.xml.bz2`` (the compressed file cut at
    half its size), ``flipped.xml.bz2`` (one byte inverted at half its size), ``cut.xml`` (the decompressed
    XML cut at half) and ``no-end.xml`` (every page, but no ``</mediawiki>``)."""
    compressed = dump.read_bytes()
    half = len(compressed) // 2
    flipped = bytearray(compressed)
    flipped[half] ^= 0xFF
    xml = bz2.decompress(compressed)
    contents = {
        "cut.xml.bz2": compressed[:half],
        "flipped.xml.bz2": bytes(flipped),
        "cut.xml": xml[: len(xml) // 2],
        "no-end.xml": xml[: xml.rindex(b"</mediawiki>")],
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in contents.items():
        (directory / name).write_bytes(content)
    return {name: directory / name for name in contents}
