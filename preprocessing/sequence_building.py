"""``ArticlesToSequences``: articles → sentences → tokens → packed training sequences (Beam).

One fused step per article: its paragraphs are split into sentences (``sentences``), tokenized with the
corpus tokenizer in one batch (``tokenization``) and packed (``packing``). The entity vocabulary and the
tokenizer arrive as singleton side inputs: the vocabulary (at most a few hundred thousand titles, ~50 MB
as a dict) is small enough to sit in every worker at full Wikipedia scale, unlike the redirect map, which
``link_resolution`` joins instead; the tokenizer is one ``tokenizer.json`` string (a few MB).

Every article also emits a ``Counter`` of what it kept and dropped (tag ``counts``): the counts travel as
data, so they reach metadata.json on every runner, including those that do not report Beam metrics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import apache_beam as beam

from preprocessing.packing import PackingOptions, pack_sentences
from preprocessing.progress import ProgressReporter
from preprocessing.records import Article
from preprocessing.sentences import Sentence, SentenceSplitter
from preprocessing.tokenization import MentionTokenizer

COUNTS_TAG = "counts"


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
    """PCollection[Article] → PCollection[PackedSequence], plus ``counts`` (PCollection[Counter]).

    ``vocab`` is a one-element PCollection holding the ``EntityVocab``; ``tokenizer_json`` a one-element
    PCollection holding the corpus tokenizer's ``tokenizer.json`` text.
    """

    def __init__(
        self,
        language: str,
        options: PackingOptions,
        vocab: beam.PCollection,
        tokenizer_json: beam.PCollection[str],
        progress_dir: str | None = None,
    ) -> None:
        super().__init__()
        self._progress_dir = progress_dir
        self._language = language
        self._options = options
        self._vocab = vocab
        self._tokenizer_json = tokenizer_json

    def expand(self, articles: beam.PCollection[Article]) -> beam.pvalue.DoOutputsTuple:
        return articles | "SplitTokenizePack" >> beam.ParDo(
            _ArticleToSequencesFn(self._language, self._options, self._progress_dir),
            beam.pvalue.AsSingleton(self._vocab),
            beam.pvalue.AsSingleton(self._tokenizer_json),
        ).with_outputs(COUNTS_TAG, main="sequences")


class _ArticleToSequencesFn(beam.DoFn):
    def __init__(self, language: str, options: PackingOptions, progress_dir: str | None) -> None:
        self._language = language
        self._options = options
        self._progress_dir = progress_dir

    def setup(self) -> None:
        self._splitter = SentenceSplitter(self._language)
        self._progress = ProgressReporter(self._progress_dir) if self._progress_dir else None
        self._tokenizer_source: str | None = None
        self._tokenizer: MentionTokenizer | None = None

    def _tokenizer_for(self, tokenizer_json: str) -> MentionTokenizer:
        if tokenizer_json is not self._tokenizer_source and tokenizer_json != self._tokenizer_source:
            self._tokenizer = MentionTokenizer(tokenizer_json)
            self._tokenizer_source = tokenizer_json
        assert self._tokenizer is not None
        return self._tokenizer

    def process(self, article: Article, vocab, tokenizer_json: str) -> Iterator:
        counts: Counter = Counter(articles=1)
        sentences = article_sentences(article, self._splitter, counts)
        counts["sentences"] += len(sentences)
        counts["links"] += sum(len(sentence.links) for sentence in sentences)
        tokenized = self._tokenizer_for(tokenizer_json).tokenize(sentences, counts) if sentences else []
        sequences = 0
        for sequence in pack_sentences(
            article.page_id, tokenized, self._options, lambda title: vocab.get_id(title, None), counts
        ):
            sequences += 1
            yield sequence
        if not sequences:
            counts["articles_without_sequences"] += 1
        counts["sequences"] += sequences
        if self._progress is not None:
            self._progress.add({"articles": 1, "sequences": sequences, "sentences": counts["sentences"]})
        yield beam.pvalue.TaggedOutput(COUNTS_TAG, counts)

    def finish_bundle(self) -> None:
        if self._progress is not None:
            self._progress.flush()


def sum_counters(counters) -> Counter:
    """Combine function: the sum of ``Counter``s."""
    total: Counter = Counter()
    for counts in counters:
        total.update(counts)
    return total

