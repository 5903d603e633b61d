"""``JoinByKey``: Beam's ``CoGroupByKey`` with a typed key.

``CoGroupByKey`` tags its inputs with lambdas, so the key of its ``GroupByKey`` is inferred as ``Any`` and
coded by Beam's fallback coder, whatever the inputs declare. Here the key's type is given, so its coder is
the standard, deterministic one for that type (``str``, ``int``, ``None`` or tuples of them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apache_beam as beam


class JoinByKey(beam.PTransform):
    """``{tag: PCollection[(key, value)]}`` → PCollection[(key, {tag: [values]})], one element per key, every
    tag present (an empty list where that input has no value for the key)."""

    def __init__(self, key_type: Any) -> None:
        super().__init__()
        self._key_type = key_type

    def expand(self, inputs) -> beam.PCollection:
        tags = sorted(inputs)
        tagged = [
            inputs[tag]
            | f"Tag{tag.title()}" >> beam.Map(_tag_value, tag).with_output_types(tuple[self._key_type, tuple[str, Any]])
            for tag in tags
        ]
        return (
            tagged
            | "Unite" >> beam.Flatten()
            | "Group" >> beam.GroupByKey()
            | "Collect" >> beam.Map(_collect, tags).with_output_types(tuple[self._key_type, dict[str, list]])
        )


def _tag_value(element: tuple[Any, Any], tag: str) -> tuple[Any, tuple[str, Any]]:
    key, value = element
    return key, (tag, value)


def _collect(element: tuple[Any, Iterable[tuple[str, Any]]], tags: list[str]) -> tuple[Any, dict[str, list]]:
    key, tagged = element
    grouped: dict[str, list] = {tag: [] for tag in tags}
    for tag, value in tagged:
        grouped[tag].append(value)
    return key, grouped
