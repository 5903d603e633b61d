"""The manifest of a checkpoint: each file's size and sha256, written once every file is complete.

``manifest.json`` in a tag directory lists every file of the checkpoint by its path relative to the tag
directory. Files are hashed on a thread pool (``hashlib`` releases the GIL), several at once: while saving,
each as soon as it is written (from the page cache, while the next one is written); when verifying, every
listed file. ``benchmarks/bench_checkpoint_manifest.py`` measures the cost.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

MANIFEST_FILE = "manifest.json"
FORMAT = "luke-checkpoint-manifest"
FORMAT_VERSION = 1
HASH_THREADS = min(8, os.cpu_count() or 1)
READ_CHUNK = 16 << 20


@dataclass(frozen=True)
class FileDigest:
    size: int
    sha256: str


def hash_file(path: Path) -> FileDigest:
    digest, size = hashlib.sha256(), 0
    buffer = bytearray(READ_CHUNK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
            size += count
    return FileDigest(size, digest.hexdigest())


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
        return {name: FileDigest(entry["size"], entry["sha256"]) for name, entry in manifest["files"].items()}
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
        if actual[name].sha256 != digest.sha256:
            return f"{name} differs from its sha256 in the manifest (overwritten or corrupted)"
    return None
