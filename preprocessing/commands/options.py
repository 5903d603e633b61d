"""Command-line pieces that ``luke build-entity-vocab`` and ``luke build-corpus`` share: how the dumps are read,
how the entity vocabulary is built, and the pass-through of Beam pipeline options."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import click

from preprocessing.defaults import (
    DEFAULT_MAX_PAGE_BYTES,
    DEFAULT_MAX_REDIRECT_HOPS,
    DEFAULT_STREAMS_PER_RANGE,
    DEFAULT_VOCAB_SIZE,
)

Command = TypeVar("Command", bound=Callable)

BEAM_OPTIONS_HELP = (
    "Any further --name=value is a Beam pipeline option, passed through (e.g. --runner=DataflowRunner "
    "--project=... --region=..., or --direct_num_workers=4). Without --runner the job runs on the "
    "DirectRunner with one worker process per core."
)


def _options(*decorators: Callable[[Command], Command]) -> Callable[[Command], Command]:
    """One decorator applying ``decorators`` so that ``--help`` lists them in the order given."""

    def apply(command: Command) -> Command:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


dump_reading_options = _options(
    click.option(
        "--max-page-bytes",
        type=click.IntRange(min=1024),
        default=DEFAULT_MAX_PAGE_BYTES,
        show_default=True,
        help="Pages with more XML than this are skipped (counted as pages_failed.page_too_large).",
    ),
    click.option(
        "--streams-per-range",
        type=click.IntRange(min=1),
        default=DEFAULT_STREAMS_PER_RANGE,
        show_default=True,
        help="Multistream dumps: bz2 streams (100 pages each) per parallel work item.",
    ),
    click.option(
        "--allow-damaged-dumps",
        is_flag=True,
        help="Read a damaged dump file (compressed data truncated or corrupt, XML ending early) up to the damage "
        "and go on, listing it first in the summary. By default the job fails, naming the file and where reading "
        "stopped. Bad pages in an intact file never stop the job (they are counted).",
    ),
)

entity_vocab_options = _options(
    click.option(
        "--entity-vocab-size",
        type=click.IntRange(min=3),
        default=DEFAULT_VOCAB_SIZE,
        show_default=True,
        help="Entries of the built entity vocabulary, [PAD] [UNK] [MASK] included (LUKE-large: 500,000).",
    ),
    click.option(
        "--min-entity-count",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Leave entities linked fewer times than this out of the built vocabulary.",
    ),
    click.option(
        "--keep-missing-targets",
        is_flag=True,
        help="Keep links whose target page is not in the dump (for slices of a wiki, like the sample dumps). "
        "By default such red links are dropped (and counted).",
    ),
    click.option(
        "--keep-section-links",
        is_flag=True,
        help="Keep links to a section of the page itself ([[#History|below]]) as mentions of the page. "
        "By default they are dropped (and counted), as LUKE did: they name no other entity.",
    ),
    click.option(
        "--max-redirect-hops",
        type=click.IntRange(min=1),
        default=DEFAULT_MAX_REDIRECT_HOPS,
        show_default=True,
        help="Follow redirect chains this far; longer chains are dropped and counted.",
    ),
)


def split_beam_args(arguments: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate pass-through Beam options (``--name=value``) from positional arguments.

    click hands unknown options over as positional arguments, so they are told apart by their ``--``.
    """
    beam_args = [argument for argument in arguments if argument.startswith("--")]
    positional = [argument for argument in arguments if not argument.startswith("--")]
    return beam_args, positional
