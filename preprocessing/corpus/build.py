"""``build_corpus``: the whole preprocessing as one Beam pipeline, and the driver steps around it.

One pipeline for the corpus, not two chained ones: wikiextractor is the dominant cost of the job, and one
pipeline parses every article once and feeds the same articles to the entity vocabulary and the sequences
(the vocabulary reaches each shard through a join, not a side input). Two pipelines would either parse
twice or store every parsed article in between. A tokenizer to train (``--train-tokenizer``) comes from a
short pipeline before it, over a bounded sample of pages.

Driver steps: check the output directory (refuse one holding a different corpus unless ``overwrite``, one
that is not writable or, on a local disk, lacks room for an estimate of the corpus), load a given entity
vocabulary or tokenizer *before* any work (clear errors), run the job with a live progress line (a failure
becomes one line, its traceback goes to ``error.log`` in the output directory), then write ``metadata.json``
last and remove the job's scratch directory.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from luke import __version__
from luke.versions import package_versions
from preprocessing.beam.atomic import write_bytes
from preprocessing.beam.combiners import Smallest
from preprocessing.corpus.directory import (
    ENTITY_VOCAB_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    METADATA_FILE,
    SPLITS,
    TOKENIZER_DIR,
    shard_path,
)
from preprocessing.corpus.outputs import BUILD_DIR, TrainCorpusTokenizer, WriteBuildReport, read_report
from preprocessing.corpus.packing import PackingOptions
from preprocessing.corpus.sequence_building import AssignShards, PackAndWriteShards, TokenizeArticles
from preprocessing.corpus.splits import TRAIN, VALIDATION, SplitPlan
from preprocessing.defaults import (
    DEFAULT_MAX_PAGE_BYTES,
    DEFAULT_MAX_REDIRECT_HOPS,
    DEFAULT_STREAMS_PER_RANGE,
    DEFAULT_TOKENIZER_SAMPLE_PAGES,
    DEFAULT_TOKENIZER_VOCAB_SIZE,
    DEFAULT_VOCAB_SIZE,
)
from preprocessing.records import Article, WikiPage
from preprocessing.tokenization.tokenizer import (
    TrainedTokenizer,
    load_fast_tokenizer,
    save_tokenizer_files,
)

if TYPE_CHECKING:
    from preprocessing.sources.reading import ReadingPlan

PROGRESS_DIR = "progress"
TRAINING_FACTS_FILE = "tokenizer_training.json"
ERROR_LOG = "error.log"  # a failed job's output and traceback
OUTPUT_ENTRIES = (METADATA_FILE, ENTITY_VOCAB_FILE, TOKENIZER_DIR, BUILD_DIR, ERROR_LOG, *SPLITS)
# measured on the whole enwiki sample with a 4,000-token byte-level BPE: 3,717,282 bytes of shards from
# 6,089,746 bytes of XML and 107 articles (larger vocabularies give fewer tokens, so this errs high)
SHARD_BYTES_PER_XML_BYTE = 0.61
SHARD_BYTES_PER_ARTICLE = 35_000  # bounds the estimate of --max-pages builds
AUTO_SHARD_BYTES = 16 << 20  # --num-shards auto: a train shard per 16 MiB of estimated shards ...
AUTO_MAX_SHARDS = 64  # ... and at most 64 (English Wikipedia's ~58 GB of shards: 64 of ~0.9 GB)
# --documents: int32 ids of ~4 characters of text each, entity columns and Arrow offsets: at most ~1.5 bytes
# of shards per byte of text (the same 4,000-token BPE gives 1.1 on the sample's articles as documents)
SHARD_BYTES_PER_DOCUMENT_BYTE = 1.5
DOCUMENTS_LANGUAGE = "en"  # of --documents without --language: the sentence splitter's rules


class BuildError(ValueError):
    """A problem with the job's inputs or output, found before any work (message names it)."""


