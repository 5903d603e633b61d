"""``build_corpus``: the preprocessing as passes over the input, none of which shuffles text, and the driver
steps around them.

1. The title and table passes (dumps only, ``entities.title_job``): titles and redirects → each unit's run →
   the title table files, merged per part.
2. (``--train-tokenizer``) the tokenizer pass: a bounded sample of pages → ``tokenizer/``.
3. The article pass (``corpus.tokenizing``): each unit's articles parsed once (wikiextractor, the dominant
   cost), links looked up in the table, split into sentences and tokenized, written to the unit's article
   files; its link counts per entity title written as the unit's run.
4. (no ``--entity-vocab``) the vocabulary pass (``entities.vocab_building``): the runs summed per part → the
   top-K entity vocabulary.
5. The packing pass (``corpus.shard_packing``): each shard packs the article files of its run of units with
   the vocabulary's ids and writes itself.

Units and parts exchange their rows through files (``part_runs``): what crosses a shuffle is counts, a few
per unit or part. Every pass carries its counts as data; the driver checks them against each other
(``ledger``) before it writes ``metadata.json``.

Driver steps: check the output directory (refuse one holding a different corpus unless ``overwrite``, one
that is not writable or, on a local disk, lacks room for an estimate of the corpus), load a given entity
vocabulary or tokenizer *before* any work (clear errors), run the job with a live progress line (a failure
becomes one line, its traceback goes to ``error.log`` in the output directory), then write ``metadata.json``
last and remove the job's scratch directory.
"""

from __future__ import annotations

import json
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
)
from preprocessing.corpus.outputs import BUILD_DIR, TrainCorpusTokenizer
from preprocessing.corpus.packing import PackingOptions
from preprocessing.corpus.shard_packing import PackShards, ShardTask
from preprocessing.corpus.splits import TRAIN, VALIDATION, Candidate, SplitPlan, moved_to_validation
from preprocessing.defaults import (
    DEFAULT_MAX_PAGE_BYTES,
    DEFAULT_MAX_REDIRECT_HOPS,
    DEFAULT_STREAMS_PER_RANGE,
    DEFAULT_TOKENIZER_SAMPLE_PAGES,
    DEFAULT_TOKENIZER_VOCAB_SIZE,
    DEFAULT_VOCAB_SIZE,
)
from preprocessing.entities.articles import ArticleSource, ExtractionOptions, ReadingOptions
from preprocessing.entities.vocab_building import LinkCountRuns, VocabularyTarget, build_entity_vocab
from preprocessing.ledger import (
    LedgerError,
    check_ledger,
    corpus_balances,
    dump_article_balances,
    prefixed,
    title_balances,
    vocabulary_balances,
)
from preprocessing.part_runs import parts_for_input
from preprocessing.records import Article, WikiPage
from preprocessing.sources.reading import SourceUnit
from preprocessing.tokenization.tokenizer import (
    TrainedTokenizer,
    load_fast_tokenizer,
    save_tokenizer_files,
)

if TYPE_CHECKING:
    from preprocessing.sources.reading import ReadingPlan

PROGRESS_DIR = "progress"
TRAINING_FACTS_FILE = "tokenizer_training.json"
ARTICLE_REPORT = "article_pass.json"  # the article pass's counts, in the scratch directory
PACKING_REPORT = "packing_pass.json"
CANDIDATES_FILE = "validation_candidates.json"
TOKENIZER_FILE = "tokenizer.json"  # what the article and packing passes tokenize with, in the scratch directory
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
    def reading(self) -> ReadingOptions:
        return ReadingOptions(self.max_pages, self.abstract_only, self.max_page_bytes, self.allow_damaged_dumps)

    @property
    def extraction(self) -> ExtractionOptions:
        return ExtractionOptions(self.keep_missing_targets, self.max_redirect_hops, self.keep_section_links)

    @property
    def plan(self) -> SplitPlan:
        return SplitPlan(self.validation_fraction, self.num_shards, self.num_validation_shards)

    def recorded_options(self) -> dict:
        options = asdict(self)
        options.pop("output")
        options["dumps"] = list(self.dumps)
        options["documents"] = list(self.documents)
        return options


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


