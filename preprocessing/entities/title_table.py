"""The title table: every article and redirect title of the dump → where a link to it leads, as files that
every worker memory-maps (one copy per machine, shared through the page cache) instead of a join per link.

A title is found by a 128-bit blake2b hash: its first 64 bits are the sorted ``key`` searched with NumPy, the
last 64 the ``check`` compared on a hit. The table is cut into parts by ``key % parts``; each unit of the title
pass writes its titles as a run (``part_runs``, :data:`RUN_SCHEMA`) and one work item per part merges that part
of every run (:func:`write_part`) into an Arrow IPC file sorted by key::

    key uint64 | check uint64 | kind int8 | target string (the title a redirect points to; null for an article)

Two titles with the same key are a **collision**: :func:`write_part` raises :class:`TitleCollisionError` naming
both (never merged; at 17M titles its odds are ~1e-5). A link target whose key is in the table but whose check
differs is a title the table does not hold (its odds: 2^-64 a lookup): :meth:`TitleTable.lookup` treats it as
missing and counts it (``links.table_check_mismatch``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from enum import IntEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.atomic import atomic_create, is_local
from preprocessing.part_runs import write_run

SCHEMA = pa.schema(
    [
        pa.field("key", pa.uint64(), nullable=False),
        pa.field("check", pa.uint64(), nullable=False),
        pa.field("kind", pa.int8(), nullable=False),
        pa.field("target", pa.string()),
    ]
)
# a unit's titles as the title pass writes them: the table's columns, the title itself (to name a collision) and
# an article's page id (``--max-pages`` keeps the articles of smallest page id; -1 for a redirect)
RUN_SCHEMA = pa.schema([*SCHEMA, pa.field("title", pa.string(), nullable=False), pa.field("page_id", pa.int64())])


class TitleKind(IntEnum):
    """What a title is: an article, or a redirect (``target``: the title it points to)."""

    ARTICLE = 0
    REDIRECT = 1


# One title's entry: its kind (a TitleKind value) and, for a redirect, the title it points to.
TitleEntry = tuple[int, str | None]


class TitleCollisionError(RuntimeError):
    """Two different titles hash to the same 64-bit key."""


def title_hash(title: str) -> tuple[int, int]:
    """``(key, check)``: the two 64-bit halves of the title's 128-bit blake2b hash."""
    digest = hashlib.blake2b(title.encode("utf-8"), digest_size=16).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little")


def part_path(directory: str, index: int, parts: int) -> str:
    return FileSystems.join(directory, f"titles-{index:05d}-of-{parts:05d}.arrow")


def write_title_run(path: str, titles: Sequence[tuple[str, TitleEntry, int]], parts: int) -> None:
    """Write a unit's ``(title, entry, page id)`` triples as its run of the title table's ``parts``."""
    hashes = np.array([title_hash(title) for title, _, _ in titles], dtype=np.uint64).reshape(-1, 2)
    rows = pa.table(
        [
            pa.array(hashes[:, 0], pa.uint64()),
            pa.array(hashes[:, 1], pa.uint64()),
            pa.array([kind for _, (kind, _), _ in titles], pa.int8()),
            pa.array([target for _, (_, target), _ in titles], pa.string()),
            pa.array([title for title, _, _ in titles], pa.string()),
            pa.array([page_id for _, _, page_id in titles], pa.int64()),
        ],
        schema=RUN_SCHEMA,
    )
    write_run(path, rows, hashes[:, 0], parts)


def write_part(path: str, rows: pa.Table, max_page_id: int | None = None) -> Counter:
    """Write one part from its rows of every run (:data:`RUN_SCHEMA`); return how many titles of each kind it
    holds, how many duplicate rows it merged (``duplicates``) and, with ``max_page_id``, how many articles above
    it it left out (``beyond_max_pages``). A title given twice keeps its article entry, else the smallest
    redirect target (one page per title; the rule keeps duplicate pages deterministic). Raises
    :class:`TitleCollisionError` naming two titles with one key."""
    counts: Counter = Counter()
    if max_page_id is not None:
        beyond = pc.and_(pc.equal(rows["kind"], TitleKind.ARTICLE.value), pc.greater(rows["page_id"], max_page_id))
        counts["beyond_max_pages"] = pc.sum(beyond).as_py() or 0
        rows = rows.filter(pc.invert(beyond))
    # sorted by key, then title, kind and target: a title's rows are adjacent, its article (kind 0) first
    rows = rows.sort_by([("key", "ascending"), ("title", "ascending"), ("kind", "ascending"), ("target", "ascending")])
    keys = rows["key"].to_numpy()
    repeated = keys[1:] == keys[:-1]
    _refuse_collisions(rows["title"], np.flatnonzero(repeated), keys)
    counts["duplicates"] = int(repeated.sum())
    table = rows.filter(pa.array(np.concatenate([[True], ~repeated])[: len(keys)])).select(SCHEMA.names)
    kinds = np.bincount(table["kind"].to_numpy(), minlength=len(TitleKind))
    counts.update({kind.name.lower(): int(kinds[kind.value]) for kind in TitleKind})
    with atomic_create(path) as stream, pa.ipc.new_file(stream, SCHEMA) as writer:
        writer.write_table(table)
    return +counts


def _refuse_collisions(titles: pa.ChunkedArray, repeated: np.ndarray, keys: np.ndarray) -> None:
    """Raise :class:`TitleCollisionError` if rows ``repeated`` and the ones after them differ in title."""
    first, second = titles.take(pa.array(repeated)), titles.take(pa.array(repeated + 1))
    differing = np.flatnonzero(pc.not_equal(first, second).to_numpy(zero_copy_only=False))
    if len(differing):
        row = differing[0]
        raise TitleCollisionError(
            f"the titles {first[row].as_py()!r} and {second[row].as_py()!r} have the same 64-bit key "
            f"{int(keys[repeated[row]]):#018x}: the title table cannot tell them apart (report it: the hash needs "
            "widening)"
        )


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
