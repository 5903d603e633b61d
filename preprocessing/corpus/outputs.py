"""The tokenizer pass's transform: a SentencePiece tokenizer trained on a sample of the input, written to the
corpus directory (the shards are written by ``shard_packing.PackShards``, ``metadata.json`` by the driver)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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
