"""Dump files: expanding patterns, opening (de)compressed streams on any Beam filesystem, detecting the
text encoding, and the header (``<siteinfo>``) read on the driver before the job starts.

Everything here is plain Python; the Beam transforms that use it live in ``reading``.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from preprocessing.sources.siteinfo import SiteInfo, parse_site_info

BLOCK_SIZE = 1 << 20
HEADER_LIMIT = 1 << 20  # a <siteinfo> larger than this is not a MediaWiki dump
HEADER_CHUNK = 1 << 14
MULTISTREAM_MARKER = "multistream"
INDEX_SUFFIX = "-index.txt.bz2"


class DumpFileError(ValueError):
    """A file that cannot be read as a MediaWiki XML dump (message names the file)."""


class DamagedDumpError(DumpFileError):
    """Reading a dump file stopped early: its compressed data ends early (``truncated_file``) or is corrupt
    (``corrupt_file``), or its XML ends before ``</mediawiki>`` (``xml_ends_early``).

    The message names the file and where reading stopped; ``reason`` is the counter name and ``where`` the
    ``path@offset`` recorded with it. The message comes first in ``args``: Beam re-raises a worker's
    exception as ``type(error)(args[0] + step, *args[1:])``, and pickles it (DaskRunner) by its ``args``.
    """

    def __init__(self, message: str, reason: str, where: str) -> None:
        super().__init__(message, reason, where)
        self.reason = reason
        self.where = where

    def __str__(self) -> str:
        return self.args[0]


def damage_of(error: Exception, path: str, offset: int, position: str) -> DamagedDumpError:
    """The :class:`DamagedDumpError` for a decompression ``error`` at compressed byte ``offset`` of ``path``;
    ``position`` says where in words (e.g. "compressed byte 847,935 of 1,695,871")."""
    reason = "truncated_file" if isinstance(error, EOFError) else "corrupt_file"
    problem = "compressed data ends early" if reason == "truncated_file" else f"corrupt compressed data ({error})"
    return DamagedDumpError(
        f"damaged dump file {path}: {problem}; reading stopped at {position}", reason, f"{path}@{offset}"
    )


@dataclass(frozen=True)
class DumpFile:
    """One dump file to read; ``index_path`` is set for a multistream file with its stream index."""

    path: str
    index_path: str | None = None
    size: int = 0


def expand_patterns(patterns: Iterable[str]) -> list[DumpFile]:
    """Match every pattern (local paths, globs, gs://, s3://...) to dump files, sorted by path.

    A multistream file (``...multistream.xml.bz2``) whose ``...multistream-index.txt.bz2`` sits next to it
    is paired with that index; index files given in the patterns themselves are not dumps and are skipped.
    Raises :class:`DumpFileError` for a pattern that matches nothing.
    """
    matched: dict[str, int] = {}
    for pattern in patterns:
        try:
            results = FileSystems.match([pattern])[0].metadata_list
        except Exception as error:  # Beam raises BeamIOError with per-pattern details
            raise DumpFileError(f"cannot list dump files matching {pattern!r}: {error}") from error
        if not results:
            raise DumpFileError(f"no dump file matches {pattern!r}")
        for metadata in results:
            matched[metadata.path] = metadata.size_in_bytes
    files = []
    for path in sorted(matched):
        if path.endswith(INDEX_SUFFIX):
            continue
        index = multistream_index_path(path)
        files.append(DumpFile(path, index if index and FileSystems.exists(index) else None, matched[path]))
    if not files:
        raise DumpFileError(f"the patterns {list(patterns)} match only multistream index files, no dump")
    return files


def multistream_index_path(path: str) -> str | None:
    """``x-multistream.xml.bz2`` → ``x-multistream-index.txt.bz2`` (None for other names)."""
    match = re.fullmatch(r"(.*multistream)\.xml\.bz2", path)
    return match.group(1) + INDEX_SUFFIX if match and MULTISTREAM_MARKER in path.rsplit("/", 1)[-1] else None


def open_raw(path: str) -> BinaryIO:
    """Open ``path`` on its Beam filesystem, bytes as stored (no decompression)."""
    try:
        return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    except Exception as error:
        raise DumpFileError(f"cannot open dump file {path}: {error}") from error


def open_decompressed(path: str) -> BinaryIO:
    """Open ``path`` and decompress it by its extension (.bz2 handles multi-stream files, .gz, else plain)."""
    return _decompressing(open_raw(path), path)


def _decompressing(raw: BinaryIO, path: str) -> BinaryIO:
    if path.endswith(".bz2"):
        return bz2.BZ2File(raw)
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    return raw


def iter_blocks(stream: BinaryIO, block_size: int = BLOCK_SIZE) -> Iterator[bytes]:
    """The stream's bytes in blocks of at most ``block_size``."""
    while block := stream.read(block_size):
        yield block


def iter_file_blocks(file: DumpFile, skip: int) -> Iterator[bytes]:
    """The decompressed bytes of a whole dump file after its first ``skip`` (the byte-order mark), in blocks.

    Raises :class:`DamagedDumpError` when decompression fails, naming the compressed byte where it stopped.
    """
    with open_raw(file.path) as raw, _decompressing(raw, file.path) as stream:
        try:
            stream.read(skip)
            yield from iter_blocks(stream)
        except (EOFError, OSError, zlib.error) as error:
            offset = raw.tell()
            raise damage_of(error, file.path, offset, f"compressed byte {offset:,} of {file.size:,}") from error


def detect_encoding(start: bytes) -> tuple[str, int]:
    """The XML document's encoding and the length of its byte-order mark, from its first bytes.

    MediaWiki writes UTF-8; some dumps (the Bulgarian sample) are UTF-16 with a BOM. An XML declaration's
    ``encoding="..."`` is honoured when there is no BOM.
    """
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if start.startswith(bom):
            return name, len(bom)
    if start.startswith(b"<\x00"):
        return "utf-16-le", 0
    if start.startswith(b"\x00<"):
        return "utf-16-be", 0
    declaration = re.match(rb"<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']", start)
    if declaration:
        name = declaration.group(1).decode("ascii")
        try:
            return codecs.lookup(name).name, 0
        except LookupError:
            pass
    return "utf-8", 0


@dataclass(frozen=True)
class DumpHeader:
    """What precedes the first ``<page>``: the encoding, the BOM length and the parsed ``<siteinfo>``."""

    encoding: str
    bom_length: int
    site: SiteInfo


def read_header(path: str) -> DumpHeader:
    """Read a dump's start (never more than ``HEADER_LIMIT`` bytes) and parse its ``<siteinfo>``.

    Fails fast, naming the file, for an unreadable file, an empty one, or one that is not a MediaWiki dump.
    """
    start = b""
    try:
        with open_decompressed(path) as stream:
            while len(start) < HEADER_LIMIT and b"siteinfo>" not in start[-(HEADER_CHUNK + 64) :]:
                chunk = stream.read(HEADER_CHUNK)
                if not chunk:
                    break
                start += chunk
    except (OSError, EOFError) as error:
        raise DumpFileError(f"cannot read dump file {path}: {error}") from error
    if not start:
        raise DumpFileError(f"{path} is empty (0 bytes after decompression); expected a MediaWiki XML dump")
    encoding, bom = detect_encoding(start)
    text = start[bom:].decode(encoding, errors="replace")
    if not re.match(r"\s*(<\?xml[^>]*>\s*)?<mediawiki[\s>]", text):
        raise DumpFileError(f"{path} is not a MediaWiki XML dump: it does not start with <mediawiki>")
    try:
        site = parse_site_info(text)
    except ValueError as error:
        raise DumpFileError(f"{path}: {error}") from error
    return DumpHeader(encoding, bom, site)
