"""``SplitByKind``: one PCollection of ``(kind, value)`` pairs → one typed PCollection per kind.

Used instead of multi-output ``ParDo(...).with_outputs(...)``: Beam 2.77's DaskRunner sends every tagged
output of a DoFn to every consumer (checked on a local dask.distributed cluster), which silently mixes
the outputs. Filtering tagged pairs gives the same result on every runner, for the price of a cheap,
fused pass per kind.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import apache_beam as beam


class SplitByKind(beam.PTransform):
    """PCollection[(kind, value)] → ``{kind: PCollection[value]}``, each of the element type ``kinds`` gives it."""

    def __init__(self, kinds: Mapping[str, Any]) -> None:
        super().__init__()
        self._kinds = dict(kinds)

    def expand(self, tagged: beam.PCollection):
        return {
            kind: tagged | f"Only{kind.title()}" >> beam.FlatMap(_values_of_kind, kind).with_output_types(value_type)
            for kind, value_type in self._kinds.items()
        }


def _values_of_kind(element: tuple[str, Any], kind: str) -> Iterator[Any]:
    if element[0] == kind:
        yield element[1]
