"""``BuildEntityVocab``: link counts per entity title → the entity vocabulary (one ``EntityVocab`` element),
and its writer.

Each work item counts its links per resolved title; those counts are summed per title with a combiner (partial
sums on each worker), then a top-K combiner keeps the K best by (count desc, title): only K entries per worker
are ever held, so the step scales to the ~15M distinct link targets of English Wikipedia. (The top-K runs as a
per-key combine over a single key rather than ``Top.Of``: Beam 2.77's DaskRunner returns an empty list from
``Top.Of``.)
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam

from preprocessing.beam.metrics import counter
from preprocessing.defaults import DEFAULT_VOCAB_SIZE
from preprocessing.entities.vocab import SPECIAL_ENTITIES, EntityVocab, rank_key


class BuildEntityVocab(beam.PTransform):
    """PCollection[(title, link count)] (several per title: they are summed) → ``{"vocab": PCollection[EntityVocab]
    holding exactly one vocabulary, "reports": PCollection[dict]}``.

    ``size`` counts the special entries ([PAD], [UNK], [MASK]); titles linked fewer than ``min_count``
    times are left out. The reports count, after the sum per title, ``entities.distinct``,
    ``entities.links_counted`` (the ledger compares it with the links kept) and ``entities.below_min_count``;
    the counter ``entities.in_vocab`` the vocabulary's entities.
    """

    def __init__(self, size: int = DEFAULT_VOCAB_SIZE, min_count: int = 1, language: str | None = None) -> None:
        super().__init__()
        if size < len(SPECIAL_ENTITIES):
            raise ValueError(f"the entity vocabulary size must be at least {len(SPECIAL_ENTITIES)}, got {size}")
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        self._size = size
        self._min_count = min_count
        self._language = language

    def expand(self, link_counts: beam.PCollection[TitleCount]):
        summed = link_counts | "CountLinks" >> beam.CombinePerKey(_SumFn()).with_output_types(TitleCount)
        reports = summed | "CountReport" >> beam.Map(_count_report, self._min_count)
        top = (
            summed
            | "AtLeastMinCount" >> beam.Filter(_at_least, self._min_count)
            | "OneKey" >> beam.Map(_under_one_key)
            | "TopEntities"
            >> beam.CombinePerKey(
                beam.combiners.TopCombineFn(self._size - len(SPECIAL_ENTITIES), key=rank_key, reverse=True)
            )
        )
        # An empty dump still yields a vocabulary (the special entries): the seed guarantees one group.
        seed = link_counts.pipeline | "Seed" >> beam.Create([(_ONE_KEY, [])]).with_output_types(
            tuple[int, list[TitleCount]]
        )
        vocab = (
            (top, seed)
            | "WithSeed" >> beam.Flatten()
            | "Gather" >> beam.GroupByKey()
            | "MakeVocab" >> beam.Map(_make_vocab, self._language)
        )
        return {"vocab": vocab, "reports": reports}


TitleCount = tuple[str, int]  # an entity title and how many links lead to it
_ONE_KEY = 0  # of the top-K's per-key combine: every title under one (typed) key


class _SumFn(beam.CombineFn):
    """A sum, as a ``CombineFn``: Beam's lifted combine then holds 100K titles a worker before it flushes, not the
    million it allows the builtin ``sum``."""

    def create_accumulator(self) -> int:
        return 0

    def add_input(self, total: int, count: int) -> int:
        return total + count

    def merge_accumulators(self, totals: Iterable[int]) -> int:
        return sum(totals)

    def extract_output(self, total: int) -> int:
        return total


def _count_report(title_count: TitleCount, min_count: int) -> dict:
    count = title_count[1]
    return {"entities.distinct": 1, "entities.links_counted": count, "entities.below_min_count": int(count < min_count)}


def _at_least(title_count: TitleCount, min_count: int) -> bool:
    return title_count[1] >= min_count


def _under_one_key(title_count: TitleCount) -> tuple[int, TitleCount]:
    return _ONE_KEY, title_count


def _make_vocab(grouped: tuple[int, Iterable[list[TitleCount]]], language: str | None) -> EntityVocab:
    top = [title_count for part in grouped[1] for title_count in part]
    vocab = EntityVocab.from_counts(top, size=len(top) + len(SPECIAL_ENTITIES), language=language)
    counter("entities.in_vocab").inc(len(vocab) - len(SPECIAL_ENTITIES))
    return vocab


class WriteEntityVocab(beam.PTransform):
    """PCollection[EntityVocab] (one element) → writes it to ``path`` (jsonl, or tsv for ``.tsv``)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def expand(self, vocab: beam.PCollection[EntityVocab]) -> beam.PCollection[str]:
        return vocab | "Write" >> beam.Map(_write, self._path)


def _write(vocab: EntityVocab, path: str) -> str:
    vocab.save(path)
    return path