def _read_pages(pipeline: beam.Pipeline, plan: ReadingPlan, config: CorpusBuildConfig, max_page_id: int | None):
    from preprocessing.sources.reading import ReadDumpPages

    pages = pipeline | "ReadDumpPages" >> ReadDumpPages(plan, config.max_page_bytes, config.allow_damaged_dumps)
    if max_page_id is not None:
        pages = pages | "MaxPages" >> beam.Filter(_within_max_pages, max_page_id)
    if config.abstract_only:
        pages = pages | "LeadSectionsOnly" >> beam.Map(_lead_section)
    return pages


def _within_max_pages(page: WikiPage, max_page_id: int) -> bool:
    return page.namespace != 0 or page.redirect is not None or page.page_id <= max_page_id


def _lead_section(page: WikiPage) -> WikiPage:
    from preprocessing.entities.articles import lead_section, page_kind

    return lead_section(page) if page_kind(page) == "articles" else page


def _read_documents(pipeline: beam.Pipeline, config: CorpusBuildConfig) -> beam.PCollection[Article]:
    from preprocessing.sources.documents import ReadDocuments

    return pipeline | "ReadDocuments" >> ReadDocuments(list(config.documents))


def corpus_language(config: CorpusBuildConfig, site) -> str:
    """``--language``, else the dump's, else (documents) :data:`DOCUMENTS_LANGUAGE`."""
    return config.language or (site.language if site is not None else DOCUMENTS_LANGUAGE)


def train_tokenizer_pipeline(
    pipeline: beam.Pipeline, config: CorpusBuildConfig, site, plan: ReadingPlan | None, max_page_id: int | None = None
) -> None:
    """The tokenizer pass of ``--train-tokenizer``: sample the input, train, write ``tokenizer/`` and the facts."""
    if config.documents:
        records = _read_documents(pipeline, config)
    else:
        records = _read_pages(pipeline, plan, config, max_page_id)
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


def article_pass(
    pipeline: beam.Pipeline,
    config: CorpusBuildConfig,
    units: list[SourceUnit],
    source: ArticleSource,
    language: str,
    tokenizer_file: str,
    link_counts: LinkCountRuns | None,
) -> None:
    """The article pass: units → article files, the link counts (``link_counts``, when the vocabulary is built),
    the candidates to move to validation (:data:`CANDIDATES_FILE`) and the counts (:data:`ARTICLE_REPORT`), all in
    the scratch directory."""
    from preprocessing.beam.reports import WriteCounts, no_counts
    from preprocessing.corpus.tokenizing import TokenizeUnits

    build_dir = FileSystems.join(config.output, BUILD_DIR)
    progress_dir = FileSystems.join(build_dir, PROGRESS_DIR, "article")
    made = (
        pipeline
        | "Units" >> beam.Create(units, reshuffle=True).with_output_types(SourceUnit)
        | "TokenizeUnits"
        >> TokenizeUnits(source, language, tokenizer_file, build_dir, config.plan, link_counts, progress_dir)
    )
    candidates = (
        made["candidates"]
        | "SmallestSplitHashes" >> Smallest(2)
        | "WriteCandidates" >> beam.Map(_write_json, FileSystems.join(build_dir, CANDIDATES_FILE))
    )
    _ = (
        (made["reports"], candidates | "CandidatesWritten" >> beam.Map(no_counts))
        | "AllCounts" >> beam.Flatten()
        | "WriteCounts" >> WriteCounts(FileSystems.join(build_dir, ARTICLE_REPORT))
    )


def _write_json(value: object, path: str) -> str:
    write_bytes(path, json.dumps(value).encode("utf-8"))
    return path


def shard_tasks(plan: SplitPlan, units: int, moved: Candidate | None) -> list[ShardTask]:
    """The packing pass's work: every shard of every split, with the page moved to validation (if any)."""
    tasks = []
    for split, runs in plan.shard_units(units).items():
        for index, run in enumerate(runs):
            holds_moved = moved is not None and moved[2] in run
            tasks.append(
                ShardTask(
                    split,
                    index,
                    len(runs),
                    tuple(run),
                    skip_page=moved[1] if holds_moved and split == TRAIN else None,
                    moved_in=(moved[2], moved[1]) if holds_moved and split == VALIDATION else None,
                )
            )
    return tasks


