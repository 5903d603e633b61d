"""Files that appear complete or not at all, on any Beam filesystem."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import BinaryIO

from apache_beam.io.filesystems import FileSystems


@contextlib.contextmanager
def atomic_create(path: str) -> Iterator[BinaryIO]:
    """A stream to a temporary name next to ``path``, renamed to ``path`` (replacing it) once the body and the
    close succeed, and deleted when either fails (a full disk, a worker error): nothing half-written stays."""
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    try:
        with FileSystems.create(temporary) as stream:
            yield stream
        if FileSystems.exists(path):
            FileSystems.delete([path])
        FileSystems.rename([temporary], [path])
    except BaseException:
        with contextlib.suppress(Exception):
            FileSystems.delete([temporary])
        raise


def write_bytes(path: str, content: bytes) -> None:
    """Write ``content`` to ``path`` atomically."""
    with atomic_create(path) as stream:
        stream.write(content)
