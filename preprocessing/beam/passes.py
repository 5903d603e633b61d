"""Running a command's passes one after the other: a fresh pipeline each, a live progress line, a failure as one
line (its log in a file), each finished pass's result kept."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems


class PassRunner:
    """Runs passes with the Beam ``options``; workers report progress under ``progress_root/<pass>``; a failure
    raises ``failures.JobError`` (one line) with the output and traceback in ``error_log``."""

    def __init__(self, options, progress_root: str, error_log: str, command: str = "build-corpus") -> None:
        self._options = options
        self._progress_root = progress_root
        self._error_log = error_log
        self._command = command
        self.results: dict[str, object] = {}

    def progress_dir(self, name: str) -> str:
        return FileSystems.join(self._progress_root, name)

    def run(self, build: Callable[[beam.Pipeline], None], name: str, fields: Sequence[str]) -> None:
        """Make a pipeline, let ``build`` fill it, run it as the ``name`` pass showing ``fields`` of its progress."""
        from preprocessing.beam.failures import reported_failures
        from preprocessing.beam.options import create_pipeline
        from preprocessing.beam.progress import ProgressMonitor
        from preprocessing.beam.setup_state import release_worker_state

        pipeline = create_pipeline(self._options)
        build(pipeline)
        with (
            reported_failures(f"the {name} pass", self._error_log) as terminal,
            ProgressMonitor(self.progress_dir(name), f"{self._command} ({name} pass)", tuple(fields), terminal),
        ):
            try:
                result = pipeline.run()
                result.wait_until_finish()
            finally:
                release_worker_state()  # the states the in-memory runner kept in this process
        self.results[name] = result