def packing_pass(
    pipeline: beam.Pipeline, config: CorpusBuildConfig, tasks: list[ShardTask], tokenizer_file: str
) -> None:
    """The packing pass: every shard of ``tasks`` written, the counts in :data:`PACKING_REPORT`."""
    from preprocessing.beam.reports import WriteCounts

    build_dir = FileSystems.join(config.output, BUILD_DIR)
    vocab_path = FileSystems.join(config.output, ENTITY_VOCAB_FILE)
    progress_dir = FileSystems.join(build_dir, PROGRESS_DIR, "packing")
    _ = (
        pipeline
        | "Shards" >> beam.Create(tasks, reshuffle=True).with_output_types(ShardTask)
        | "PackShards" >> PackShards(config.output, build_dir, vocab_path, config.packing, tokenizer_file, progress_dir)
        | "WriteCounts" >> WriteCounts(FileSystems.join(build_dir, PACKING_REPORT))
    )


@dataclass(frozen=True)
class BuildResult:
    metadata: dict


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
    gets a line for each multistream dump (how it is read)."""
    from preprocessing.beam.metrics import read_summary
    from preprocessing.beam.options import pipeline_options_from_args
    from preprocessing.beam.output_checks import OutputError, check_output, xml_bytes
    from preprocessing.beam.passes import PassRunner
    from preprocessing.beam.reports import read_counts
    from preprocessing.entities.articles import DumpArticles
    from preprocessing.entities.title_job import build_title_table
    from preprocessing.sources.documents import DocumentArticles
    from preprocessing.sources.files import DumpFileError
    from preprocessing.sources.reading import plan_reading

    try:
        options = pipeline_options_from_args(list(beam_args))
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
    passes = PassRunner(
        options, FileSystems.join(config.output, BUILD_DIR, PROGRESS_DIR), FileSystems.join(config.output, ERROR_LOG)
    )
    build_dir = FileSystems.join(config.output, BUILD_DIR)
    units = plan.units if plan is not None else document_units(config)
    counts: dict[str, int] = {}
    if plan is not None:
        table = build_title_table(units, config.reading, build_dir, xml_bytes(files), passes)
        counts.update(prefixed("titles", table.counts))
        source = DumpArticles(site, table.directory, table.parts, config.extraction, config.reading, table.max_page_id)
    else:
        table, source = None, DocumentArticles()
    if config.tokenizer is not None:
        tokenizer_source = {"source": "pretrained", "name_or_path": config.tokenizer}
        for name, content in tokenizer_files.items():
            write_bytes(FileSystems.join(config.output, TOKENIZER_DIR, name), content)
    else:
        max_page_id = table.max_page_id if table is not None else None
        passes.run(
            lambda pipeline: train_tokenizer_pipeline(pipeline, config, site, plan, max_page_id),
            "tokenizer",
            ("articles",),
        )
        with FileSystems.open(FileSystems.join(build_dir, TRAINING_FACTS_FILE)) as stream:
            tokenizer_source = {"source": "sentencepiece-unigram", **json.loads(stream.read().decode("utf-8"))}
    tokenizer = load_output_tokenizer(config.output)

    language = corpus_language(config, site)
    tokenizer_file = FileSystems.join(build_dir, TOKENIZER_FILE)  # the ids of the output's tokenizer/, exactly
    write_bytes(tokenizer_file, tokenizer.backend_tokenizer.to_str().encode("utf-8"))
    parts = table.parts if table is not None else parts_for_input(xml_bytes(files))
    link_counts = LinkCountRuns.in_build_dir(build_dir, parts) if entity_vocab is None else None
    passes.run(
        lambda pipeline: article_pass(pipeline, config, units, source, language, tokenizer_file, link_counts),
        "article",
        ("articles", "sentences"),
    )
    counts.update(prefixed("articles", read_counts(FileSystems.join(build_dir, ARTICLE_REPORT))))
    if link_counts is not None:
        vocabulary = build_entity_vocab(
            passes,
            link_counts,
            [unit.index for unit in units],
            build_dir,
            VocabularyTarget(
                FileSystems.join(config.output, ENTITY_VOCAB_FILE),
                config.entity_vocab_size,
                config.min_entity_count,
                language,
            ),
        )
        counts.update(prefixed("vocabulary", vocabulary))
    tasks = shard_tasks(config.plan, len(units), _moved_page(build_dir, config.plan))
    passes.run(
        lambda pipeline: packing_pass(pipeline, config, tasks, tokenizer_file), "packing", ("articles", "sequences")
    )
    counts.update(prefixed("packing", read_counts(FileSystems.join(build_dir, PACKING_REPORT))))

    ledger = check_corpus_ledger(config, counts)
    report = corpus_report(counts, config.plan)
    check_train_split(report, config)
    tokenizer_info = {**tokenizer_source, **tokenizer_facts(tokenizer)}
    summary = read_summary(passes.results["article"])
    metadata = _metadata(config, site, files, tokenizer_info, report, tasks, ledger, summary)
    write_bytes(
        FileSystems.join(config.output, METADATA_FILE),
        (json.dumps(metadata, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
    )
    FileSystems.delete([build_dir])
    return BuildResult(metadata)


def document_units(config: CorpusBuildConfig) -> list[SourceUnit]:
    """One unit per documents file."""
    from preprocessing.sources.documents import expand_document_patterns

    return [SourceUnit(index, path) for index, (path, _) in enumerate(expand_document_patterns(config.documents))]


def _moved_page(build_dir: str, plan: SplitPlan) -> Candidate | None:
    with FileSystems.open(FileSystems.join(build_dir, CANDIDATES_FILE)) as stream:
        smallest = [tuple(candidate) for candidate in json.loads(stream.read().decode("utf-8"))]
    return moved_to_validation(smallest, plan)


def check_corpus_ledger(config: CorpusBuildConfig, counts: dict[str, int]) -> dict:
    """The ledger of the build (``ledger``), or ``JobError`` naming the stage whose counts do not balance."""
    from preprocessing.beam.failures import JobError

    balances = []
    if config.dumps:
        balances += title_balances() + dump_article_balances()
    if config.entity_vocab is None:
        balances += vocabulary_balances()
    balances += corpus_balances(list(config.plan.splits))
    try:
        checked = check_ledger(balances, counts)
    except LedgerError as error:
        raise JobError(f"{error}; {config.output} holds no corpus (no {METADATA_FILE})") from error
    return {"balances": checked, "counts": dict(sorted(counts.items()))}


def corpus_report(counts: dict[str, int], plan: SplitPlan) -> dict:
    """Per-split statistics and the counters of the article, vocabulary and packing passes (unprefixed)."""
    splits: dict[str, dict[str, int]] = {split: {} for split in plan.splits}
    counters: dict[str, int] = {}
    for name, value in counts.items():
        stage, _, counter_name = name.partition("/")
        if stage == "packing" and counter_name.startswith("split."):
            split, _, stat = counter_name.removeprefix("split.").partition(".")
            splits.setdefault(split, {})[stat] = value
        elif stage in ("articles", "vocabulary", "packing"):
            counters[counter_name] = value
    counters["articles"] = counters.get("articles.parsed", 0) or counters.get("articles.packed", 0)
    return {"splits": splits, "counters": dict(sorted(counters.items()))}


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


def _metadata(
    config: CorpusBuildConfig, site, files, tokenizer_info: dict, report: dict, tasks, ledger: dict, beam_summary
) -> dict:
    from preprocessing.entities.vocab import EntityVocab

    entries, checksum = EntityVocab.file_summary(FileSystems.join(config.output, ENTITY_VOCAB_FILE))
    splits = {}
    for split in config.plan.splits:
        stats = report["splits"].get(split, {})
        splits[split] = {
            "shards": [task.path for task in tasks if task.split == split],
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
        "entity_vocab": {"file": ENTITY_VOCAB_FILE, "entries": entries, "checksum": checksum},
        "input_files": [path for path, _ in files],
        "options": config.recorded_options(),
        "counters": report["counters"],
        "ledger": ledger,
        "extraction_counters": beam_summary.to_dict() if beam_summary.metrics_supported else None,
        "created_by": f"luke-pipeline {__version__}",
        "versions": package_versions(),
    }
