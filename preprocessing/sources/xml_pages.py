"""Cut a dump's byte stream into ``<page>`` elements and parse each one on its own.

Pages are found by their ``<page>``/``</page>`` tags in the raw bytes (encoded in the document's
encoding), so memory holds one page at a time, whatever the file size, and a broken page — malformed
XML, bytes that are not valid in the encoding, an oversized page — fails alone: it becomes a
:class:`PageFailure` and the reading goes on with the next page.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

from preprocessing.defaults import DEFAULT_MAX_PAGE_BYTES
from preprocessing.records import WikiPage
from preprocessing.wikitext.titles import normalize_title

_PAGE_ID = re.compile(r"<id>\s*(\d+)\s*</id>")
_HEAD_BYTES = 4096  # kept from an oversized page to report its id
DOCUMENT_END = "</mediawiki>"
TAIL_BYTES = 256  # what a reader keeps of a stream's end for ends_document (even: UTF-16 stays aligned)


@dataclass(frozen=True)
class PageFailure:
    """A page that could not be read: ``reason`` is a counter name, ``page_id`` as far as it is known."""

    reason: str
    page_id: str | None


class _Markers:
    def __init__(self, encoding: str) -> None:
        self.start = "<page>".encode(encoding)
        self.end = "</page>".encode(encoding)
        self.unit = len("<".encode(encoding))  # 2 for UTF-16: matches must sit on a character boundary

    def find(self, buffer: bytes | bytearray, marker: bytes, start: int) -> int:
        index = buffer.find(marker, start)
        while index >= 0 and index % self.unit:
            index = buffer.find(marker, index + 1)
        return index

    def resume_point(self, buffer: bytes | bytearray, marker: bytes, start: int) -> int:
        """Where to search again once more bytes arrive: a partial marker may end the buffer."""
        point = max(start, len(buffer) - len(marker) + 1)
        return point - point % self.unit


def split_pages(
    blocks: Iterator[bytes], encoding: str, max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES
) -> Iterator[bytes | PageFailure]:
    """Yield the bytes of each ``<page>...</page>`` in ``blocks`` (which start on a character boundary).

    A page longer than ``max_page_bytes`` is skipped without being held in memory
    (``PageFailure("page_too_large")``), a page cut by the next ``<page>`` or by the end of the stream is
    reported as ``malformed_xml`` / ``truncated_page``.
    """
    markers = _Markers(encoding)
    buffer = bytearray()
    page_start: int | None = None  # offset of the current page's <page> in buffer
    oversized_head: bytes | None = None  # set while skipping an oversized page
    search = 0
    for block in blocks:
        buffer += block
        while True:
            if page_start is None and oversized_head is None:
                begin = markers.find(buffer, markers.start, search)
                if begin < 0:
                    search = markers.resume_point(buffer, markers.start, search)
                    break
                page_start, search = begin, begin + len(markers.start)
            end = markers.find(buffer, markers.end, search)
            restart = markers.find(buffer, markers.start, search)
            if restart >= 0 and (end < 0 or restart < end):  # a new page began before this one ended
                yield PageFailure("malformed_xml", _page_id(oversized_head or buffer[page_start:restart], encoding))
                page_start, oversized_head, search = None, None, restart
                continue
            if end < 0:
                if oversized_head is None and len(buffer) - page_start > max_page_bytes:
                    oversized_head = bytes(buffer[page_start : page_start + _HEAD_BYTES])
                if oversized_head is not None:  # drop what was read of the oversized page
                    keep = markers.resume_point(buffer, markers.end, 0)
                    del buffer[:keep]
                    page_start, search = None, 0
                else:
                    search = markers.resume_point(buffer, markers.end, search)
                break
            stop = end + len(markers.end)
            if oversized_head is not None:
                yield PageFailure("page_too_large", _page_id(oversized_head, encoding))
            else:
                yield bytes(buffer[page_start:stop])
            page_start, oversized_head, search = None, None, stop
        # forget consumed bytes, keeping the current page and a possible partial marker
        drop = page_start if page_start is not None else min(search, len(buffer))
        drop -= drop % markers.unit
        if drop:
            del buffer[:drop]
            search -= drop
            if page_start is not None:
                page_start -= drop
    if page_start is not None or oversized_head is not None:
        head = oversized_head or bytes(buffer[page_start : page_start + _HEAD_BYTES])
        yield PageFailure("truncated_page", _page_id(head, encoding))


def ends_document(tail: bytes, encoding: str) -> bool:
    """Whether the last bytes of a dump (``TAIL_BYTES`` of them, or all if shorter) close its ``<mediawiki>``."""
    return tail.decode(encoding, errors="replace").rstrip().endswith(DOCUMENT_END)


def parse_page(data: bytes, encoding: str, first_letter_case: bool = True) -> WikiPage | PageFailure:
    """Parse one ``<page>`` element's bytes into a :class:`WikiPage`, or say why it cannot be."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return PageFailure("invalid_encoding", _page_id(data, encoding))
    try:
        element = ET.fromstring(text)
        page_id = int(element.findtext("id") or "")
        namespace = int(element.findtext("ns") or "0")
        title = element.findtext("title")
        if not title:
            raise ValueError("no <title>")
    except (ET.ParseError, ValueError):
        return PageFailure("malformed_xml", _page_id(data, encoding))
    redirect = element.find("redirect")
    redirect_title = redirect.get("title") if redirect is not None else None
    return WikiPage(
        page_id=page_id,
        namespace=namespace,
        title=normalize_title(title, first_letter_case),
        redirect=normalize_title(redirect_title, first_letter_case) if redirect_title else None,
        wikitext=element.findtext("revision/text") or "",
    )


def _page_id(data: bytes | bytearray, encoding: str) -> str | None:
    match = _PAGE_ID.search(bytes(data[:_HEAD_BYTES]).decode(encoding, errors="replace"))
    return match.group(1) if match else None
