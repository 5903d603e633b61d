"""Beam transforms that write the rest of the corpus directory: a trained tokenizer and the build report.

``WriteBuildReport`` sums the per-split statistics and the job's counters into a report that the driver
folds into ``metadata.json`` (written last, by the driver). The shards are written by
``sequence_building.PackAndWriteShards``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.atomic import write_bytes
from preprocessing.beam.combiners import Smallest
from preprocessing.corpus.directory import TOKENIZER_DIR
from preprocessing.corpus.splits import sample_rank
from preprocessing.records import Article, Paragraph, WikiPage
from preprocessing.tokenization.tokenizer import TrainedTokenizer, train_sentencepiece_tokenizer
from preprocessing.wikitext.sentences import SentenceSplitter

BUILD_DIR = "_build"  # the job's scratch space inside the output directory, removed at the end
REPORT_FILE = "report.json"
MAX_SAMPLE_PAGE_CHARS = 100_000  # bounds the memory of the tokenizer's training sample


class TrainCorpusTokenizer(beam.PTransform):
    """PCollection[WikiPage] (or PCollection[Article] of ``--documents``) → one-element
    PCollection[TrainedTokenizer]: a SentencePiece tokenizer trained on a bounded, deterministic sample of the
    articles (the ``sample_pages`` article pages with the smallest page-id hashes, each cut at 100,000
    characters), written to ``output_dir/tokenizer``.

    Only the sampled pages are parsed, so this pass costs an XML read of the dump, not a wikiextractor pass.
    """

    def __init__(
        self,
        site,
        output_dir: str,
        language: str,
        vocab_size: int,
        sample_pages: int,
        character_coverage: float,
    ) -> None:
        super().__init__()
        self._site = site
        self._output_dir = output_dir
        self._language = language
        self._vocab_size = vocab_size
        self._sample_pages = sample_pages
        self._character_coverage = character_coverage

    def expand(self, pages: beam.PCollection[WikiPage | Article]) -> beam.PCollection[TrainedTokenizer]:
        return (
            pages
            | "HashArticlePages" >> beam.FlatMap(_hashed_sample_text)
            | "SamplePages" >> Smallest(self._sample_pages)
            | "Train" >> beam.Map(_train, self._site, self._language, self._vocab_size, self._character_coverage)
            | "WriteTokenizerDir" >> beam.Map(_write_tokenizer_dir, self._output_dir)
        )


# A page of the tokenizer's training sample: (sample rank, page id, title, text, is wikitext)
SampleText = tuple[int, int, str, str, bool]


def _hashed_sample_text(record: WikiPage | Article) -> Iterator[SampleText]:
    """The sample entry of an article page or a document (``splits.sample_rank`` orders them)."""
    if isinstance(record, Article):
        text = "\n".join(paragraph.text for paragraph in record.paragraphs)
        yield sample_rank(record.page_id), record.page_id, record.title, text[:MAX_SAMPLE_PAGE_CHARS], False
    elif record.namespace == 0 and record.redirect is None:
        wikitext = record.wikitext[:MAX_SAMPLE_PAGE_CHARS]
        yield sample_rank(record.page_id), record.page_id, record.title, wikitext, True


def sample_sentences(sample: Sequence[SampleText], site, language: str) -> list[str]:
    """The sentences of the sampled pages' clean text (pages whose markup breaks the parser are skipped) or
    of the sampled documents' text."""
    from preprocessing.wikitext.parser import WikitextParser

    parser = WikitextParser(site) if site is not None else None
    splitter = SentenceSplitter(language)
    sentences = []
    for _, page_id, title, text, is_wikitext in sample:
        try:
            paragraphs = parser.parse(page_id, title, text).paragraphs if is_wikitext else [Paragraph(text, ())]
        except Exception:  # the same failures ExtractArticles counts; a sample can do without them
            continue
        for paragraph in paragraphs:
            ends = splitter.boundaries(paragraph.text)
            sentences.extend(paragraph.text[start:end].strip() for start, end in zip([0, *ends], ends, strict=False))
    return sentences


def _train(
    sample: list[SampleText], site, language: str, vocab_size: int, character_coverage: float
) -> TrainedTokenizer:
    trained = train_sentencepiece_tokenizer(sample_sentences(sample, site, language), vocab_size, character_coverage)
    return TrainedTokenizer(trained.files, trained.tokenizer_json, {**trained.info, "sample_pages": len(sample)})


def _write_tokenizer_dir(trained: TrainedTokenizer, output_dir: str) -> TrainedTokenizer:
    for name, content in trained.files.items():
        write_bytes(FileSystems.join(output_dir, TOKENIZER_DIR, name), content)
    return trained


class WriteBuildReport(beam.PTransform):
    """``{"shards": PCollection[(split, shard statistics, counts)], ...}`` → writes
    ``output_dir/_build/report.json`` (per-split statistics and the job's counters) once every input is
    complete. Other inputs are only waited for (e.g. the entity vocabulary's write).

    The report is the job's only sink, downstream of every other write, because Beam 2.77's DaskRunner
    computes only the graph that leads to the last transform of the pipeline.
    """

    def __init__(self, output_dir: str) -> None:
        super().__init__()
        self._output_dir = output_dir

    def expand(self, inputs) -> beam.PCollection[str]:
        tagged = [
            inputs[name] | f"Tag{name.title().replace('_', '')}" >> beam.Map(_tagged, name) for name in sorted(inputs)
        ]
        return (
            tagged
            | "AllInputs" >> beam.Flatten()
            | "Summarise" >> beam.CombineGlobally(_ReportFn()).with_output_types(dict)
            | "Write" >> beam.Map(_write_report, self._output_dir)
        )


def _tagged(element: Any, name: str) -> tuple[str, Any]:
    return name, element


class _ReportFn(beam.CombineFn):
    """Sums shard statistics per split and counters; ignores everything else."""

    def create_accumulator(self) -> dict:
        return {"splits": {}, "counters": Counter()}

    def add_input(self, accumulator: dict, element: tuple[str, Any]) -> dict:
        name, value = element
        if name == "shards":
            split, stats, counts = value
            accumulator["splits"].setdefault(split, Counter()).update(stats)
            accumulator["counters"].update(counts)
        return accumulator

    def merge_accumulators(self, accumulators) -> dict:
        merged = self.create_accumulator()
        for accumulator in accumulators:
            for split, stats in accumulator["splits"].items():
                merged["splits"].setdefault(split, Counter()).update(stats)
            merged["counters"].update(accumulator["counters"])
        return merged

    def extract_output(self, accumulator: dict) -> dict:
        return {
            "splits": {split: dict(sorted(stats.items())) for split, stats in sorted(accumulator["splits"].items())},
            "counters": dict(sorted(accumulator["counters"].items())),
        }


def _write_report(report: dict, output_dir: str) -> str:
    path = FileSystems.join(output_dir, BUILD_DIR, REPORT_FILE)
    write_bytes(path, json.dumps(report, indent=2, sort_keys=True).encode("utf-8"))
    return path


def read_report(output_dir: str) -> dict:
    """The report the job wrote (driver side)."""
    with FileSystems.open(FileSystems.join(output_dir, BUILD_DIR, REPORT_FILE)) as stream:
        return json.loads(stream.read().decode("utf-8"))
