"""Beam transforms that write the corpus directory: shards, a trained tokenizer, the build report.

``WriteCorpusShards`` assigns each sequence to its split and shard (``splits``), groups each shard's rows
on one worker and writes them (``shard_writing``); every shard of the plan is written, empty ones too, so
the layout never depends on the data. The per-split statistics and the job's counters are written to a
build report that the driver folds into ``metadata.json`` (written last, by the driver).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from preprocessing.corpus import TOKENIZER_DIR, shard_path
from preprocessing.corpus_tokenizer import TrainedTokenizer, train_sentencepiece_tokenizer
from preprocessing.packing import PackedSequence
from preprocessing.records import Article
from preprocessing.sentences import SentenceSplitter
from preprocessing.sequence_building import sum_counters
from preprocessing.splits import SplitPlan, page_hashes

BUILD_DIR = "_build"  # the job's scratch space inside the output directory, removed at the end
REPORT_FILE = "report.json"


def write_bytes(path: str, content: bytes) -> None:
    """Write ``content`` to ``path`` atomically (temporary name, then rename)."""
    temporary = path + ".tmp"
    with FileSystems.create(temporary) as stream:
        stream.write(content)
    FileSystems.rename([temporary], [path])


class WriteCorpusShards(beam.PTransform):
    """PCollection[PackedSequence] → PCollection[(split, Counter)]: writes every shard of ``plan`` under
    ``output_dir`` and gives each shard's statistics."""

    def __init__(self, output_dir: str, plan: SplitPlan) -> None:
        super().__init__()
        self._output_dir = output_dir
        self._plan = plan

    def expand(self, sequences: beam.PCollection[PackedSequence]) -> beam.PCollection:
        always_validation = (
            sequences
            | "SplitHashes" >> beam.Map(lambda sequence: (page_hashes(sequence.page_id)[0], sequence.page_id))
            | "SmallestSplitHash" >> beam.combiners.Top.Smallest(1)
        )
        keyed = sequences | "AssignShard" >> beam.Map(
            _keyed_by_shard, self._plan, beam.pvalue.AsSingleton(always_validation)
        )
        every_shard = sequences.pipeline | "EveryShard" >> beam.Create(
            [((split, index), None) for split, count in self._plan.splits.items() for index in range(count)]
        )
        return (
            (keyed, every_shard)
            | "Merge" >> beam.Flatten()
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.Map(_write_shard, self._output_dir, self._plan)
        )


def _keyed_by_shard(
    sequence: PackedSequence, plan: SplitPlan, smallest: list[tuple[float, int]]
) -> tuple[tuple[str, int], PackedSequence]:
    return plan.assign(sequence.page_id, smallest[0][1] if smallest else None), sequence


def _write_shard(element, output_dir: str, plan: SplitPlan) -> tuple[str, Counter]:
    from preprocessing.shard_writing import write_shard

    (split, index), rows = element
    path = FileSystems.join(output_dir, shard_path(split, index, plan.splits[split]))
    stats = write_shard(path, [row for row in rows if row is not None])
    stats["shards"] = 1
    return split, stats


class TrainCorpusTokenizer(beam.PTransform):
    """PCollection[Article] → one-element PCollection[str]: the ``tokenizer.json`` of a SentencePiece
    tokenizer trained on a bounded, deterministic sample of the articles' paragraphs (those with the
    smallest hashes of (page id, paragraph index)); its directory is written to ``output_dir/tokenizer``
    and its training facts to the report (``tokenizer_info`` side output)."""

    def __init__(self, output_dir: str, language: str, vocab_size: int, sample_paragraphs: int) -> None:
        super().__init__()
        self._output_dir = output_dir
        self._language = language
        self._vocab_size = vocab_size
        self._sample_paragraphs = sample_paragraphs

    def expand(self, articles: beam.PCollection[Article]) -> beam.PCollection:
        trained = (
            articles
            | "HashParagraphs" >> beam.FlatMap(_hashed_paragraphs)
            | "SampleParagraphs" >> beam.combiners.Top.Smallest(self._sample_paragraphs)
            | "Train" >> beam.Map(_train, self._language, self._vocab_size)
            | "WriteTokenizerDir" >> beam.Map(_write_tokenizer_dir, self._output_dir)
        )
        return trained


def _hashed_paragraphs(article: Article) -> Iterator[tuple[int, str]]:
    for index, paragraph in enumerate(article.paragraphs):
        yield page_hashes(article.page_id * 100_003 + index)[1], paragraph.text


def _train(sample: list[tuple[int, str]], language: str, vocab_size: int) -> TrainedTokenizer:
    splitter = SentenceSplitter(language)
    sentences = []
    for _, text in sample:
        ends = splitter.boundaries(text)
        sentences.extend(text[start:end].strip() for start, end in zip([0, *ends], ends))
    return train_sentencepiece_tokenizer(sentences, vocab_size)


def _write_tokenizer_dir(trained: TrainedTokenizer, output_dir: str) -> TrainedTokenizer:
    for name, content in trained.files.items():
        write_bytes(FileSystems.join(output_dir, TOKENIZER_DIR, name), content)
    return trained


class WriteBuildReport(beam.PTransform):
    """Writes ``output_dir/_build/report.json``: per-split statistics, the job's counters and extra facts
    (e.g. the tokenizer's training), once all shards are written."""

    def __init__(self, output_dir: str) -> None:
        super().__init__()
        self._output_dir = output_dir

    def expand(self, inputs: dict[str, beam.PCollection]) -> beam.PCollection:
        split_stats = (
            inputs["shard_stats"]
            | "SumPerSplit" >> beam.CombinePerKey(sum_counters)
            | "SplitsToDict" >> beam.combiners.ToDict()
        )
        counters = inputs["counts"] | "SumCounts" >> beam.CombineGlobally(sum_counters)
        extra = inputs.get("extra")
        if extra is None:
            extra = inputs["counts"].pipeline | "NoExtra" >> beam.Create([{}])
        return (
            inputs["counts"].pipeline
            | "Once" >> beam.Create([None])
            | "Write"
            >> beam.Map(
                _write_report,
                self._output_dir,
                beam.pvalue.AsSingleton(split_stats),
                beam.pvalue.AsSingleton(counters),
                beam.pvalue.AsSingleton(extra),
            )
        )


def _write_report(_, output_dir: str, split_stats: dict, counters: Counter, extra: dict) -> str:
    report = {
        "splits": {split: dict(sorted(stats.items())) for split, stats in sorted(split_stats.items())},
        "counters": dict(sorted(counters.items())),
        **extra,
    }
    path = FileSystems.join(output_dir, BUILD_DIR, REPORT_FILE)
    write_bytes(path, json.dumps(report, indent=2, sort_keys=True).encode("utf-8"))
    return path


def read_report(output_dir: str) -> dict:
    """The report the job wrote (driver side)."""
    with FileSystems.open(FileSystems.join(output_dir, BUILD_DIR, REPORT_FILE)) as stream:
        return json.loads(stream.read().decode("utf-8"))
