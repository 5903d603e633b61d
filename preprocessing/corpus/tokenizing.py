"""The article pass: each unit's articles made, split into sentences, tokenized and written where they are read.

``TokenizeUnits``: one work item per unit (a stream range, a dump file, a documents file). Its articles
(``ArticleSource``: dump pages with links looked up in the title table, or documents) are split into sentences
(``wikitext.sentences``) and tokenized (``tokenization.mentions``; mentions keep their entity title), then written
to the unit's article files (``article_files``) by split, its link counts per entity title (the vocabulary's
input) to its run of ``LinkCountRuns``. What leaves the worker is small: the unit's counts and its two
candidates to move to validation.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.metrics import record_counts
from preprocessing.beam.progress import ProgressReporter
from preprocessing.beam.setup_state import SetUpDoFn
from preprocessing.beam.split import SplitByKind
from preprocessing.corpus.article_files import ArticleFileWriter, TokenizedArticle
from preprocessing.corpus.splits import Candidate, SplitPlan, page_hashes
from preprocessing.entities.articles import ArticleSource, entity_link_counts
from preprocessing.entities.vocab_building import LinkCountRuns
from preprocessing.records import Article
from preprocessing.sources.reading import SourceUnit
from preprocessing.tokenization.mentions import MentionTokenizer
from preprocessing.wikitext.sentences import Sentence, SentenceSplitter


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


def load_mention_tokenizer(tokenizer_file: str) -> MentionTokenizer:
    """The ``MentionTokenizer`` of a ``tokenizer.json`` on any Beam filesystem: DoFns carry its path, not its
    megabytes (the DaskRunner deserializes a DoFn for each partition)."""
    with FileSystems.open(tokenizer_file) as stream:
        return MentionTokenizer(stream.read().decode("utf-8"))


class TokenizeUnits(beam.PTransform):
    """PCollection[SourceUnit] → ``{"reports": PCollection[dict], "candidates": PCollection[Candidate]}``; the
    article files written under ``build_dir``, the link counts to ``link_counts`` (when a vocabulary is built).

    Counts per unit (besides the source's): ``sentences``, ``links`` (in sentences), ``mentions``,
    ``mentions_dropped.blank_anchor|no_tokens|unknown_token``, ``articles.written.<split>``.
    """

    def __init__(
        self,
        source: ArticleSource,
        language: str,
        tokenizer_file: str,
        build_dir: str,
        plan: SplitPlan,
        link_counts: LinkCountRuns | None = None,
        progress_dir: str | None = None,
    ) -> None:
        super().__init__()
        self._fn = _TokenizeUnitFn(source, language, tokenizer_file, build_dir, plan, link_counts, progress_dir)

    def expand(self, units: beam.PCollection[SourceUnit]):
        return (
            units
            | "TokenizeUnit" >> beam.ParDo(self._fn)
            | "SplitOutputs" >> SplitByKind({"reports": dict, "candidates": Candidate})
        )


class _TokenizeUnitFn(SetUpDoFn):
    STATE = ("_articles", "_splitter", "_tokenizer", "_progress")

    def __init__(
        self,
        source: ArticleSource,
        language: str,
        tokenizer_file: str,
        build_dir: str,
        plan: SplitPlan,
        link_counts: LinkCountRuns | None,
        progress_dir: str | None,
    ) -> None:
        super().__init__()
        self._source = source
        self._language = language
        self._tokenizer_file = tokenizer_file
        self._build_dir = build_dir
        self._plan = plan
        self._link_counts = link_counts
        self._progress_dir = progress_dir

    def build_state(self) -> None:
        self._articles = self._source.open()
        self._splitter = SentenceSplitter(self._language)
        self._tokenizer = load_mention_tokenizer(self._tokenizer_file)
        self._progress = ProgressReporter(self._progress_dir) if self._progress_dir else None

    def process(self, unit: SourceUnit) -> Iterator[tuple[str, dict | Candidate]]:
        counts: Counter = Counter()
        entities: Counter = Counter()
        candidates: list[Candidate] = []
        with ArticleFileWriter(self._build_dir, list(self._plan.splits), unit.index) as writer:
            for article in self._articles.articles(unit, counts):
                entity_link_counts(article, entities)
                tokenized = self._tokenized(article, counts)
                split = self._plan.split_of(article.page_id)
                writer.write(split, tokenized)
                counts[f"articles.written.{split}"] += 1
                if tokenized.has_mentions:
                    candidates.append((page_hashes(article.page_id)[0], article.page_id, unit.index))
                if self._progress is not None:
                    self._progress.add({"articles": 1, "sentences": tokenized.num_sentences})
        if self._link_counts is not None:
            self._link_counts.write(unit.index, entities)
        record_counts(counts)
        yield "reports", dict(counts)
        for candidate in heapq.nsmallest(2, candidates):
            yield "candidates", candidate

    def _tokenized(self, article: Article, counts: Counter) -> TokenizedArticle:
        sentences = article_sentences(article, self._splitter, counts)
        counts["sentences"] += len(sentences)
        counts["links"] += sum(len(sentence.links) for sentence in sentences)
        tokenized = TokenizedArticle(article.page_id, self._tokenizer.tokenize(sentences, counts) if sentences else [])
        counts["mentions"] += tokenized.num_mentions
        return tokenized

    def finish_bundle(self) -> None:
        if self._progress is not None:
            self._progress.flush()
