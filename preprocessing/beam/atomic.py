"""Files that appear complete or not at all, on any Beam filesystem."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import BinaryIO

from apache_beam.io.filesystems import FileSystems


def is_local(path: str) -> bool:
    """Whether ``path`` is on the local filesystem (no scheme, or file://)."""
    return FileSystems.get_scheme(path) in (None, "file")


def is_directory(path: str) -> bool:
    """Whether ``path`` is a directory: a local one, or a prefix with entries under it on another filesystem."""
    if is_local(path):
        return os.path.isdir(path)
    return bool(FileSystems.match([FileSystems.join(path, "*")])[0].metadata_list)


@contextlib.contextmanager
def atomic_create(path: str) -> Iterator[BinaryIO]:
    """A stream to a temporary name next to ``path``, renamed to ``path`` (replacing a file there) once the body
    and the close succeed, and deleted when either fails (a full disk, a worker error): nothing half-written
    stays. A directory at ``path`` is never replaced: ``IsADirectoryError`` naming it, before and after writing.
    An ``OSError`` that names no file (a write on a full disk: ``[Errno 28] No space left on device``) is raised
    again naming ``path``."""
    _refuse_directory(path)
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    try:
        with FileSystems.create(temporary) as stream:
            yield stream
        _refuse_directory(path)
        if not is_local(path) and FileSystems.exists(path):  # locally, the rename replaces a file atomically
            FileSystems.delete([path])
        FileSystems.rename([temporary], [path])
    except BaseException as error:
        with contextlib.suppress(Exception):
            FileSystems.delete([temporary])
        if isinstance(error, OSError) and error.filename is None and error.errno is not None:
            raise OSError(error.errno, error.strerror, path) from error
        raise


def _refuse_directory(path: str) -> None:
    if is_directory(path):
        raise IsADirectoryError(f"{path} is a directory: a file cannot replace it")


def write_bytes(path: str, content: bytes) -> None:
    """Write ``content`` to ``path`` atomically."""
    with atomic_create(path) as stream:
        stream.write(content)
