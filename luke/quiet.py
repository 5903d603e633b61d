"""Known third-party noise, silenced where it arises; ``luke --verbose`` (``LUKE_VERBOSE=1``) shows all of it.

Each known line is listed with the library that writes it and why it tells a user of ours nothing. Nothing is
silenced wholesale: log records and warnings are matched by their source and message, and output captured
around one library call is passed on except the known lines.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

VERBOSE_VARIABLE = "LUKE_VERBOSE"  # inherited by every process a command starts


@dataclass(frozen=True)
class KnownNoise:
    """A line a library writes that says nothing to our users: where it comes from, its start, why it is noise."""

    source: str
    pattern: str
    reason: str

    def matches(self, text: str) -> bool:
        return re.match(self.pattern, text) is not None


LOG_RECORDS = (
    KnownNoise(
        "apache_beam.io.gcp.internal.clients.bigquery",
        "apitools not found",
        "Beam's optional Google Cloud client, logged on import; the jobs use no BigQuery",
    ),
)
WARNINGS = (
    KnownNoise(
        "torch.distributed.c10d_logger",
        r"`torch\.distributed\.all_gather_into_tensor` is deprecated",
        "DeepSpeed's ZeRO calls it once per rank; nothing for the user to change",
    ),
)
OUTPUT_LINES = (
    KnownNoise(
        "deepspeed.comm.torch",
        r"DeepSpeed \S+ built successfully",
        "printed by every rank whenever the cached shared-memory op is loaded",
    ),
    KnownNoise(
        "deepspeed.utils.zero_to_fp32",
        r"Loading checkpoint shards:",
        "a progress bar of a step that takes a second, once per rank",
    ),
)


def verbose() -> bool:
    """Whether the user asked to see everything (``luke --verbose`` or ``LUKE_VERBOSE=1``)."""
    return os.environ.get(VERBOSE_VARIABLE, "") not in ("", "0")


def set_verbose(enabled: bool) -> None:
    """Record the choice in the environment, so that the processes a command starts follow it."""
    if enabled:
        os.environ[VERBOSE_VARIABLE] = "1"


class _KnownRecordFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not any(
            record.pathname.replace(os.sep, ".").find(known.source) >= 0 and known.matches(record.getMessage())
            for known in LOG_RECORDS
        )


def filter_known_log_records() -> None:
    """Drop the :data:`LOG_RECORDS` (only those) on the root logger, where the libraries log them; once per process."""
    root = logging.getLogger()
    if not verbose() and not any(isinstance(existing, _KnownRecordFilter) for existing in root.filters):
        root.addFilter(_KnownRecordFilter())


@contextlib.contextmanager
def known_warnings_silenced() -> Iterator[None]:
    """Within the block, hide the :data:`WARNINGS` (only those); other warnings show as usual."""
    with warnings.catch_warnings():
        if not verbose():
            for known in WARNINGS:
                warnings.filterwarnings("ignore", message=known.pattern, module=re.escape(known.source))
        yield


@contextlib.contextmanager
def known_output_dropped() -> Iterator[None]:
    """Capture what Python code writes to stdout and stderr within the block, then pass it on without the
    :data:`OUTPUT_LINES` (progress bars' redraws are lines too). For short library calls only: their output
    appears when they return."""
    if verbose():
        yield
        return
    captured_out, captured_err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(captured_out), contextlib.redirect_stderr(captured_err):
            yield
    finally:
        for captured, stream in ((captured_out, sys.stdout), (captured_err, sys.stderr)):
            kept = [line for line in re.split(r"[\r\n]", captured.getvalue()) if line.strip() and not _known(line)]
            if kept:
                stream.write("\n".join(kept) + "\n")
                stream.flush()


def _known(line: str) -> bool:
    return any(known.matches(line.strip()) for known in OUTPUT_LINES)


@contextlib.contextmanager
def transformers_progress_bars_off() -> Iterator[None]:
    """Within the block, no transformers progress bars (loading and writing weights, a second each)."""
    from transformers.utils import logging as transformers_logging

    if verbose() or not transformers_logging.is_progress_bar_enabled():
        yield
        return
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers_logging.enable_progress_bar()
