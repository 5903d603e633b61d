"""The manifest of a checkpoint: each file's size and XXH3-128 digest, written once every file is complete.

``manifest.json`` in a tag directory lists every file of the checkpoint by its path relative to the tag
directory. Files are hashed memory-mapped on a thread pool, several at once: while saving, each as soon as it
is written (from the page cache, while the next one is written); when verifying, every listed file.

The digest finds damage (truncation, overwritten or flipped bytes, a file from another checkpoint), not a
forger: a file crafted to run code is refused by the safe loading of ``pretraining.safe_load`` whatever its
digest. So it is XXH3-128 (``xxhash``, ~17 GB/s per core here), not SHA-256 (~1.2 GB/s): a checkpoint is
written to the page cache at ~2 GB/s on this machine, where SHA-256 added ~190 % to the save and XXH3 adds
what ``benchmarks/bench_checkpoint_manifest.py`` measures (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import xxhash

MANIFEST_FILE = "manifest.json"
FORMAT = "luke-checkpoint-manifest"
FORMAT_VERSION = 1
HASH_THREADS = min(8, os.cpu_count() or 1)


@dataclass(frozen=True)
class FileDigest:
    size: int
    xxh3_128: str


def hash_file(path: Path) -> FileDigest:
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if not size:  # an empty file cannot be mapped
            return FileDigest(0, xxhash.xxh3_128_hexdigest(b""))
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return FileDigest(size, xxhash.xxh3_128_hexdigest(mapped))


def hash_files(root: Path, names: Iterable[str]) -> dict[str, FileDigest]:
    """The digests of ``root/name`` for each name, files hashed in parallel."""
    names = sorted(names)
    with ThreadPoolExecutor(HASH_THREADS) as pool:
        return dict(zip(names, pool.map(hash_file, (root / name for name in names)), strict=True))


def files_under(root: Path) -> list[str]:
    """Every file below ``root`` (the manifest excepted), as paths relative to it."""
    files = (path for path in root.rglob("*") if path.is_file() and path.name != MANIFEST_FILE)
    return sorted(str(path.relative_to(root)) for path in files)


def write_manifest(tag_dir: Path, digests: dict[str, FileDigest]) -> None:
    """Write ``tag_dir/manifest.json`` (temporary file, fsync, rename)."""
    files = {name: asdict(digest) for name, digest in sorted(digests.items())}
    text = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "files": files}, indent=1)
    temporary = tag_dir / f".{MANIFEST_FILE}.tmp"
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, tag_dir / MANIFEST_FILE)


def read_manifest(tag_dir: Path) -> dict[str, FileDigest] | None:
    """The digests ``tag_dir/manifest.json`` lists, or None when it has none. ``ValueError`` if unreadable."""
    path = tag_dir / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} version {FORMAT_VERSION}")
        return {name: FileDigest(entry["size"], entry["xxh3_128"]) for name, entry in manifest["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{MANIFEST_FILE} is unreadable ({error})") from error


def first_mismatch(tag_dir: Path, expected: dict[str, FileDigest]) -> str | None:
    """What differs first between ``tag_dir``'s files and ``expected`` (naming the file), or None."""
    for name, digest in sorted(expected.items()):
        path = tag_dir / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != digest.size:
            return f"{name} has {size:,} bytes, the manifest says {digest.size:,} (truncated or overwritten)"
    actual = hash_files(tag_dir, expected)
    for name, digest in sorted(expected.items()):
        if actual[name].xxh3_128 != digest.xxh3_128:
            return f"{name} differs from its digest in the manifest (overwritten or corrupted)"
    return None
