"""``luke inspect corpus`` and ``luke inspect run``: compute, render, write the HTML report, print a summary."""

from __future__ import annotations

import time
from pathlib import Path

import click

from luke.inspection.corpus_report import DEFAULT_DECODED_ROWS, DEFAULT_SAMPLE_ROWS

CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group("inspect", context_settings=CONTEXT)
def inspect_command() -> None:
    """Look inside a corpus directory or training runs: a self-contained HTML report (plots embedded, opens
    offline) and a short terminal summary."""


def _output_option(default: str):
    return click.option(
        "--output",
        "-o",
        type=click.Path(path_type=Path),
        default=Path(default),
        show_default=True,
        help="The HTML report to write (replaced if it exists): one file, images embedded, no network needed.",
    )


@inspect_command.command("corpus", context_settings=CONTEXT)
@click.argument("corpus_dir", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@_output_option("corpus-report.html")
@click.option(
    "--rows",
    type=click.IntRange(min=0),
    default=DEFAULT_DECODED_ROWS,
    show_default=True,
    help="Random rows to decode with the corpus's tokenizer, mentions highlighted with their entity titles.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the random choice of decoded and sampled rows (the same seed gives the same report).",
)
@click.option(
    "--sample-rows",
    type=click.IntRange(min=0),
    default=DEFAULT_SAMPLE_ROWS,
    show_default=True,
    help="Rows per split whose values are read for mention lengths, [UNK] shares, entity occurrences and the "
    "span / id checks; 0 reads every row. Counts, sequence lengths, mentions per sequence and length limits "
    "always cover every row (from the Arrow list offsets).",
)
def inspect_corpus_command(corpus_dir: Path, output: Path, rows: int, seed: int, sample_rows: int) -> None:
    """Report on the corpus directory DIR (made by `luke build-corpus`): per-split counts, distributions,
    top entities, decoded rows with their mentions, checks that flag a broken corpus, and the build options.

    Shards are read memory-mapped: seconds on a 20M-row corpus. The exit status is 0 even when checks fail;
    the summary and the report list them.
    """
    from luke.inspection.corpus_page import corpus_page
    from luke.inspection.corpus_report import build_corpus_report
    from luke.inspection.page import OutputError, write_report
    from luke.inspection.terminal import corpus_summary
    from preprocessing.corpus import CorpusError

    started = time.perf_counter()
    _check_writable(output)
    try:
        report = build_corpus_report(corpus_dir, rows=rows, seed=seed, sample_rows_per_split=sample_rows)
    except CorpusError as error:
        raise click.ClickException(str(error)) from error
    try:
        write_report(output, corpus_page(report))
    except OutputError as error:
        raise click.ClickException(str(error)) from error
    click.echo(corpus_summary(report))
    click.echo(f"wrote {output} in {time.perf_counter() - started:.1f} s")


@inspect_command.command("run", context_settings=CONTEXT)
@click.argument("run_dirs", metavar="RUN_DIR...", nargs=-1, required=True, type=click.Path(path_type=Path))
@_output_option("run-report.html")
def inspect_run_command(run_dirs: tuple[Path, ...], output: Path) -> None:
    """Report on one or more training run directories (made by `luke train`): loss, MLM/MEP loss and accuracy
    (train and validation), learning rate, tokens/s and samples/s over steps, one line per run on the same
    axes, with resumes and configuration changes marked; configs, corpus checksums and package versions side
    by side; and a terminal table of the latest values.
    """
    from luke.inspection.page import OutputError, write_report
    from luke.inspection.run_page import run_page
    from luke.inspection.run_report import RunError, read_run
    from luke.inspection.terminal import runs_summary

    _check_writable(output)
    try:
        runs = [read_run(run_dir) for run_dir in run_dirs]
    except RunError as error:
        raise click.ClickException(str(error)) from error
    try:
        write_report(output, run_page(runs))
    except OutputError as error:
        raise click.ClickException(str(error)) from error
    click.echo(runs_summary(runs))
    click.echo(f"wrote {output}")


def _check_writable(output: Path) -> None:
    """Fail before the work, not after it, when the report cannot be written where asked."""
    import os

    directory = output.parent
    if output.is_dir():
        raise click.ClickException(f"cannot write the report to {output}: it is a directory")
    if not directory.is_dir():
        raise click.ClickException(f"cannot write the report to {output}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise click.ClickException(f"cannot write the report to {output}: permission denied")
