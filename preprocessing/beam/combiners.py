"""``Smallest``: the n smallest elements of a PCollection, as one list, on every runner.

Beam's ``combiners.Top`` gives an empty list on Beam 2.77's DaskRunner (checked on a local
dask.distributed cluster), while a plain ``CombineGlobally`` with a ``CombineFn`` is correct there; this
is that ``CombineFn``. Ties of the key are broken by the elements themselves (which must then be
comparable), so the result never depends on the order of the input.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam
from apache_beam import typehints


class _SmallestFn(beam.CombineFn):
    def __init__(self, n: int, key: Callable[[Any], Any] | None) -> None:
        self._n = n
        self._key = key

    def _sort_key(self, element: Any) -> Any:
        return (self._key(element), element) if self._key is not None else element

    def create_accumulator(self) -> list:
        return []

    def add_input(self, accumulator: list, element: Any) -> list:
        accumulator.append(element)
        if len(accumulator) >= 2 * self._n:
            accumulator[:] = heapq.nsmallest(self._n, accumulator, key=self._sort_key)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[list]) -> list:
        merged = [element for accumulator in accumulators for element in accumulator]
        return heapq.nsmallest(self._n, merged, key=self._sort_key)

    def extract_output(self, accumulator: list) -> list:
        return heapq.nsmallest(self._n, accumulator, key=self._sort_key)


class Smallest(beam.PTransform):
    """PCollection[T] → one-element PCollection[list[T]]: the ``n`` smallest (by ``key``), ascending."""

    def __init__(self, n: int, key: Callable[[Any], Any] | None = None) -> None:
        super().__init__()
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        self._n = n
        self._key = key

    def expand(self, pcollection: beam.PCollection) -> beam.PCollection[list]:
        smallest = beam.CombineGlobally(_SmallestFn(self._n, self._key))
        return pcollection | "SmallestN" >> smallest.with_output_types(typehints.List[pcollection.element_type])
