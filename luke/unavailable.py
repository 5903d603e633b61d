"""Placeholders for sub-commands that are not built yet: they explain themselves and exit with status 2."""

from __future__ import annotations

import click


def _unavailable(name: str, summary: str) -> click.Command:
    @click.command(
        name,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        help=f"{summary}\n\nNOT AVAILABLE YET in this version of the pipeline.",
    )
    def command() -> None:
        click.echo(f"error: `luke {name}` is not available yet in this version of the pipeline.", err=True)
        raise SystemExit(2)

    return command


demo_command = _unavailable("demo", "Run the whole pipeline on the sample dump with a tiny model on CPU.")
