"""Checks of a job's output location before any work: writable (a probe file through Beam's FileSystems, so
gs:// and s3:// are checked too), on a local disk with room for an estimate of what the job writes, and an output
file that is neither a directory nor, unless replacing it is asked for, an existing file.

The estimates start from the XML size of the input, known without reading it: a file's size, times the
compression ratio for .bz2/.gz files (``XML_BYTES_PER_COMPRESSED_BYTE``, measured on the enwiki sample:
6,089,746 bytes of XML in 1,695,871 of bz2, 3.59; gzip compresses less, so this errs high).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.atomic import is_directory

XML_BYTES_PER_COMPRESSED_BYTE = 3.6
_COMPRESSED_SUFFIXES = (".bz2", ".gz")


class OutputError(ValueError):
    """The output location cannot take the job's output (message names it)."""


def xml_bytes(files: Iterable[tuple[str, int]]) -> int:
    """The estimated XML size of dump files given as (path, stored size)."""
    return int(
        sum(
            size * (XML_BYTES_PER_COMPRESSED_BYTE if path.endswith(_COMPRESSED_SUFFIXES) else 1) for path, size in files
        )
    )


def check_output_file(path: str, overwrite: bool, option: str = "--output") -> None:
    """Raise :class:`OutputError` for a ``path`` that is a directory (never replaced), or an existing file unless
    ``overwrite``."""
    if is_directory(path):
        raise OutputError(f"{option} {path} is a directory; name a file to write (a directory is never replaced)")
    if not overwrite and FileSystems.exists(path):
        raise OutputError(f"{option} {path} exists; pass --overwrite to replace it")


def check_output(directory: str, needed_bytes: int, option: str = "--output") -> None:
    """Raise :class:`OutputError` unless a file can be written in ``directory`` (created if missing) and, for a
    local directory, its filesystem has ``needed_bytes`` free. Directories the check created are removed when
    it fails."""
    created = _first_missing(directory)
    try:
        _check_output(directory, needed_bytes, option)
    except OutputError:
        if created is not None:
            _remove_empty(Path(directory), created)
        raise


def _check_output(directory: str, needed_bytes: int, option: str) -> None:
    probe = FileSystems.join(directory, f".write-probe-{uuid.uuid4().hex}")
    try:
        with FileSystems.create(probe) as stream:
            stream.write(b"probe")
        FileSystems.delete([probe])
    except Exception as error:  # Beam wraps the filesystem's own error (BeamIOError)
        raise OutputError(f"{option} {directory} is not writable: {_reason(error)}") from error
    if FileSystems.get_scheme(directory) in (None, "file"):
        free = shutil.disk_usage(directory).free
        if free < needed_bytes:
            raise OutputError(
                f"{option} {directory}: {_size(free)} free on its filesystem, the job needs about "
                f"{_size(needed_bytes)}; free some space or choose another location"
            )


def _first_missing(directory: str) -> Path | None:
    """The outermost missing directory of a local ``directory`` (None when it exists or is not a plain path)."""
    if FileSystems.get_scheme(directory) is not None:
        return None
    path = Path(directory).absolute()
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


def _remove_empty(directory: Path, outermost: Path) -> None:
    """Remove ``directory`` and its parents up to ``outermost``, stopping at the first that is not empty."""
    directory = directory.absolute()
    for path in (directory, *directory.parents):
        try:
            path.rmdir()
        except OSError:
            return
        if path == outermost:
            return


def _reason(error: Exception) -> str:
    causes = getattr(error, "exception_details", None) or {}  # BeamIOError: {path: exception}
    return str(next(iter(causes.values()), error)).splitlines()[0]


def _size(count: float) -> str:
    if count < 1024:
        return f"{int(count):,} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        count /= 1024
        if count < 1024 or unit == "TiB":
            break
    return f"{count:,.1f} {unit}"


def parent_directory(path: str) -> str:
    """The directory that holds the file ``path`` (any Beam filesystem; the working directory for a bare name)."""
    parent = FileSystems.split(path)[0]
    return parent or str(Path.cwd())
