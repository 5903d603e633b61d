"""Global combines that run alike on every runner: ``CombineAll`` and ``Smallest``.

Beam's ``CombineGlobally`` gives an empty input its default through a side input, and Beam's DaskRunner computes
a side input as a job of its own: everything upstream of the combine runs again (build-corpus parsed every unit
twice there). ``CombineAll`` adds a neutral element to the input instead, so no side input is made. Beam's
``combiners.Top`` gives an empty list on Beam 2.77's DaskRunner (checked on a local dask.distributed cluster),
while a plain ``CombineFn`` is correct there: ``Smallest`` is that ``CombineFn`` over ``CombineAll``. Ties of its
key are broken by the elements themselves (which must then be comparable), so the result never depends on the
order of the input.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam
from apache_beam import typehints


class CombineAll(beam.PTransform):
    """PCollection[T] → one-element PCollection: ``combine_fn`` of every element and ``neutral`` (an element
    that changes no result, so that an empty input still gives one)."""

    def __init__(self, combine_fn: beam.CombineFn, neutral: Any) -> None:
        super().__init__()
        self._combine_fn = combine_fn
        self._neutral = neutral

    def expand(self, pcollection: beam.PCollection) -> beam.PCollection:
        neutral = pcollection.pipeline | "Neutral" >> beam.Create([self._neutral]).with_output_types(
            pcollection.element_type
        )
        return (
            (pcollection, neutral)
            | "WithNeutral" >> beam.Flatten()
            | "Combine" >> beam.CombineGlobally(self._combine_fn).without_defaults()
        )


class _SmallestFn(beam.CombineFn):
    """Lists of elements → the ``n`` smallest of them all, ascending."""

    def __init__(self, n: int, key: Callable[[Any], Any] | None) -> None:
        self._n = n
        self._key = key

    def _sort_key(self, element: Any) -> Any:
        return (self._key(element), element) if self._key is not None else element

    def create_accumulator(self) -> list:
        return []

    def add_input(self, accumulator: list, elements: list) -> list:
        accumulator.extend(elements)
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
        as_lists = typehints.List[pcollection.element_type]
        return (
            pcollection
            | "AsLists" >> beam.Map(_one_element_list).with_output_types(as_lists)
            | "SmallestN" >> CombineAll(_SmallestFn(self._n, self._key), []).with_output_types(as_lists)
        )


def _one_element_list(element: Any) -> list:
    return [element]