@dataclass(frozen=True)
class CorpusBuildConfig:
    """Everything that decides the corpus (recorded in metadata.json). The input is ``dumps`` (Wikipedia) or
    ``documents`` (JSON Lines of annotated documents, ``preprocessing.sources.documents``), not both."""

    dumps: tuple[str, ...]
    output: str
    documents: tuple[str, ...] = ()
    packing: PackingOptions = field(default_factory=PackingOptions)
    entity_vocab: str | None = None
    entity_vocab_size: int = DEFAULT_VOCAB_SIZE
    min_entity_count: int = 1
    keep_missing_targets: bool = False
    max_redirect_hops: int = DEFAULT_MAX_REDIRECT_HOPS
    keep_section_links: bool = False
    max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES
    streams_per_range: int = DEFAULT_STREAMS_PER_RANGE
    allow_damaged_dumps: bool = False
    tokenizer: str | None = None
    train_tokenizer: bool = False
    tokenizer_vocab_size: int = DEFAULT_TOKENIZER_VOCAB_SIZE
    tokenizer_sample_pages: int = DEFAULT_TOKENIZER_SAMPLE_PAGES
    tokenizer_character_coverage: float = 0.9995
    language: str | None = None
    max_pages: int | None = None
    abstract_only: bool = False
    validation_fraction: float = 0.001
    num_shards: int | None = 64  # None: auto_num_shards of the input's size
    num_validation_shards: int = 1

    def __post_init__(self) -> None:
        if (self.tokenizer is None) == (not self.train_tokenizer):
            raise BuildError("give exactly one tokenizer source: --tokenizer NAME_OR_PATH or --train-tokenizer")
        if self.max_pages is not None and self.max_pages < 1:
            raise BuildError(f"--max-pages must be positive, got {self.max_pages}")
        if bool(self.dumps) == bool(self.documents):
            raise BuildError("give Wikipedia DUMPS or --documents FILE.jsonl, not both")
        if self.documents and (self.max_pages is not None or self.abstract_only):
            raise BuildError("--max-pages and --abstract-only apply to Wikipedia dumps, not to --documents")

    @property
    def plan(self) -> SplitPlan:
        return SplitPlan(self.validation_fraction, self.num_shards, self.num_validation_shards)

    def recorded_options(self) -> dict:
        options = asdict(self)
        options.pop("output")
        options["dumps"] = list(self.dumps)
        options["documents"] = list(self.documents)
        return options


class LimitArticlePages(beam.PTransform):
    """Keep the ``max_pages`` article pages (namespace 0, not redirects) with the smallest page ids, and
    every other page (redirects still resolve links): a deterministic quick sample of a dump."""

    def __init__(self, max_pages: int) -> None:
        super().__init__()
        self._max_pages = max_pages

    def expand(self, pages: beam.PCollection[WikiPage]) -> beam.PCollection[WikiPage]:
        kept = (
            pages
            | "Articles" >> beam.Filter(_is_article)
            | "SmallestIds" >> Smallest(self._max_pages, key=lambda page: page.page_id)
            | "Unlist" >> beam.FlatMap(_each_page)
        )
        others = pages | "OtherPages" >> beam.Filter(lambda page: not _is_article(page))
        return (kept, others) | "Rejoin" >> beam.Flatten()


def _each_page(pages: list[WikiPage]) -> list[WikiPage]:
    return pages


def _is_article(page: WikiPage) -> bool:
    return page.namespace == 0 and page.redirect is None


_HEADING = re.compile(r"^=+[^=\n].*?=+[ \t]*$", re.MULTILINE)


def lead_section(page: WikiPage) -> WikiPage:
    """``page`` with the wikitext of an article cut at its first section heading (``== History ==``)."""
    if not _is_article(page):
        return page
    heading = _HEADING.search(page.wikitext)
    return page if heading is None else replace(page, wikitext=page.wikitext[: heading.start()])


