"""``luke build-entity-vocab``: count hyperlinks in Wikipedia dumps and write the top-K entity vocabulary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import click

from preprocessing.commands.options import (
    BEAM_OPTIONS_HELP,
    dump_reading_options,
    entity_vocab_options,
    split_beam_args,
)

ERROR_LOG_SUFFIX = ".error.log"  # the job's output and traceback, next to --output, when the job fails
SCRATCH_SUFFIX = ".build"  # the title table and the workers' progress, next to --output, while the job runs


@click.command(
    "build-entity-vocab",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    epilog=BEAM_OPTIONS_HELP,
)
@click.argument("dumps", nargs=-1, required=True)
@click.option(
    "--output",
    required=True,
    help="Vocabulary file to write: official LUKE jsonl (one entity a line), or tsv if it ends in .tsv. "
    "Local path or any Beam filesystem (gs://, s3://).",
)
@entity_vocab_options
@dump_reading_options
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace --output if it is an existing file (it stays until the new vocabulary is complete). Without "
    "it an existing file is refused before any work; a directory is always refused.",
)
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the job's counters (pages, links kept/dropped by reason, entities) to this JSON file.",
)
@click.pass_context
def build_entity_vocab_command(
    ctx: click.Context,
    dumps: Sequence[str],
    output: str,
    entity_vocab_size: int,
    min_entity_count: int,
    keep_missing_targets: bool,
    keep_section_links: bool,
    max_redirect_hops: int,
    max_page_bytes: int,
    streams_per_range: int,
    allow_damaged_dumps: bool,
    overwrite: bool,
    summary_json: Path | None,
) -> None:
    """Count hyperlinks in Wikipedia dumps and write the top-K entity vocabulary.

    DUMPS are MediaWiki XML dump files or globs (.xml, .xml.bz2, .xml.gz; split files, or a multistream
    file whose -index.txt.bz2 lies next to it). Links are resolved through the dump's redirects; the
    vocabulary lists [PAD], [UNK], [MASK], then entities by link count (ties by title).

    --output is checked first: not a directory, not an existing file unless --overwrite, its directory
    writable with room for the vocabulary. If the job fails, one line says why and OUTPUT.error.log holds the
    job's output and traceback.
    """
    from apache_beam.io.filesystems import FileSystems

    from preprocessing.beam.failures import JobError
    from preprocessing.beam.metrics import read_summary
    from preprocessing.beam.options import pipeline_options_from_args
    from preprocessing.beam.output_checks import check_output, check_output_file, parent_directory, xml_bytes
    from preprocessing.beam.passes import PassRunner
    from preprocessing.entities.articles import ExtractionOptions, ReadingOptions
    from preprocessing.entities.vocab import EntityVocab, estimated_file_bytes
    from preprocessing.entities.vocab_job import EntityVocabJob
    from preprocessing.ledger import unprefixed
    from preprocessing.sources.files import DumpFileError
    from preprocessing.sources.reading import plan_reading

    beam_args, dumps = split_beam_args([*dumps, *ctx.args])
    if not dumps:
        raise click.UsageError("no DUMPS given")
    try:
        check_output_file(output, overwrite)
        options = pipeline_options_from_args(beam_args)
        plan = plan_reading(dumps, streams_per_range)
        xml = xml_bytes((file.path, file.size) for file in plan.files)
        check_output(
            parent_directory(output), estimated_file_bytes(entity_vocab_size, xml), "the directory of --output"
        )
    except (DumpFileError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"building the entity vocabulary of {len(dumps)} dump pattern(s) ({plan.site.dbname or plan.site.language})",
        err=True,
    )
    for line in plan.describe():
        click.echo(line, err=True)
    build_dir = output + SCRATCH_SUFFIX
    passes = PassRunner(
        options, FileSystems.join(build_dir, "progress"), output + ERROR_LOG_SUFFIX, "build-entity-vocab"
    )
    reading = ReadingOptions(max_page_bytes=max_page_bytes, allow_damaged=allow_damaged_dumps)
    extraction = ExtractionOptions(keep_missing_targets, max_redirect_hops, keep_section_links)
    vocab_job = EntityVocabJob(plan, reading, extraction, entity_vocab_size, min_entity_count, output, build_dir)
    try:
        ledger = vocab_job.run(passes, xml)
    except JobError as error:
        raise click.ClickException(str(error)) from error
    finally:
        if FileSystems.exists(build_dir):
            FileSystems.delete([build_dir])
    # the article pass's counts come from its report, which every runner writes (the DaskRunner has no metrics)
    summary = replace(
        read_summary(passes.results["article"]),
        counters=unprefixed("articles", ledger["counts"]),
        metrics_supported=True,
    )
    try:
        entries, checksum = EntityVocab.file_summary(output)
    except (OSError, ValueError) as error:
        raise click.ClickException(f"the job finished but its output is unreadable: {output}: {error}") from error
    click.echo(summary.format_table())
    click.echo(f"wrote {entries:,} entries ({entries - 3:,} entities) to {output}, {checksum}")
    if summary_json is not None:
        payload = {
            "output": output,
            "entries": entries,
            "checksum": checksum,
            **summary.to_dict(),
            "ledger": ledger,
        }
        summary_json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
