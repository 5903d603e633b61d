"""What a job counted, carried as data: each work item yields a dict of counts, summed into one JSON file.

Counts travel as elements, not only as Beam metrics, so they reach the driver on every runner (the DaskRunner
reports no metrics) and can be checked against each other (``corpus.ledger``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.atomic import write_bytes
from preprocessing.beam.combiners import CombineAll


class SumCounts(beam.CombineFn):
    """dicts of counts → their sum, as a dict sorted by name."""

    def create_accumulator(self) -> Counter:
        return Counter()

    def add_input(self, accumulator: Counter, counts: dict) -> Counter:
        accumulator.update(counts)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[Counter]) -> Counter:
        merged: Counter = Counter()
        for accumulator in accumulators:
            merged.update(accumulator)
        return merged

    def extract_output(self, accumulator: Counter) -> dict:
        return dict(sorted(accumulator.items()))


class WriteCounts(beam.PTransform):
    """PCollection[dict] → writes the sum of the counts to ``path`` (JSON) once every element is in; the
    one-element output is the path. Make it the job's last step: Beam 2.77's DaskRunner computes only the graph
    that leads to the last transform of the pipeline."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def expand(self, counts: beam.PCollection[dict]) -> beam.PCollection[str]:
        return (
            counts
            | "Sum" >> CombineAll(SumCounts(), {}).with_output_types(dict)
            | "Write" >> beam.Map(_write, self._path)
        )


def no_counts(_: object) -> dict:
    """An empty count, for a step whose output the counts only wait for (a written file's path)."""
    return {}


def _write(counts: dict, path: str) -> str:
    write_bytes(path, json.dumps(counts, indent=1, sort_keys=True).encode("utf-8"))
    return path


def read_counts(path: str) -> dict[str, int]:
    """The counts :class:`WriteCounts` wrote (driver side)."""
    with FileSystems.open(path) as stream:
        return json.loads(stream.read().decode("utf-8"))