def prepare_output(output: str, overwrite: bool) -> None:
    """Refuse an output directory that holds a corpus or other files, unless ``overwrite``; then clear the
    corpus entries (metadata.json first, so a half-deleted corpus never looks complete)."""
    existing = [entry for entry in OUTPUT_ENTRIES if FileSystems.exists(FileSystems.join(output, entry))]
    if existing and not overwrite:
        if METADATA_FILE in existing:
            described = _describe_corpus(FileSystems.join(output, METADATA_FILE))
            raise BuildError(f"{output} already holds a corpus ({described}); pass --overwrite to replace it")
        raise BuildError(
            f"{output} already holds files of an unfinished corpus build ({', '.join(existing)}); "
            "pass --overwrite to replace them"
        )
    for entry in existing:  # metadata.json comes first in OUTPUT_ENTRIES
        FileSystems.delete([FileSystems.join(output, entry)])


def _describe_corpus(metadata_path: str) -> str:
    try:
        with FileSystems.open(metadata_path) as stream:
            metadata = json.loads(stream.read().decode("utf-8"))
        sequences = sum(split.get("sequences", 0) for split in metadata.get("splits", {}).values())
        return f"{sequences:,} sequences from {', '.join(metadata.get('input_files', [])) or 'unknown inputs'}"
    except (OSError, ValueError):
        return "unreadable metadata.json"


def load_entity_vocab(path: str):
    """Load a given entity vocabulary; raise :class:`BuildError` naming the file when it is unusable."""
    from preprocessing.entities.vocab import EntityVocab, EntityVocabError

    try:
        return EntityVocab.load(path)
    except EntityVocabError as error:
        raise BuildError(f"--entity-vocab: {error}") from error


def pretrained_tokenizer_files(name_or_path: str) -> dict[str, bytes]:
    """The files of the fast tokenizer ``name_or_path`` as ``output/tokenizer`` will hold them."""
    from preprocessing.tokenization.tokenizer import TokenizerError

    try:
        return save_tokenizer_files(load_fast_tokenizer(name_or_path))
    except TokenizerError as error:
        raise BuildError(f"--tokenizer: {error}") from error


def load_output_tokenizer(output: str):
    """The tokenizer that ``AutoTokenizer.from_pretrained(output/tokenizer)`` gives (copied to a local
    temporary directory first, so any Beam filesystem works): the job tokenizes with exactly this one."""
    with tempfile.TemporaryDirectory() as directory:
        match = FileSystems.match([FileSystems.join(output, TOKENIZER_DIR, "*")])[0].metadata_list
        for metadata in match:
            with FileSystems.open(metadata.path) as stream:
                (Path(directory) / Path(metadata.path).name).write_bytes(stream.read())
        return load_fast_tokenizer(directory)


def tokenizer_facts(tokenizer) -> dict:
    """Class, size and special token ids of the corpus tokenizer, for metadata.json."""
    facts = {"class": type(tokenizer).__name__, "vocab_size": len(tokenizer)}
    for name in ("cls", "sep", "pad", "mask", "unk", "bos", "eos"):
        token = getattr(tokenizer, f"{name}_token", None)
        if token is not None:
            facts[f"{name}_token"] = str(token)
            facts[f"{name}_token_id"] = tokenizer.convert_tokens_to_ids(str(token))
    return facts


def _read_pages(pipeline: beam.Pipeline, config: CorpusBuildConfig, plan: ReadingPlan) -> beam.PCollection[WikiPage]:
    from preprocessing.sources.reading import ReadDumpPages

    pages = pipeline | "ReadDumpPages" >> ReadDumpPages(plan, config.max_page_bytes, config.allow_damaged_dumps)
    if config.max_pages is not None:
        pages = pages | "LimitArticlePages" >> LimitArticlePages(config.max_pages)
    if config.abstract_only:
        pages = pages | "LeadSectionsOnly" >> beam.Map(lead_section)
    return pages


