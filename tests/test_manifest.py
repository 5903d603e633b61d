"""The checkpoint manifest's digests: a file's 64 MiB chunks hashed in parallel and combined, the same whether
hashed while a checkpoint is written or from disk later; version 1 manifests (one digest per file) still verify."""

from __future__ import annotations

import json
import mmap
import os
from pathlib import Path

import pytest
import xxhash

from pretraining.manifest import (
    MANIFEST_FILE,
    WHOLE_FILE,
    FileHasher,
    first_mismatch,
    hash_files,
    read_manifest,
    write_manifest,
)

CHUNK = 2 * mmap.PAGESIZE  # small chunks, so that a few KiB make several


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "rng").mkdir()
    (tmp_path / "optim_states.pt").write_bytes(os.urandom(5 * CHUNK + 123))  # 6 chunks, the last partial
    (tmp_path / "rng/rank-00000.pt").write_bytes(os.urandom(CHUNK))  # exactly one chunk
    (tmp_path / "empty.json").write_bytes(b"")
    return tmp_path


def test_a_digest_combines_the_chunks_digests_in_order(files: Path) -> None:
    data = (files / "optim_states.pt").read_bytes()
    chunks = [xxhash.xxh3_128_digest(data[start : start + CHUNK]) for start in range(0, len(data), CHUNK)]
    digests = hash_files(files, ["optim_states.pt", "rng/rank-00000.pt", "empty.json"], CHUNK)
    assert digests["optim_states.pt"].size == len(data) and len(chunks) == 6
    assert digests["optim_states.pt"].xxh3_128 == xxhash.xxh3_128_hexdigest(b"".join(chunks))
    assert digests["empty.json"].xxh3_128 == xxhash.xxh3_128_hexdigest(b"")
    whole = hash_files(files, ["optim_states.pt", "empty.json"], WHOLE_FILE)
    assert whole["optim_states.pt"].xxh3_128 == xxhash.xxh3_128_hexdigest(data)
    assert whole["empty.json"].xxh3_128 == xxhash.xxh3_128_hexdigest(b"")


def test_files_added_one_by_one_get_the_digests_hashed_from_disk(files: Path) -> None:
    hasher = FileHasher(files)
    for name in ("rng/rank-00000.pt", "optim_states.pt", "empty.json"):
        hasher.add(name)
    assert hasher.digests() == hash_files(files, ["empty.json", "optim_states.pt", "rng/rank-00000.pt"])


def test_a_missing_file_raises_when_the_digests_are_asked_for(files: Path) -> None:
    hasher = FileHasher(files)
    hasher.add("optim_states.pt")
    hasher.add("gone.pt")
    with pytest.raises(FileNotFoundError, match="gone.pt"):
        hasher.digests()


def test_one_flipped_byte_in_any_chunk_is_named(files: Path) -> None:
    names = ["empty.json", "optim_states.pt", "rng/rank-00000.pt"]
    write_manifest(files, hash_files(files, names))
    manifest = read_manifest(files)
    assert first_mismatch(files, manifest) is None
    path = files / "optim_states.pt"
    for offset in (0, 3 * CHUNK + 7, path.stat().st_size - 1):
        original = path.read_bytes()
        path.write_bytes(original[:offset] + bytes([original[offset] ^ 1]) + original[offset + 1 :])
        assert first_mismatch(files, manifest) == (
            "optim_states.pt differs from its digest in the manifest (overwritten or corrupted)"
        )
        path.write_bytes(original)


def test_a_version_1_manifest_is_verified_with_whole_file_digests(files: Path) -> None:
    names = ["empty.json", "optim_states.pt", "rng/rank-00000.pt"]
    entries = {
        name: {"size": d.size, "xxh3_128": d.xxh3_128} for name, d in hash_files(files, names, WHOLE_FILE).items()
    }
    version_1 = {"format": "luke-checkpoint-manifest", "format_version": 1, "files": entries}
    (files / MANIFEST_FILE).write_text(json.dumps(version_1))
    manifest = read_manifest(files)
    assert manifest.chunk_bytes is WHOLE_FILE and first_mismatch(files, manifest) is None
    (files / "rng/rank-00000.pt").write_bytes(os.urandom(mmap.PAGESIZE * 2))
    assert first_mismatch(files, manifest).startswith("rng/rank-00000.pt differs")


@pytest.mark.parametrize("header", [{"format_version": 3}, {"format_version": 2, "chunk_bytes": 1000}])
def test_an_unknown_version_or_chunk_size_is_unreadable(files: Path, header: dict) -> None:
    (files / MANIFEST_FILE).write_text(json.dumps({"format": "luke-checkpoint-manifest", "files": {}, **header}))
    with pytest.raises(ValueError, match="manifest.json is unreadable"):
        read_manifest(files)
