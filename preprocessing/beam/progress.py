"""Live progress of a running Beam job, on any runner: workers report, the driver displays.

Runners differ in what they expose while a job runs (the DirectRunner blocks in ``run()``, the DaskRunner
reports no metrics at all), so each worker writes its running totals to a small JSON file of its own under
the job's scratch directory every few seconds (:class:`ProgressReporter`, any Beam filesystem), and a
thread on the driver sums the files into a progress line (:class:`ProgressMonitor`).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from typing import TextIO

from apache_beam.io.filesystems import FileSystems

REPORT_INTERVAL_S = 5.0


class ProgressReporter:
    """Worker side: accumulate counts, write them to ``directory/<random>.json`` at most every few seconds."""

    def __init__(self, directory: str, interval: float = REPORT_INTERVAL_S) -> None:
        self._path = FileSystems.join(directory, f"{uuid.uuid4().hex}.json")
        self._interval = interval
        self._totals: Counter = Counter()
        self._last = 0.0

    def add(self, counts: dict[str, int]) -> None:
        self._totals.update(counts)
        if time.monotonic() - self._last >= self._interval:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        try:
            with FileSystems.create(self._path) as stream:
                stream.write(json.dumps(self._totals).encode("utf-8"))
        except OSError:  # progress is best effort: never fail the job for it
            pass


def report_once(directory: str | None, counts: dict[str, int]) -> None:
    """Report ``counts`` as a finished work item's own file (a short item, such as a part of a table)."""
    if directory is not None:
        reporter = ProgressReporter(directory, interval=float("inf"))
        reporter.add(counts)
        reporter.flush()


def read_progress(directory: str) -> Counter:
    """The sum of every worker's latest report under ``directory``."""
    totals: Counter = Counter()
    try:
        matches = FileSystems.match([FileSystems.join(directory, "*.json")])[0].metadata_list
    except Exception:  # the directory does not exist yet
        return totals
    for metadata in matches:
        try:
            with FileSystems.open(metadata.path) as stream:
                totals.update(json.loads(stream.read().decode("utf-8")))
        except (OSError, ValueError):  # a report being rewritten right now
            continue
    return totals


class ProgressMonitor:
    """Driver side: a progress line on ``terminal`` (stderr by default) with the summed worker counts, while
    the job runs: a live bar on a terminal, a compact line every few seconds elsewhere (``luke.progress``)."""

    def __init__(
        self,
        directory: str,
        label: str,
        fields: tuple[str, ...],
        terminal: TextIO | None = None,
        interval: float = 2.0,
    ) -> None:
        self._directory = directory
        self._terminal = terminal
        self._label = label
        self._fields = fields
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProgressMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from luke.progress import progress_bar

        with progress_bar(self._label, None, " " + self._fields[0], file=self._terminal, leave=False) as bar:
            while not self._stop.wait(self._interval):
                totals = read_progress(self._directory)
                bar.n = totals.get(self._fields[0], 0)
                bar.set_postfix({field: _formatted(totals.get(field, 0)) for field in self._fields[1:]}, refresh=False)
                bar.refresh()


def _formatted(value: float) -> str:
    return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