def _read_documents(pipeline: beam.Pipeline, config: CorpusBuildConfig) -> beam.PCollection[Article]:
    from preprocessing.sources.documents import ReadDocuments

    return pipeline | "ReadDocuments" >> ReadDocuments(list(config.documents))


def corpus_language(config: CorpusBuildConfig, site) -> str:
    """``--language``, else the dump's, else (documents) :data:`DOCUMENTS_LANGUAGE`."""
    return config.language or (site.language if site is not None else DOCUMENTS_LANGUAGE)


def train_tokenizer_pipeline(
    pipeline: beam.Pipeline, config: CorpusBuildConfig, site, plan: ReadingPlan | None
) -> None:
    """The first job of ``--train-tokenizer``: sample the input, train, write ``tokenizer/`` and the facts."""
    records = _read_documents(pipeline, config) if config.documents else _read_pages(pipeline, config, plan)
    _ = (
        records
        | "TrainTokenizer"
        >> TrainCorpusTokenizer(
            site,
            config.output,
            corpus_language(config, site),
            config.tokenizer_vocab_size,
            config.tokenizer_sample_pages,
            config.tokenizer_character_coverage,
        )
        | "WriteTrainingFacts" >> beam.Map(_write_training_facts, config.output)
    )


def _write_training_facts(trained: TrainedTokenizer, output: str) -> None:
    write_bytes(FileSystems.join(output, BUILD_DIR, TRAINING_FACTS_FILE), json.dumps(trained.info).encode("utf-8"))


def corpus_pipeline(
    pipeline: beam.Pipeline, config: CorpusBuildConfig, site, plan: ReadingPlan | None, tokenizer_json: str
) -> None:
    """The main job: dumps → articles → entity vocabulary (unless given) → sequences → shards + report.

    With a given vocabulary, its entries are read from ``output/entity_vocab.jsonl`` (saved by the driver).
    """
    from preprocessing.entities.articles import ExtractArticles, ExtractionOptions
    from preprocessing.entities.vocab_building import BuildEntityVocab, LoadEntityVocab, WriteEntityVocab

    vocab_path = FileSystems.join(config.output, ENTITY_VOCAB_FILE)
    if config.documents:
        articles = _read_documents(pipeline, config)
    else:
        articles = _read_pages(pipeline, config, plan) | "ExtractArticles" >> ExtractArticles(
            site,
            ExtractionOptions(config.keep_missing_targets, config.max_redirect_hops, config.keep_section_links),
        )
    language = corpus_language(config, site)
    report_inputs = {}
    if config.entity_vocab is not None:
        vocab = pipeline | "LoadEntityVocab" >> LoadEntityVocab(vocab_path)
    else:
        vocab = articles | "BuildEntityVocab" >> BuildEntityVocab(
            config.entity_vocab_size, config.min_entity_count, language
        )
        report_inputs["entity_vocab"] = vocab | "WriteEntityVocab" >> WriteEntityVocab(vocab_path)
    progress_dir = FileSystems.join(config.output, BUILD_DIR, PROGRESS_DIR)
    keyed = (
        articles
        | "TokenizeArticles" >> TokenizeArticles(language, tokenizer_json, progress_dir)
        | "AssignShards" >> AssignShards(config.plan)
    )
    report_inputs["shards"] = {"articles": keyed, "vocab": vocab} | "PackAndWriteShards" >> PackAndWriteShards(
        config.output, config.packing, config.plan
    )
    _ = report_inputs | "WriteBuildReport" >> WriteBuildReport(config.output)


@dataclass(frozen=True)
class BuildResult:
    metadata: dict


def _run(pipeline: beam.Pipeline, output: str, stage: str):
    """Run a job with a progress line; raise ``JobError`` (one line, log in ``output/error.log``) if it fails."""
    from preprocessing.beam.failures import reported_failures
    from preprocessing.beam.progress import ProgressMonitor

    progress_dir = FileSystems.join(output, BUILD_DIR, PROGRESS_DIR)
    with (
        reported_failures(stage, FileSystems.join(output, ERROR_LOG)) as terminal,
        ProgressMonitor(progress_dir, f"build-corpus ({stage})", ("articles", "sentences"), terminal),
    ):
        result = pipeline.run()
        result.wait_until_finish()
    return result


