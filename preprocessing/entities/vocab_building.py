"""``BuildEntityVocab``: articles → the entity vocabulary (one ``EntityVocab`` element), and its writer.

Link occurrences are counted per resolved title with a combiner (partial sums on each worker), then a
top-K combiner keeps the K best by (count desc, title): only K entries per worker are ever held, so the
step scales to the ~15M distinct link targets of English Wikipedia. (The top-K runs as a per-key combine
over a single key rather than ``Top.Of``: Beam 2.77's DaskRunner returns an empty list from ``Top.Of``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam

from preprocessing.beam.metrics import counter
from preprocessing.defaults import DEFAULT_VOCAB_SIZE
from preprocessing.entities.vocab import SPECIAL_ENTITIES, EntityVocab, rank_key
from preprocessing.records import Article


class BuildEntityVocab(beam.PTransform):
    """PCollection[Article] → PCollection[EntityVocab] holding exactly one vocabulary.

    ``size`` counts the special entries ([PAD], [UNK], [MASK]); titles linked fewer than ``min_count``
    times are left out. Counters: ``entities.distinct``, ``entities.below_min_count``, ``entities.in_vocab``.
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

    def expand(self, articles: beam.PCollection[Article]) -> beam.PCollection[EntityVocab]:
        top = (
            articles
            | "LinkTargets" >> beam.FlatMap(_link_targets)
            | "CountLinks" >> beam.combiners.Count.PerElement()
            | "AtLeastMinCount" >> beam.ParDo(_MinCountFn(self._min_count))
            | "OneKey" >> beam.Map(_under_one_key)
            | "TopEntities"
            >> beam.CombinePerKey(
                beam.combiners.TopCombineFn(self._size - len(SPECIAL_ENTITIES), key=rank_key, reverse=True)
            )
        )
        # An empty dump still yields a vocabulary (the special entries): the seed guarantees one group.
        seed = articles.pipeline | "Seed" >> beam.Create([(_ONE_KEY, [])]).with_output_types(
            tuple[int, list[TitleCount]]
        )
        return (
            (top, seed)
            | "WithSeed" >> beam.Flatten()
            | "Gather" >> beam.GroupByKey()
            | "MakeVocab" >> beam.Map(_make_vocab, self._language)
        )


TitleCount = tuple[str, int]  # an entity title and how many links lead to it
_ONE_KEY = 0  # of the top-K's per-key combine: every title under one (typed) key


def _link_targets(article: Article) -> Iterator[str]:
    for paragraph in article.paragraphs:
        for link in paragraph.links:
            yield link.target


class _MinCountFn(beam.DoFn):
    def __init__(self, min_count: int) -> None:
        self._min_count = min_count

    def setup(self) -> None:
        self._distinct = counter("entities.distinct")
        self._below = counter("entities.below_min_count")

    def process(self, title_count: TitleCount) -> Iterator[TitleCount]:
        self._distinct.inc()
        if title_count[1] < self._min_count:
            self._below.inc()
            return
        yield title_count


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


class LoadEntityVocab(beam.PTransform):
    """PBegin → PCollection[EntityVocab] holding the vocabulary read from ``path`` (LUKE jsonl or tsv).

    Stands in for :class:`BuildEntityVocab` when an existing vocabulary is reused. The file is read and
    validated on the driver when the pipeline is built, so a malformed file fails before the job starts.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[EntityVocab]:
        vocab = EntityVocab.load(self._path)
        return pbegin | "EntityVocab" >> beam.Create([vocab], reshuffle=False)
