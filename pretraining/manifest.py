"""The manifest of a checkpoint: each file's size and XXH3-128 digest, written once every file is complete.

``manifest.json`` in a tag directory lists every file of the checkpoint by its path relative to the tag
directory. A file's digest is the XXH3-128 of its 64 MiB chunks' XXH3-128 digests, so that the chunks of one big
file (ZeRO's optimizer states: gigabytes) are hashed on all cores at once. Chunks are hashed memory-mapped on a
thread pool (:class:`FileHasher`): while saving, each file's as soon as it is written (from the page cache, while
the next one is written); when verifying, every listed file's. Version 1 manifests (one XXH3-128 of the whole
file) are still verified.

The digest finds damage (truncation, overwritten or flipped bytes, a file from another checkpoint), not a
forger: a file crafted to run code is refused by the safe loading of ``pretraining.safe_load`` whatever its
digest. So it is XXH3-128 (``xxhash``, ~17 GB/s per core here), not SHA-256 (~1.2 GB/s): a checkpoint is
written to the page cache at ~2 GB/s on this machine, where SHA-256 added ~190 % to the save and XXH3 adds
what ``benchmarks/bench_checkpoint_manifest.py`` measures (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import functools
import json
import mmap
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import xxhash

MANIFEST_FILE = "manifest.json"
FORMAT = "luke-checkpoint-manifest"
FORMAT_VERSION = 2
CHUNK_BYTES = 64 << 20  # a multiple of the page size: chunks are mapped at their offset
WHOLE_FILE = None  # version 1: one digest of the whole file
HASH_THREADS = min(8, os.cpu_count() or 1)


@dataclass(frozen=True)
class FileDigest:
    size: int
    xxh3_128: str


def hash_range(path: Path, offset: int, length: int) -> bytes:
    """The XXH3-128 of ``length`` bytes of ``path`` from ``offset`` (page-aligned), read memory-mapped."""
    if not length:  # an empty range cannot be mapped
        return xxhash.xxh3_128_digest(b"")
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), length, offset=offset, access=mmap.ACCESS_READ) as data:
        return xxhash.xxh3_128_digest(data)


class FileHasher:
    """Hashes files chunk by chunk on a thread pool: :meth:`add` queues a written file's chunks and returns at
    once, :meth:`digests` waits for all of them. ``chunk_bytes=WHOLE_FILE`` hashes each file in one piece
    (version 1)."""

    def __init__(self, root: Path, chunk_bytes: int | None = CHUNK_BYTES) -> None:
        self.root = root
        self.chunk_bytes = chunk_bytes
        self._pool = ThreadPoolExecutor(HASH_THREADS)
        self._pending: dict[str, Callable[[], FileDigest]] = {}

    def add(self, name: str) -> None:
        """Queue ``root/name``; an ``OSError`` (file gone, unreadable) is raised by :meth:`digests`."""
        path = self.root / name
        try:
            size = path.stat().st_size
        except OSError as error:
            self._pending[name] = functools.partial(_raise, error)
            return
        step = self.chunk_bytes or max(size, 1)
        chunks = [self._pool.submit(hash_range, path, at, min(step, size - at)) for at in range(0, size, step)]
        self._pending[name] = functools.partial(self._combine, chunks, size)

    def digests(self) -> dict[str, FileDigest]:
        """Every added file's digest, once all are hashed (the pool is shut down)."""
        try:
            return {name: pending() for name, pending in sorted(self._pending.items())}
        finally:
            self._pool.shutdown(cancel_futures=True)

    def _combine(self, chunks: list[Future[bytes]], size: int) -> FileDigest:
        if self.chunk_bytes is WHOLE_FILE:
            return FileDigest(size, (chunks[0].result() if size else xxhash.xxh3_128_digest(b"")).hex())
        return FileDigest(size, xxhash.xxh3_128_hexdigest(b"".join(chunk.result() for chunk in chunks)))


def _raise(error: OSError) -> FileDigest:
    raise error


def hash_files(root: Path, names: Iterable[str], chunk_bytes: int | None = CHUNK_BYTES) -> dict[str, FileDigest]:
    """The digests of ``root/name`` for each name, all chunks of all files hashed in parallel."""
    hasher = FileHasher(root, chunk_bytes)
    for name in names:
        hasher.add(name)
    return hasher.digests()


def files_under(root: Path) -> list[str]:
    """Every file below ``root`` (the manifest excepted), as paths relative to it."""
    files = (path for path in root.rglob("*") if path.is_file() and path.name != MANIFEST_FILE)
    return sorted(str(path.relative_to(root)) for path in files)


def write_manifest(tag_dir: Path, digests: dict[str, FileDigest]) -> None:
    """Write ``tag_dir/manifest.json`` (temporary file, fsync, rename)."""
    files = {name: asdict(digest) for name, digest in sorted(digests.items())}
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "chunk_bytes": CHUNK_BYTES}
    text = json.dumps({**header, "files": files}, indent=1)
    temporary = tag_dir / f".{MANIFEST_FILE}.tmp"
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, tag_dir / MANIFEST_FILE)


@dataclass(frozen=True)
class Manifest:
    files: dict[str, FileDigest]
    chunk_bytes: int | None
    """The chunk size its digests were computed with; ``WHOLE_FILE`` for version 1."""


def read_manifest(tag_dir: Path) -> Manifest | None:
    """``tag_dir/manifest.json``, or None when it has none. ``ValueError`` if unreadable."""
    path = tag_dir / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        version = manifest.get("format_version")
        if manifest.get("format") != FORMAT or version not in (1, FORMAT_VERSION):
            raise ValueError(f"not a {FORMAT} of version 1 or {FORMAT_VERSION}")
        chunk_bytes = WHOLE_FILE if version == 1 else int(manifest["chunk_bytes"])
        if chunk_bytes is not WHOLE_FILE and (chunk_bytes <= 0 or chunk_bytes % mmap.ALLOCATIONGRANULARITY):
            raise ValueError(f"chunk_bytes {chunk_bytes} is not a positive multiple of the page size")
        files = {name: FileDigest(entry["size"], entry["xxh3_128"]) for name, entry in manifest["files"].items()}
        return Manifest(files, chunk_bytes)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{MANIFEST_FILE} is unreadable ({error})") from error


def first_mismatch(tag_dir: Path, manifest: Manifest) -> str | None:
    """What differs first between ``tag_dir``'s files and the manifest (naming the file), or None."""
    expected = manifest.files
    for name, digest in sorted(expected.items()):
        path = tag_dir / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != digest.size:
            return f"{name} has {size:,} bytes, the manifest says {digest.size:,} (truncated or overwritten)"
    actual = hash_files(tag_dir, expected, manifest.chunk_bytes)
    for name, digest in sorted(expected.items()):
        if actual[name].xxh3_128 != digest.xxh3_128:
            return f"{name} differs from its digest in the manifest (overwritten or corrupted)"
    return None