def input_files(config: CorpusBuildConfig, plan: ReadingPlan | None) -> list[tuple[str, int]]:
    """``(path, bytes)`` of every input file: the dumps of ``plan``, or the documents (raises ``ValueError``
    naming a pattern that matches nothing)."""
    if plan is None:
        from preprocessing.sources.documents import expand_document_patterns

        return expand_document_patterns(config.documents)
    return [(file.path, file.size) for file in plan.files]


def estimated_shard_bytes(config: CorpusBuildConfig, files: list[tuple[str, int]]) -> int:
    """The shards' size, estimated from the size of the input ``files`` (see the constants)."""
    from preprocessing.beam.output_checks import xml_bytes

    text = xml_bytes(files)  # for documents, their decompressed size
    if config.documents:
        return int(text * SHARD_BYTES_PER_DOCUMENT_BYTE)
    shards = text * SHARD_BYTES_PER_XML_BYTE
    if config.max_pages is not None:
        shards = min(shards, config.max_pages * SHARD_BYTES_PER_ARTICLE)
    return int(shards)


def estimated_corpus_bytes(config: CorpusBuildConfig, files: list[tuple[str, int]], entity_vocab_entries: int) -> int:
    """What the build writes besides the tokenizer (a trained one: a few MB): shards and vocabulary."""
    from preprocessing.beam.output_checks import xml_bytes
    from preprocessing.entities.vocab import estimated_file_bytes

    return estimated_shard_bytes(config, files) + estimated_file_bytes(entity_vocab_entries, xml_bytes(files))


