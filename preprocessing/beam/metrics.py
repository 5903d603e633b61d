"""Counters of the preprocessing jobs: one Beam metrics namespace, and a reader that turns a finished
pipeline's metrics into a summary.

Every transform counts what it reads, keeps and drops with :func:`counter`, so that nothing is lost
silently; :func:`read_summary` collects the counts after ``pipeline.run()`` for the CLI's summary and for
``metadata.json``. Failed pages also leave a few of their ids (capped per worker) in string-set metrics
named ``<counter>.page_ids``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.runner import PipelineResult

NAMESPACE = "luke"
DAMAGED_FILES = "files_damaged"  # counter prefix of dump files read only up to their damage
PAGE_ID_SAMPLE_SUFFIX = ".page_ids"
PAGE_IDS_PER_WORKER = 20  # how many ids of failed pages one DoFn instance records per reason
PAGE_IDS_SHOWN = 20  # how many of them a summary shows


def counter(name: str):
    """The Beam counter ``name`` in the project's namespace (create it in a DoFn's ``setup``/``__init__``)."""
    return Metrics.counter(NAMESPACE, name)


class FailureRecorder:
    """Records the first few page ids of each failure reason (the failures themselves are counted as data and
    reach the counters through :func:`record_counts`).

    One instance per DoFn instance (never module-level): the cap bounds what one worker adds to the
    string-set metric, whatever the number of failures.
    """

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._recorded: dict[str, int] = {}

    def sample(self, reason: str, page_id: int | str | None) -> None:
        """Record the id of a failure counted elsewhere (``record_counts``) among the samples."""
        seen = self._recorded.get(reason, 0)
        if page_id is not None and seen < PAGE_IDS_PER_WORKER:
            self._recorded[reason] = seen + 1
            Metrics.string_set(NAMESPACE, f"{self._prefix}.{reason}{PAGE_ID_SAMPLE_SUFFIX}").add(str(page_id))


def record_counts(counts: dict[str, int]) -> None:
    """Add a work item's counts, carried as data, to the job's counters as well (in a DoFn; one update per name)."""
    for name, value in counts.items():
        if value:
            Metrics.counter(NAMESPACE, name).inc(value)


@dataclass
class JobSummary:
    """What a finished job counted: ``counters`` by name, and sample page ids of each failure counter."""

    counters: dict[str, int] = field(default_factory=dict)
    failed_page_ids: dict[str, list[str]] = field(default_factory=dict)
    metrics_supported: bool = True

    def get(self, name: str) -> int:
        return self.counters.get(name, 0)

    def total(self, prefix: str) -> int:
        """Sum of the counters named ``prefix.*``."""
        return sum(value for name, value in self.counters.items() if name.startswith(prefix + "."))

    def to_dict(self) -> dict:
        return {"counters": dict(sorted(self.counters.items())), "failed_page_ids": self.failed_page_ids}

    def damaged_files(self) -> list[str]:
        """``reason: path@offset`` of each damaged dump file that was read up to its damage."""
        prefix = DAMAGED_FILES + "."
        return [
            f"{name.removeprefix(prefix)}: {where}"
            for name, places in sorted(self.failed_page_ids.items())
            if name.startswith(prefix)
            for where in places
        ]

    def format_table(self) -> str:
        """A two-column text table of every counter (with sample page ids under failure counters), after
        the damaged dump files, if any."""
        if not self.metrics_supported:
            return "(this runner does not report Beam metrics; no counts available)"
        if not self.counters:
            return "(no counters were reported)"
        width = max(len(name) for name in self.counters)
        lines = format_damaged_files(self.damaged_files())
        for name, value in sorted(self.counters.items()):
            lines.append(f"  {name:<{width}}  {value:>12,}")
            if name in self.failed_page_ids and not name.startswith(DAMAGED_FILES):
                lines.append(f"  {'':<{width}}  page ids: {', '.join(self.failed_page_ids[name])}")
        return "\n".join(lines)


def format_damaged_files(places: list[str]) -> list[str]:
    """The lines that open a summary when damaged dump files were read (``JobSummary.damaged_files``)."""
    if not places:
        return []
    return ["DAMAGED DUMP FILES, read only up to the damage (--allow-damaged-dumps):", *(f"  {p}" for p in places)]


def read_summary(result: PipelineResult) -> JobSummary:
    """Collect the project's counters from a finished pipeline (committed values, else attempted)."""
    try:
        query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    except NotImplementedError:  # e.g. Beam's DaskRunner does not collect metrics yet
        return JobSummary(metrics_supported=False)
    summary = JobSummary()
    for metric in query["counters"]:
        value = _value_of(metric)
        name = metric.key.metric.name
        summary.counters[name] = summary.counters.get(name, 0) + int(value or 0)
    for metric in query.get("string_sets", []):
        name = metric.key.metric.name.removesuffix(PAGE_ID_SAMPLE_SUFFIX)
        ids = set(summary.failed_page_ids.get(name, [])) | set(_value_of(metric) or ())
        summary.failed_page_ids[name] = sorted(ids, key=_numeric_first)[:PAGE_IDS_SHOWN]
    return summary


def _value_of(metric):
    try:
        return metric.committed if metric.committed is not None else metric.attempted
    except Exception:  # some runners only report attempted values and raise on committed
        return metric.attempted


def _numeric_first(page_id: str) -> tuple[int, int | str]:
    return (0, int(page_id)) if page_id.isdigit() else (1, page_id)
