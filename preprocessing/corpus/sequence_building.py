"""Articles → tokenized sentences → shards of packed sequences (Beam), with no side input.

1. ``TokenizeArticles``: one fused step per article: its paragraphs are split into sentences
   (``wikitext.sentences``) and tokenized in one batch (``tokenization.mentions``; the tokenizer's
   ``tokenizer.json`` text is a constant of the step). Mentions keep their entity title: no vocabulary is needed yet.
2. ``AssignShards``: each article's split and shard, a pure function of its page id (``splits``); the one
   page that must go to validation (smallest split hash among the articles with a mention) is found by a
   combiner that carries the article itself, and is marked as moved in its training shard.
3. ``PackAndWriteShards``: each shard's articles are grouped on one worker together with a copy of the
   entity vocabulary (title → id), packed (``packing``) in page-id order and written (``shard_writing``).

The vocabulary reaches the shards as one dict per shard in the same ``GroupByKey``, not as a side input or
a join per (title, page) pair: Beam 2.77's DaskRunner recomputes a side input's whole upstream graph inside
every task that reads it, and a per-link join costs the Python SDK more than parsing does. Shipping the
vocabulary to each shard costs (vocabulary size × shards), a few GB at full Wikipedia scale with 500K
entities and 64 shards. Every article's and shard's counts travel as data, so they reach metadata.json on
every runner.
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.combiners import Smallest
from preprocessing.beam.progress import ProgressReporter
from preprocessing.corpus.directory import shard_path
from preprocessing.corpus.packing import PackingOptions, pack_sentences
from preprocessing.corpus.splits import VALIDATION, SplitPlan, page_hashes
from preprocessing.entities.vocab import EntityVocab
from preprocessing.records import Article
from preprocessing.tokenization.mentions import Mention, MentionTokenizer, TokenizedSentence
from preprocessing.wikitext.sentences import Sentence, SentenceSplitter

FIRST_ENTITY_ID = 3  # after [PAD], [UNK], [MASK]


class TokenizedArticle:
    """An article's sentences, tokenized, and what splitting and tokenizing it dropped.

    Held flat, as it is pickled (it crosses two shuffles, and the in-memory DirectRunner decodes and
    re-encodes every shuffled value): one int32 buffer for all the word ids, the sentence lengths, and the
    mentions as ``(sentence index, target, start, end)`` tuples. ``sentences`` rebuilds the per-sentence
    view when the article is packed.
    """

    __slots__ = ("_ids", "_lengths", "_mentions", "counts", "page_id")

    def __init__(self, page_id: int, sentences: Sequence[TokenizedSentence], counts: Counter) -> None:
        ids = [sentence.word_ids for sentence in sentences]
        self.page_id = page_id
        self.counts = counts
        self._ids = np.concatenate(ids).astype(np.int32) if ids else np.zeros(0, dtype=np.int32)
        self._lengths = np.fromiter((len(part) for part in ids), dtype=np.int32, count=len(ids))
        self._mentions = tuple(
            (index, mention.target, mention.start, mention.end)
            for index, sentence in enumerate(sentences)
            for mention in sentence.mentions
        )

    @property
    def has_mentions(self) -> bool:
        return bool(self._mentions)

    @property
    def sentences(self) -> tuple[TokenizedSentence, ...]:
        by_sentence: list[list[Mention]] = [[] for _ in self._lengths]
        for index, target, start, end in self._mentions:
            by_sentence[index].append(Mention(target, start, end))
        ends = np.cumsum(self._lengths).tolist()
        return tuple(
            TokenizedSentence(self._ids[end - length : end], tuple(mentions))
            for end, length, mentions in zip(ends, self._lengths.tolist(), by_sentence, strict=True)
        )

    def __reduce__(self):
        flat = (self._ids.tobytes(), self._lengths.tobytes(), self._mentions)
        return _rebuild_article, (self.page_id, *flat, self.counts)


def _rebuild_article(page_id: int, ids: bytes, lengths: bytes, mentions: tuple, counts: Counter) -> TokenizedArticle:
    article = TokenizedArticle.__new__(TokenizedArticle)
    article.page_id, article.counts, article._mentions = page_id, counts, mentions
    article._ids = np.frombuffer(ids, dtype=np.int32)
    article._lengths = np.frombuffer(lengths, dtype=np.int32)
    return article


@dataclass(frozen=True)
class VocabCopy:
    """The entity vocabulary's title → id mapping as shipped to one shard: pickled once for all the shards
    (the copies share the bytes), unpickled once by the shard."""

    payload: bytes

    def ids(self) -> dict[str, int]:
        return pickle.loads(self.payload)


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


class TokenizeArticles(beam.PTransform):
    """PCollection[Article] → PCollection[TokenizedArticle]."""

    def __init__(self, language: str, tokenizer_json: str, progress_dir: str | None = None) -> None:
        super().__init__()
        self._language = language
        self._tokenizer_json = tokenizer_json
        self._progress_dir = progress_dir

    def expand(self, articles: beam.PCollection[Article]) -> beam.PCollection[TokenizedArticle]:
        return articles | "SplitAndTokenize" >> beam.ParDo(
            _TokenizeArticleFn(self._language, self._tokenizer_json, self._progress_dir)
        )


class _TokenizeArticleFn(beam.DoFn):
    def __init__(self, language: str, tokenizer_json: str, progress_dir: str | None) -> None:
        self._language = language
        self._tokenizer_json = tokenizer_json
        self._progress_dir = progress_dir

    def setup(self) -> None:
        self._splitter = SentenceSplitter(self._language)
        self._tokenizer = MentionTokenizer(self._tokenizer_json)
        self._progress = ProgressReporter(self._progress_dir) if self._progress_dir else None

    def process(self, article: Article) -> Iterator[TokenizedArticle]:
        counts: Counter = Counter(articles=1)
        sentences = article_sentences(article, self._splitter, counts)
        counts["sentences"] += len(sentences)
        counts["links"] += sum(len(sentence.links) for sentence in sentences)
        tokenized = self._tokenizer.tokenize(sentences, counts) if sentences else []
        if self._progress is not None:
            self._progress.add({"articles": 1, "sentences": len(sentences)})
        yield TokenizedArticle(article.page_id, tuple(tokenized), counts)

    def finish_bundle(self) -> None:
        if self._progress is not None:
            self._progress.flush()

    def __getstate__(self) -> dict:  # some runners pickle DoFns after setup: keep only the configuration
        return {key: self.__dict__[key] for key in ("_language", "_tokenizer_json", "_progress_dir")}


class AssignShards(beam.PTransform):
    """PCollection[TokenizedArticle] → PCollection[((split, shard), TokenizedArticle | MovedPage)].

    Each article is keyed by its split and shard, a pure function of its page id. With a positive validation
    fraction, the article with a mention and the smallest split hash goes to validation as well (unless its
    hash put it there already, or it is the only article with a mention: training comes first), and its own
    training shard gets a :class:`MovedPage` marker so that it is packed once. The two smallest candidates
    travel through the ``Smallest`` combiner themselves (each worker keeps its two before the shuffle), so
    finding them shuffles a handful of articles, not all of them.
    """

    def __init__(self, plan: SplitPlan) -> None:
        super().__init__()
        self._plan = plan

    def expand(self, articles: beam.PCollection[TokenizedArticle]) -> beam.PCollection[AssignedArticle]:
        assigned = articles | "Assign" >> beam.Map(_assigned, self._plan)
        if self._plan.validation_fraction == 0:
            return assigned
        moved = (
            articles
            | "ValidationCandidates" >> beam.FlatMap(_validation_candidate)
            | "SmallestSplitHashes" >> Smallest(2, key=_split_hash_and_page)
            | "MoveToValidation" >> beam.FlatMap(_moved_to_validation, self._plan)
        )
        return (assigned, moved) | "WithMovedPage" >> beam.Flatten().with_output_types(AssignedArticle)


@dataclass(frozen=True)
class MovedPage:
    """Marks, in a training shard, the page that :class:`AssignShards` moved to validation."""

    page_id: int


# An article keyed by its (split, shard index), or the marker of a page moved out of that training shard
ShardKey = tuple[str, int]
AssignedArticle = tuple[ShardKey, TokenizedArticle | MovedPage]


def _validation_candidate(article: TokenizedArticle) -> Iterator[tuple[float, int, TokenizedArticle]]:
    if article.has_mentions:
        yield page_hashes(article.page_id)[0], article.page_id, article


def _split_hash_and_page(candidate: tuple[float, int, TokenizedArticle]) -> tuple[float, int]:
    return candidate[0], candidate[1]  # unique per page: articles themselves are never compared


def _moved_to_validation(
    smallest: list[tuple[float, int, TokenizedArticle]], plan: SplitPlan
) -> Iterator[AssignedArticle]:
    if len(smallest) < 2:  # the only article with a mention trains; validation stays empty
        return
    _, page_id, article = smallest[0]
    own = plan.assign(page_id)
    if own[0] != VALIDATION:
        yield plan.assign(page_id, always_validation=page_id), article
        yield own, MovedPage(page_id)


def _assigned(article: TokenizedArticle, plan: SplitPlan) -> AssignedArticle:
    return plan.assign(article.page_id), article


class PackAndWriteShards(beam.PTransform):
    """``{"articles": PCollection[((split, shard), TokenizedArticle | MovedPage)], "vocab":
    PCollection[EntityVocab]}`` → PCollection[(split, shard statistics, counts)]: every shard of ``plan``
    written under ``output_dir``, empty ones too (a moved page is packed in validation only)."""

    def __init__(self, output_dir: str, options: PackingOptions, plan: SplitPlan) -> None:
        super().__init__()
        self._output_dir = output_dir
        self._options = options
        self._plan = plan

    def expand(self, inputs) -> beam.PCollection[ShardReport]:
        vocab_copies = inputs["vocab"] | "VocabPerShard" >> beam.FlatMap(_vocab_per_shard, self._plan)
        return (
            (inputs["articles"], vocab_copies)
            | "Merge" >> beam.Flatten().with_output_types(tuple[ShardKey, TokenizedArticle | MovedPage | VocabCopy])
            | "GroupByShard" >> beam.GroupByKey()
            | "PackAndWrite" >> beam.Map(_pack_and_write, self._output_dir, self._options, self._plan)
        )


def _vocab_per_shard(vocab: EntityVocab, plan: SplitPlan) -> Iterator[tuple[ShardKey, VocabCopy]]:
    ids = {title: entity_id for title, entity_id in vocab.title_to_id().items() if entity_id >= FIRST_ENTITY_ID}
    copy = VocabCopy(pickle.dumps(ids, protocol=pickle.HIGHEST_PROTOCOL))
    for split, count in plan.splits.items():
        for index in range(count):
            yield (split, index), copy


# What writing a shard reports: its split, the shard's statistics and the counts of what packing kept and dropped
ShardReport = tuple[str, dict[str, int], dict[str, int]]


def _pack_and_write(
    element: tuple[ShardKey, Iterable[TokenizedArticle | MovedPage | VocabCopy]],
    output_dir: str,
    options: PackingOptions,
    plan: SplitPlan,
) -> ShardReport:
    from preprocessing.corpus.shard_writing import write_shard

    (split, index), values = element
    articles = []
    moved = set()
    vocab: dict[str, int] = {}
    for value in values:
        if isinstance(value, VocabCopy):
            vocab = value.ids()
        elif isinstance(value, MovedPage):
            moved.add(value.page_id)
        else:
            articles.append(value)
    counts: Counter = Counter()
    rows = []
    for article in sorted(articles, key=lambda article: article.page_id):
        if article.page_id in moved:
            continue
        counts.update(article.counts)
        before = len(rows)
        rows.extend(pack_sentences(article.page_id, article.sentences, options, vocab.get, counts))
        if len(rows) == before:
            counts["articles_without_sequences"] += 1
    counts["sequences"] += len(rows)
    stats = write_shard(FileSystems.join(output_dir, shard_path(split, index, plan.splits[split])), rows)
    stats["shards"] = 1
    stats["pages"] = len({row.page_id for row in rows})
    return split, stats, counts