def auto_num_shards(shard_bytes: int) -> int:
    """Train shards for ``shard_bytes`` of shards: one per :data:`AUTO_SHARD_BYTES`, from 1 to
    :data:`AUTO_MAX_SHARDS` (a sample gets one shard, not 64 mostly empty ones)."""
    return max(1, min(AUTO_MAX_SHARDS, -(-shard_bytes // AUTO_SHARD_BYTES)))


def build_corpus(
    config: CorpusBuildConfig,
    beam_args: Sequence[str] = (),
    overwrite: bool = False,
    notify: Callable[[str], None] = lambda line: None,
) -> BuildResult:
    """Run the whole build; raise :class:`BuildError` for bad inputs or output before any work, and
    ``preprocessing.beam.failures.JobError`` for a job that fails (a damaged dump, a full disk). ``notify``
    gets a line for each multistream dump (how it is read) and one for a big input on the local multi-process
    runner."""
    from preprocessing.beam.metrics import read_summary
    from preprocessing.beam.options import create_pipeline, local_runner_caution, pipeline_options_from_args
    from preprocessing.beam.output_checks import OutputError, check_output, xml_bytes
    from preprocessing.sources.files import DumpFileError
    from preprocessing.sources.reading import plan_reading

    try:
        plan = plan_reading(list(config.dumps), config.streams_per_range) if config.dumps else None
        files = input_files(config, plan)
    except (DumpFileError, ValueError) as error:
        raise BuildError(str(error)) from error
    site = plan.site if plan is not None else None
    if config.num_shards is None:
        config = replace(config, num_shards=auto_num_shards(estimated_shard_bytes(config, files)))
    for line in plan.describe() if plan is not None else []:
        notify(line)
    entity_vocab = load_entity_vocab(config.entity_vocab) if config.entity_vocab else None
    tokenizer_files = pretrained_tokenizer_files(config.tokenizer) if config.tokenizer is not None else {}
    options = pipeline_options_from_args(list(beam_args))
    if caution := local_runner_caution(options, xml_bytes(files)):
        notify(caution)
    prepare_output(config.output, overwrite)
    vocab_entries = len(entity_vocab) if entity_vocab is not None else config.entity_vocab_size
    needed = estimated_corpus_bytes(config, files, vocab_entries) + sum(
        len(content) for content in tokenizer_files.values()
    )
    try:
        check_output(config.output, needed)
    except OutputError as error:
        raise BuildError(str(error)) from error
    if entity_vocab is not None:
        entity_vocab.save(FileSystems.join(config.output, ENTITY_VOCAB_FILE))
    if config.tokenizer is not None:
        tokenizer_source = {"source": "pretrained", "name_or_path": config.tokenizer}
        for name, content in tokenizer_files.items():
            write_bytes(FileSystems.join(config.output, TOKENIZER_DIR, name), content)
    else:
        training = create_pipeline(options)
        train_tokenizer_pipeline(training, config, site, plan)
        _run(training, config.output, "the tokenizer training job")
        with FileSystems.open(FileSystems.join(config.output, BUILD_DIR, TRAINING_FACTS_FILE)) as stream:
            tokenizer_source = {"source": "sentencepiece-unigram", **json.loads(stream.read().decode("utf-8"))}
    tokenizer = load_output_tokenizer(config.output)

    pipeline = create_pipeline(options)
    corpus_pipeline(pipeline, config, site, plan, tokenizer.backend_tokenizer.to_str())
    result = _run(pipeline, config.output, "the corpus job")

    report = read_report(config.output)
    check_train_split(report, config)
    tokenizer_info = {**tokenizer_source, **tokenizer_facts(tokenizer)}
    metadata = _metadata(config, site, files, tokenizer_info, report, read_summary(result))
    write_bytes(
        FileSystems.join(config.output, METADATA_FILE),
        (json.dumps(metadata, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
    )
    FileSystems.delete([FileSystems.join(config.output, BUILD_DIR)])
    return BuildResult(metadata)


def check_train_split(report: dict, config: CorpusBuildConfig) -> None:
    """Raise :class:`BuildError` when the job left the train split without a sequence, naming the page counts."""
    splits = report["splits"]
    if splits.get(TRAIN, {}).get("sequences", 0):
        return
    counters = report["counters"]
    raise BuildError(
        f"the train split would be empty: of {counters.get('articles', 0):,} article(s) read, "
        f"{splits.get(VALIDATION, {}).get('pages', 0):,} made sequences, all in validation "
        f"(--validation-fraction {config.validation_fraction}), and "
        f"{counters.get('articles_without_sequences', 0):,} made none; lower --validation-fraction or give more "
        f"pages. {config.output} holds no corpus (no {METADATA_FILE})"
    )


def _metadata(config: CorpusBuildConfig, site, files, tokenizer_info: dict, report: dict, beam_summary) -> dict:
    vocab = load_entity_vocab(FileSystems.join(config.output, ENTITY_VOCAB_FILE))
    splits = {}
    for split, num_shards in config.plan.splits.items():
        stats = report["splits"].get(split, {})
        splits[split] = {
            "shards": [shard_path(split, index, num_shards) for index in range(num_shards)],
            **{key: stats.get(key, 0) for key in ("sequences", "word_tokens", "mentions", "unk_mentions")},
        }
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "max_seq_length": config.packing.max_seq_length,
        "max_entity_length": config.packing.max_entity_length,
        "max_mention_length": config.packing.max_mention_length,
        "splits": splits,
        "language": corpus_language(config, site),
        "wiki": site.dbname if site is not None else None,
        "tokenizer": tokenizer_info,
        "entity_vocab": {"file": ENTITY_VOCAB_FILE, "entries": len(vocab), "checksum": vocab.checksum()},
        "input_files": [path for path, _ in files],
        "options": config.recorded_options(),
        "counters": report["counters"],
        "extraction_counters": beam_summary.to_dict() if beam_summary.metrics_supported else None,
        "created_by": f"luke-pipeline {__version__}",
        "versions": package_versions(),
    }
