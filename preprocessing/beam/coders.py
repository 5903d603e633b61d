"""The coders of the jobs' records, chosen by us and registered by type.

Every transform declares what it outputs (Beam reads its functions' annotations, or ``with_output_types``),
and Beam picks each PCollection's coder from that type: its standard coders for keys and plain values (str,
int, tuples of them: deterministic, as keys must be), and for the records below the one registered here. So
what crosses a shuffle is encoded the same way whichever Beam version infers what: Beam 2.78 began to read
annotations that 2.77 ignored, and would otherwise pick schema coders for NamedTuples and dataclasses.
A dict of PCollections has no Beam type, so the ``expand`` methods that take or give one leave it unannotated
(2.78 logs a warning for each such annotation). ``tests/test_beam_types.py`` checks both jobs' graphs.
"""

from __future__ import annotations

import pickle
from typing import Any

import apache_beam as beam


class RecordCoder(beam.coders.Coder):
    """A record as its pickle (records that cross the big shuffles pickle flat, see ``records.Article``)."""

    def encode(self, value: Any) -> bytes:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def decode(self, encoded: bytes) -> Any:
        return pickle.loads(encoded)

    def is_deterministic(self) -> bool:
        return False  # records are values, never keys

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


def record_types() -> tuple[type, ...]:
    """The classes of the records that flow between the jobs' transforms."""
    from preprocessing.corpus.article_files import TokenizedArticle
    from preprocessing.corpus.shard_packing import ShardTask
    from preprocessing.entities.vocab import EntityVocab
    from preprocessing.records import Article, WikiPage
    from preprocessing.sources.files import DumpHeader
    from preprocessing.sources.multistream import StreamRange
    from preprocessing.sources.reading import FileTask, RangeTask, SourceUnit
    from preprocessing.tokenization.tokenizer import TrainedTokenizer

    return (
        WikiPage,
        Article,
        TokenizedArticle,
        ShardTask,
        EntityVocab,
        TrainedTokenizer,
        FileTask,
        RangeTask,
        SourceUnit,
        StreamRange,
        DumpHeader,
    )


def register_record_coders() -> None:
    """Register :class:`RecordCoder` for every record type (idempotent; before a pipeline is built)."""
    for record_type in record_types():
        beam.coders.registry.register_coder(record_type, RecordCoder)
