"""``luke build-corpus``: Wikipedia dumps → a corpus directory of tokenized Arrow shards (Beam passes)."""

from __future__ import annotations

from collections.abc import Sequence

import click

from preprocessing.commands.options import (
    BEAM_OPTIONS_HELP,
    dump_reading_options,
    entity_vocab_options,
    split_beam_args,
)
from preprocessing.defaults import DEFAULT_TOKENIZER_SAMPLE_PAGES, DEFAULT_TOKENIZER_VOCAB_SIZE


@click.command(
    "build-corpus",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    epilog=BEAM_OPTIONS_HELP,
)
@click.argument("dumps", nargs=-1)
@click.option("--output", required=True, help="Corpus directory to write (local path or any Beam filesystem).")
@click.option(
    "--documents",
    "documents",
    multiple=True,
    metavar="FILE.jsonl",
    help='Instead of DUMPS: your own annotated documents, one JSON object a line ({"id": ..., "text": ..., '
    '"entities": [{"start": 0, "end": 5, "entity": "Title"}]}; .gz/.bz2 and globs too; repeat the '
    "option for more files). Bad lines are counted by reason with their line numbers. The language of the "
    "sentence splitter is --language (default en).",
)
@click.option(
    "--tokenizer",
    "tokenizer",
    default=None,
    help="A Hugging Face fast tokenizer: a local directory (e.g. one saved from roberta-large for LUKE, "
    "xlm-roberta-large for mLUKE) or a hub name where the hub is reachable. Copied to DIR/tokenizer.",
)
@click.option(
    "--train-tokenizer",
    is_flag=True,
    help="Instead of --tokenizer: train a SentencePiece unigram tokenizer on a sample of the corpus inside the "
    "job and save it as DIR/tokenizer (a fast tokenizer laid out as transformers' MLukeTokenizer, so an exported "
    "mLUKE tokenizer gives the corpus's ids on any text).",
)
@click.option(
    "--vocab-size",
    type=click.IntRange(min=16),
    default=DEFAULT_TOKENIZER_VOCAB_SIZE,
    show_default=True,
    help="With --train-tokenizer: pieces in the tokenizer's vocabulary.",
)
@click.option(
    "--tokenizer-sample-pages",
    type=click.IntRange(min=1),
    default=DEFAULT_TOKENIZER_SAMPLE_PAGES,
    show_default=True,
    help="With --train-tokenizer: train on the text of this many articles (a deterministic sample by a hash "
    "of the page id; ~50 sentences an article).",
)
@click.option(
    "--character-coverage",
    type=click.FloatRange(0.9, 1.0),
    default=0.9995,
    show_default=True,
    help="With --train-tokenizer: share of characters the pieces must cover (SentencePiece's option; rarer "
    "characters become <unk>). 1.0 suits small alphabets, 0.9995 large ones such as Chinese or Japanese.",
)
@click.option(
    "--entity-vocab",
    default=None,
    help="Use this entity vocabulary (official LUKE jsonl, or tsv, or a Hugging Face LUKE model directory such as "
    "a downloaded studio-ousia/luke-large, whose entity ids are kept) instead of building one from the dumps.",
)
@entity_vocab_options
@click.option("--language", default=None, help="Language code for sentence splitting [default: the dump's].")
@click.option(
    "--max-seq-length",
    type=click.IntRange(min=3),
    default=512,
    show_default=True,
    help="Tokens per sequence including the 2 special tokens the trainer adds.",
)
@click.option(
    "--max-entity-length", type=click.IntRange(min=1), default=128, show_default=True, help="Mentions per sequence."
)
@click.option(
    "--max-mention-length",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Longer mentions (in tokens) are dropped and counted.",
)
@click.option(
    "--min-sentence-length",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Sentences with fewer tokens are dropped and counted.",
)
@click.option(
    "--include-sentences-without-entities",
    is_flag=True,
    help="Keep sequences without any mention (by default they are dropped and counted, as in LUKE).",
)
@click.option(
    "--include-unk-entities/--skip-unk-entities",
    default=False,
    show_default=True,
    help="Keep mentions of entities outside the vocabulary as [UNK] (id 1), or drop them (counted).",
)
@click.option(
    "--abstract-only",
    is_flag=True,
    help="Only the lead section of each article (its text before the first section heading).",
)
@click.option(
    "--max-pages",
    type=click.IntRange(min=1),
    default=None,
    help="Only the N articles with the smallest page ids (a quick, deterministic sample).",
)
@click.option(
    "--validation-fraction",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.001,
    show_default=True,
    help="Share of pages (by a hash of the page id) in the validation split; at least one page when > 0.",
)
@click.option(
    "--num-shards",
    type=click.IntRange(min=1),
    default=None,
    help="Shards of the train split, each a contiguous run of the input's work items (stream ranges, files), so "
    "at most one per work item: a dump file without its multistream index gives one. [default: one per 16 MiB of "
    "shards estimated from the input's size, 1 to 64: the sample gets 1, English Wikipedia 64]",
)
@click.option(
    "--num-validation-shards",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Shards of the validation split.",
)
@dump_reading_options
@click.option("--overwrite", is_flag=True, help="Replace a corpus (or an unfinished build) already in --output.")
@click.pass_context
def build_corpus_command(ctx: click.Context, dumps: Sequence[str], output: str, **options) -> None:
    """Turn Wikipedia dumps into a corpus directory of tokenized Arrow shards (Beam passes).

    DUMPS are MediaWiki XML dump files or globs (.xml, .xml.bz2, .xml.gz; split files, or a multistream
    file whose -index.txt.bz2 lies next to it); --documents reads your own annotated documents instead.
    The job's passes read titles and redirects, then parse each article once, build the entity vocabulary (unless
    --entity-vocab), train the tokenizer if asked, split sentences, tokenize, pack sequences and write
    DIR/{train,validation}/shard-*.arrow, DIR/entity_vocab.jsonl, DIR/tokenizer/ and, last, DIR/metadata.json.
    A summary table ends the run; if the job fails, one line says why and DIR/error.log holds the job's output
    and traceback (no metadata.json: the directory reads as an unfinished build).
    """
    from preprocessing.beam.failures import JobError
    from preprocessing.corpus.build import BuildError, CorpusBuildConfig, build_corpus
    from preprocessing.corpus.packing import PackingOptions

    beam_args, dumps = split_beam_args([*dumps, *ctx.args])
    if not dumps and not options["documents"]:
        raise click.UsageError("no DUMPS given (or --documents FILE.jsonl)")
    overwrite = options.pop("overwrite")
    packing_names = (
        "max_seq_length",
        "max_entity_length",
        "max_mention_length",
        "min_sentence_length",
        "include_sentences_without_entities",
        "include_unk_entities",
    )
    try:
        packing = PackingOptions(**{name: options.pop(name) for name in packing_names})
        options["tokenizer_vocab_size"] = options.pop("vocab_size")
        options["tokenizer_character_coverage"] = options.pop("character_coverage")
        options["documents"] = tuple(options["documents"])
        config = CorpusBuildConfig(dumps=tuple(dumps), output=output, packing=packing, **options)
        result = build_corpus(config, beam_args, overwrite=overwrite, notify=lambda line: click.echo(line, err=True))
    except (BuildError, JobError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(format_summary(result.metadata))


def format_summary(metadata: dict) -> str:
    """The end-of-run table: damaged dump files read with --allow-damaged-dumps (if any), per-split contents,
    then every counter of the job."""
    from preprocessing.beam.metrics import JobSummary, format_damaged_files

    extraction = metadata.get("extraction_counters") or {}
    damaged = JobSummary(failed_page_ids=extraction.get("failed_page_ids", {})).damaged_files()
    lines = format_damaged_files(damaged)
    lines += [f"{'split':<12}{'shards':>8}{'sequences':>12}{'word tokens':>14}{'mentions':>12}{'[UNK]':>10}"]
    for name, split in metadata["splits"].items():
        lines.append(
            f"{name:<12}{len(split['shards']):>8,}{split['sequences']:>12,}{split['word_tokens']:>14,}"
            f"{split['mentions']:>12,}{split['unk_mentions']:>10,}"
        )
    counters = dict(metadata["counters"])
    counters.update(extraction.get("counters", {}))
    width = max((len(name) for name in counters), default=10)
    lines.append("")
    lines.extend(f"{name:<{width}}  {value:>12,}" for name, value in sorted(counters.items()))
    tokenizer = metadata["tokenizer"]
    lines.append("")
    lines.append(
        f"tokenizer: {describe_tokenizer(tokenizer)} ({tokenizer['vocab_size']:,} tokens); entity vocabulary: "
        f"{metadata['entity_vocab']['entries']:,} entries, {metadata['entity_vocab']['checksum']}"
    )
    lines.extend(f"note: {note}" for note in corpus_notes(metadata))
    return "\n".join(lines)


def describe_tokenizer(tokenizer: dict) -> str:
    """What made the corpus's tokenizer, from its ``metadata.json`` facts: the SentencePiece model trained in the
    job, or the pretrained one's name (the class transformers loads a trained one as, ``TokenizersBackend``, says
    nothing to a reader)."""
    if tokenizer.get("source") == "pretrained":
        return f"{tokenizer['name_or_path']} ({tokenizer['class']})"
    return "SentencePiece unigram trained on the input"


def corpus_notes(metadata: dict) -> list[str]:
    """What a user should know before training on the corpus: an empty validation split, a trained tokenizer
    smaller than requested."""
    notes = []
    validation = metadata["splits"].get("validation")
    if validation is not None and not validation["sequences"]:
        notes.append(
            "the validation split is empty: fewer than two pages have a linked mention, and training comes first "
            "(luke train skips validation)"
        )
    tokenizer = metadata["tokenizer"]
    requested, reached = tokenizer.get("requested_vocab_size"), tokenizer.get("reached_vocab_size")
    if requested and reached and reached < requested:
        notes.append(
            f"the tokenizer's vocabulary reached {reached:,} of the {requested:,} pieces asked for (--vocab-size): "
            "the text holds no more distinct pieces"
        )
    return notes
