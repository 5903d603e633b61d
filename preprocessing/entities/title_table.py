"""The title table: every article and redirect title of the dump → where a link to it leads, as files that
every worker memory-maps (one copy per machine, shared through the page cache) instead of a join per link.

A title is found by a 128-bit blake2b hash: its first 64 bits are the sorted ``key`` searched with NumPy, the
last 64 the ``check`` compared on a hit. The table is cut into parts by ``key % parts`` (each written by one
worker, from one group of a ``GroupByKey``), each part an Arrow IPC file sorted by key::

    key uint64 | check uint64 | kind int8 | target string (the title a redirect points to; null for an article)

Two titles with the same key are a **collision**: the part writer raises :class:`TitleCollisionError` naming both
(never merged; at 17M titles its odds are ~1e-5). A link target whose key is in the table but whose check
differs is a title the table does not hold (its odds: 2^-64 a lookup): :meth:`TitleTable.lookup` treats it as
missing and counts it (``links.table_check_mismatch``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from enum import IntEnum

import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.atomic import atomic_create, is_local

SCHEMA = pa.schema(
    [
        pa.field("key", pa.uint64(), nullable=False),
        pa.field("check", pa.uint64(), nullable=False),
        pa.field("kind", pa.int8(), nullable=False),
        pa.field("target", pa.string()),
    ]
)
TITLES_PER_PART = 250_000  # ~9 MB of Arrow; ~100 MB of Python records sorted by the worker that writes the part


class TitleKind(IntEnum):
    """What a title is: an article, or a redirect (``target``: the title it points to)."""

    ARTICLE = 0
    REDIRECT = 1


# One title's row: its kind (a TitleKind value) and, for a redirect, the title it points to. A plain tuple: Beam
# encodes it with its standard coders (a NamedTuple would get a schema coder).
TitleEntry = tuple[int, str | None]


class TitleCollisionError(RuntimeError):
    """Two different titles hash to the same 64-bit key."""


def title_hash(title: str) -> tuple[int, int]:
    """``(key, check)``: the two 64-bit halves of the title's 128-bit blake2b hash."""
    digest = hashlib.blake2b(title.encode("utf-8"), digest_size=16).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little")


def part_of(title: str, parts: int) -> int:
    return title_hash(title)[0] % parts


def part_count(titles: int) -> int:
    """Parts for about ``titles`` titles: one per :data:`TITLES_PER_PART`, at least one."""
    return max(1, -(-titles // TITLES_PER_PART))


def part_path(directory: str, index: int, parts: int) -> str:
    return FileSystems.join(directory, f"titles-{index:05d}-of-{parts:05d}.arrow")


def write_part(path: str, entries: Iterable[tuple[str, TitleEntry]]) -> Counter:
    """Write one part from ``(title, entry)`` pairs; return how many titles of each kind it holds and how many
    duplicate pairs it merged (``duplicates``). A title given twice keeps its article entry, else the smallest
    redirect entry (one page per title; the rule keeps duplicate pages deterministic). Raises
    :class:`TitleCollisionError` naming two titles with one key."""
    counts: Counter = Counter()
    hashed: list[tuple[tuple[int, int], str, TitleEntry]] = []
    # sorted by key, then title, then entry: a title's entries are adjacent, its article (kind 0) first
    for (key, check), title, entry in sorted((title_hash(title), title, entry) for title, entry in entries):
        if hashed and hashed[-1][0][0] == key:
            if hashed[-1][1] != title:
                raise TitleCollisionError(
                    f"the titles {hashed[-1][1]!r} and {title!r} have the same 64-bit key {key:#018x}: the title "
                    "table cannot tell them apart (report it: the hash needs widening)"
                )
            counts["duplicates"] += 1
            continue
        hashed.append(((key, check), title, entry))
    for _, _, (kind, _) in hashed:
        counts[TitleKind(kind).name.lower()] += 1
    table = pa.table(
        [
            pa.array([key for (key, _), _, _ in hashed], pa.uint64()),
            pa.array([check for (_, check), _, _ in hashed], pa.uint64()),
            pa.array([kind for _, _, (kind, _) in hashed], pa.int8()),
            pa.array([target for _, _, (_, target) in hashed], pa.string()),
        ],
        schema=SCHEMA,
    )
    with atomic_create(path) as stream, pa.ipc.new_file(stream, SCHEMA) as writer:
        writer.write_table(table)
    return counts


class _Part:
    """One part, memory-mapped: NumPy views of the key and check columns, the rest read on a hit."""

    def __init__(self, path: str) -> None:
        table = pa.ipc.open_file(pa.memory_map(path, "r")).read_all().combine_chunks()
        self.keys = table.column("key").to_numpy()
        self.checks = table.column("check").to_numpy()
        self.kinds = table.column("kind").to_numpy()
        self.targets = table.column("target")


class TitleTable:
    """The parts under ``directory`` (local, or copied once per process to local disk from another filesystem)."""

    def __init__(self, directory: str, parts: int) -> None:
        self._parts: list[_Part | None] = [None] * parts
        self._directory = directory
        self._local: str | None = None

    @property
    def parts(self) -> int:
        return len(self._parts)

    def _part(self, index: int) -> _Part:
        part = self._parts[index]
        if part is None:
            part = self._parts[index] = _Part(self._local_copy(part_path(self._directory, index, self.parts)))
        return part

    def _local_copy(self, path: str) -> str:
        if is_local(path):
            return path
        if self._local is None:
            self._local = tempfile.mkdtemp(prefix="luke-title-table-")
        local = os.path.join(self._local, os.path.basename(path))
        with FileSystems.open(path) as source, open(local, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        return local

    def lookup(self, titles: Sequence[str], counts: Counter) -> list[TitleEntry | None]:
        """The entry of each title, None for a title the table does not hold."""
        found: list[TitleEntry | None] = [None] * len(titles)
        for position, title in enumerate(titles):
            key, check = title_hash(title)
            part = self._part(key % self.parts)
            row = int(np.searchsorted(part.keys, np.uint64(key)))
            if row == len(part.keys) or int(part.keys[row]) != key:
                continue
            if int(part.checks[row]) != check:
                counts["links.table_check_mismatch"] += 1
                continue
            found[position] = int(part.kinds[row]), part.targets[row].as_py()
        return found
