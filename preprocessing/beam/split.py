"""``SplitByKind``: one PCollection of ``(kind, value)`` pairs → one PCollection per kind.

Used instead of multi-output ``ParDo(...).with_outputs(...)``: Beam 2.77's DaskRunner sends every tagged
output of a DoFn to every consumer (checked on a local dask.distributed cluster), which silently mixes
the outputs. Filtering tagged pairs gives the same result on every runner, for the price of a cheap,
fused pass per kind.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import apache_beam as beam


class SplitByKind(beam.PTransform):
    """PCollection[(kind, value)] → ``{kind: PCollection[value]}`` for each of ``kinds``."""

    def __init__(self, kinds: Sequence[str]) -> None:
        super().__init__()
        self._kinds = tuple(kinds)

    def expand(self, tagged: beam.PCollection) -> dict[str, beam.PCollection]:
        return {kind: tagged | f"Only{kind.title()}" >> beam.FlatMap(_values_of_kind, kind) for kind in self._kinds}


def _values_of_kind(element: tuple[str, object], kind: str) -> Iterator[object]:
    if element[0] == kind:
        yield element[1]
