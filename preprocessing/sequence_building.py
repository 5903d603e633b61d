"""``ArticlesToSequences``: articles → sentences → tokens → packed sequences, keyed by their shard (Beam).

Entity ids reach each article through joins, not side inputs: the distinct (title, page) pairs of the
articles' links are joined with the vocabulary's (title, id) entries, and the ids found are joined back to
their article by page id (with the flag of the one page that must go to validation). Joins scale to any
vocabulary size on every runner; side inputs are recomputed per task on Beam 2.77's DaskRunner.

Then one fused step per article: its paragraphs are split into sentences (``sentences``), tokenized in one
batch (``tokenization``; the tokenizer's ``tokenizer.json`` text is a constant of the step), packed
(``packing``) and assigned to a split and shard (``splits``). Every article also emits a ``Counter`` of what
it kept and dropped: the counts travel as data, so they reach metadata.json on every runner. The two kinds
of output are told apart with ``SplitByKind`` rather than a multi-output ParDo, which the DaskRunner mixes up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import apache_beam as beam

from preprocessing.beam_combiners import Smallest
from preprocessing.beam_split import SplitByKind
from preprocessing.packing import PackingOptions, pack_sentences
from preprocessing.progress import ProgressReporter
from preprocessing.records import Article
from preprocessing.sentences import Sentence, SentenceSplitter
from preprocessing.splits import SplitPlan, page_hashes
from preprocessing.tokenization import MentionTokenizer

SEQUENCES = "sequences"
COUNTS = "counts"


def article_sentences(article: Article, splitter: SentenceSplitter, counts: Counter) -> list[Sentence]:
    """The sentences of ``article`` in order; links with a blank anchor are counted as dropped."""
    sentences = []
    for paragraph in article.paragraphs:
        split = list(splitter.split(paragraph))
        dropped = len(paragraph.links) - sum(len(sentence.links) for sentence in split)
        if dropped:
            counts["mentions_dropped.blank_anchor"] += dropped
        sentences.extend(split)
    return sentences


class ArticlesToSequences(beam.PTransform):
    """``{"articles": PCollection[Article], "vocab": PCollection[(title, entity id)]}`` →
    ``{"sequences": PCollection[((split, shard), PackedSequence)], "counts": PCollection[Counter]}``."""

    def __init__(
        self,
        language: str,
        options: PackingOptions,
        tokenizer_json: str,
        plan: SplitPlan,
        progress_dir: str | None = None,
    ) -> None:
        super().__init__()
        self._language = language
        self._options = options
        self._tokenizer_json = tokenizer_json
        self._plan = plan
        self._progress_dir = progress_dir

    def expand(self, inputs: dict[str, beam.PCollection]) -> dict[str, beam.PCollection]:
        articles = inputs["articles"]
        entity_ids = (
            {
                "pages": articles | "LinkedTitles" >> beam.FlatMap(_linked_titles),
                "vocab": inputs["vocab"],
            }
            | "JoinTitlesWithVocab" >> beam.CoGroupByKey()
            | "EntityIdsByPage" >> beam.FlatMap(_entity_ids_by_page)
        )
        # the page with the smallest split hash among those with an entity goes to validation in any case
        forced_validation = (
            entity_ids
            | "SplitHashes" >> beam.Map(_split_hash_and_page)
            | "SmallestSplitHash" >> Smallest(1)
            | "ForcedValidationPage" >> beam.FlatMap(_forced_page, self._plan.validation_fraction > 0)
        )
        outputs = (
            {
                "article": articles | "KeyByPage" >> beam.Map(_keyed_by_page),
                "entities": entity_ids,
                "validation": forced_validation,
            }
            | "JoinByPage" >> beam.CoGroupByKey()
            | "SplitTokenizePack"
            >> beam.ParDo(
                _PageToSequencesFn(self._language, self._options, self._tokenizer_json, self._plan, self._progress_dir)
            )
        )
        return outputs | "SplitOutputs" >> SplitByKind((SEQUENCES, COUNTS))


def _linked_titles(article: Article) -> Iterator[tuple[str, int]]:
    titles = {link.target for paragraph in article.paragraphs for link in paragraph.links}
    for title in sorted(titles):
        yield title, article.page_id


def _entity_ids_by_page(element: tuple[str, dict]) -> Iterator[tuple[int, tuple[str, int]]]:
    title, joined = element
    for entity_id in joined["vocab"]:
        for page_id in joined["pages"]:
            yield page_id, (title, entity_id)


def _split_hash_and_page(element: tuple[int, tuple[str, int]]) -> tuple[float, int]:
    return page_hashes(element[0])[0], element[0]


def _forced_page(smallest: list[tuple[float, int]], enabled: bool) -> Iterator[tuple[int, bool]]:
    if enabled and smallest:
        yield smallest[0][1], True


def _keyed_by_page(article: Article) -> tuple[int, Article]:
    return article.page_id, article


class _PageToSequencesFn(beam.DoFn):
    def __init__(
        self, language: str, options: PackingOptions, tokenizer_json: str, plan: SplitPlan, progress_dir: str | None
    ) -> None:
        self._language = language
        self._options = options
        self._tokenizer_json = tokenizer_json
        self._plan = plan
        self._progress_dir = progress_dir

    def setup(self) -> None:
        self._splitter = SentenceSplitter(self._language)
        self._tokenizer = MentionTokenizer(self._tokenizer_json)
        self._progress = ProgressReporter(self._progress_dir) if self._progress_dir else None

    def process(self, element: tuple[int, dict]) -> Iterator:
        _, joined = element
        for article in joined["article"]:  # one article per page id (none for an id without article)
            yield from self._sequences(article, dict(joined["entities"]), any(joined["validation"]))

    def _sequences(self, article: Article, entity_ids: dict[str, int], forced_validation: bool) -> Iterator:
        counts: Counter = Counter(articles=1)
        sentences = article_sentences(article, self._splitter, counts)
        counts["sentences"] += len(sentences)
        counts["links"] += sum(len(sentence.links) for sentence in sentences)
        tokenized = self._tokenizer.tokenize(sentences, counts) if sentences else []
        shard = self._plan.assign(article.page_id, article.page_id if forced_validation else None)
        sequences = 0
        for sequence in pack_sentences(article.page_id, tokenized, self._options, entity_ids.get, counts):
            sequences += 1
            yield SEQUENCES, (shard, sequence)
        if not sequences:
            counts["articles_without_sequences"] += 1
        counts["sequences"] += sequences
        if self._progress is not None:
            self._progress.add({"articles": 1, "sequences": sequences, "sentences": counts["sentences"]})
        yield COUNTS, counts

    def finish_bundle(self) -> None:
        if self._progress is not None:
            self._progress.flush()

    def __getstate__(self) -> dict:  # some runners pickle DoFns after setup: keep only the configuration
        return {key: value for key, value in self.__dict__.items() if key in _CONFIGURATION}


_CONFIGURATION = ("_language", "_options", "_tokenizer_json", "_plan", "_progress_dir")


def sum_counters(counters) -> Counter:
    """Combine function: the sum of ``Counter``s."""
    total: Counter = Counter()
    for counts in counters:
        total.update(counts)
    return total
