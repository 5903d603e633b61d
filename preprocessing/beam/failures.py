"""A failed Beam job as one line on the terminal and its full traceback in a log file, on any runner.

Runners hand a worker's exception back differently: the in-memory DirectRunner and the DaskRunner re-raise
it (the DirectRunner appends ``[while running 'Step']``, or wraps it in a ``RuntimeError`` reading
``OSError: ... [while running 'Step']``), the multi-processing DirectRunner raises a ``RuntimeError`` whose
text is the worker's whole traceback. :func:`describe_failure` reads all three. :func:`reported_failures`
runs a job with everything it prints (driver logging, worker processes' output) going to a log file instead
of the terminal, and turns any exception into a :class:`JobError` of one line; a damaged dump
(``DamagedDumpError``) is told by its own message, which names the file and where reading stopped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from apache_beam.io.filesystems import FileSystems

from preprocessing.sources.files import DamagedDumpError

_STEP = re.compile(r"\s*\[while running '([^']+)'\]")
_EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception|Exit|Interrupt)): (.*)$")


class JobError(RuntimeError):
    """A Beam job failed; the message is one line for the user."""


@dataclass(frozen=True)
class JobFailure:
    """What a runner's exception says: the worker's exception type and message, and the step, when known."""

    kind: str
    message: str
    step: str | None

    @property
    def damaged_dump(self) -> bool:
        return self.kind == DamagedDumpError.__name__


def describe_failure(error: BaseException) -> JobFailure:
    """The worker exception behind ``error``, as raised by any of the runners above."""
    damage = next((cause for cause in _chain(error) if isinstance(cause, DamagedDumpError)), None)
    text, kind = (str(damage), DamagedDumpError.__name__) if damage else (str(error), type(error).__name__)
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [""]
    line = lines[-1] if "Traceback (most recent call last)" in text else lines[0]
    inner = _EXCEPTION_LINE.match(line) if kind == "RuntimeError" else None
    if inner:
        kind, line = inner.groups()
    step = _STEP.search(line)
    return JobFailure(kind, _STEP.sub("", line).strip(), step.group(1) if step else None)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


@contextlib.contextmanager
def reported_failures(stage: str, log_path: str) -> Iterator[TextIO]:
    """Run the body (a Beam job) with its output captured; yield a stream to the terminal for progress.

    An exception becomes :class:`JobError`: "``stage`` failed in step 'S': Kind: message (full traceback in
    LOG)", or the damaged file's own message. The log (the job's output, then the traceback) is written to
    ``log_path`` on any Beam filesystem; if that fails too (a full disk), it stays in a local temporary file,
    which the line names instead. A successful job leaves no log and removes a stale one.
    """
    with tempfile.NamedTemporaryFile("w", prefix="luke-job-", suffix=".log", delete=False) as local:
        local_path = local.name
    kept = False
    try:
        with _output_to(local_path) as terminal:
            yield terminal
        if FileSystems.exists(log_path):
            FileSystems.delete([log_path])
    except Exception as error:
        with open(local_path, "a", encoding="utf-8") as log:
            traceback.print_exc(file=log)
        saved = _copy_log(local_path, log_path)
        kept = saved == local_path
        raise JobError(_one_line(stage, describe_failure(error), saved)) from error
    finally:
        if not kept:
            os.unlink(local_path)


def _one_line(stage: str, failure: JobFailure, log: str) -> str:
    if failure.damaged_dump:
        return f"{failure.message} (pass --allow-damaged-dumps to use the pages before the damage; job log in {log})"
    where = f" in step '{failure.step}'" if failure.step else ""
    return f"{stage} failed{where}: {failure.kind}: {failure.message} (full traceback in {log})"


def _copy_log(local_path: str, log_path: str) -> str:
    """Copy the log to ``log_path``; return where the log is."""
    try:
        with open(local_path, "rb") as source, FileSystems.create(log_path) as target:
            target.write(source.read())
    except Exception:  # the output's filesystem is full or gone: the local copy stays
        with contextlib.suppress(Exception):
            FileSystems.delete([log_path])
        return local_path
    return log_path


@contextlib.contextmanager
def _output_to(path: str) -> Iterator[TextIO]:
    """Send what this process and the processes it starts print to ``path``: file descriptors 1 and 2 (worker
    processes inherit them), ``sys.stdout``/``sys.stderr`` and the root logger's handlers. Yields a stream to
    the terminal's stderr."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    streams = (sys.stdout, sys.stderr)
    root = logging.getLogger()
    handlers = root.handlers[:]
    with open(path, "a", encoding="utf-8", buffering=1) as log, os.fdopen(os.dup(saved[2]), "w") as terminal:
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
        try:
            for fd in (1, 2):
                os.dup2(log.fileno(), fd)
            sys.stdout = sys.stderr = log
            root.handlers = [handler]
            yield terminal
        finally:
            root.handlers = handlers
            sys.stdout, sys.stderr = streams
            for fd, original in saved.items():
                os.dup2(original, fd)
                os.close(original)
