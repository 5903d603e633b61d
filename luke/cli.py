"""The ``luke`` command line: one group, each sub-command imported only when it runs.

Heavy libraries (torch, Beam, DeepSpeed) load only inside the command that needs them, so ``luke --help``
stays instant.
"""

from __future__ import annotations

import importlib

import click

from luke import progress, quiet

# sub-command → "module:attribute" of its click command.
COMMANDS: dict[str, str] = {
    "sample-dump": "preprocessing.sources.sample:sample_dump_command",
    "build-entity-vocab": "preprocessing.commands.build_entity_vocab:build_entity_vocab_command",
    "build-corpus": "preprocessing.commands.build_corpus:build_corpus_command",
    "train": "pretraining.train:train_command",
    "export": "pretraining.export.command:export_command",
    "inspect": "luke.inspection.command:inspect_command",
    "demo": "luke.demo:demo_command",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module_name), attribute)


def _print_versions(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from luke.versions import format_versions, package_versions

    click.echo(format_versions(package_versions()))
    ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_versions,
    help="Print the versions of Python, luke-pipeline and the libraries it runs on (quote them in a bug report).",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Show everything the libraries write (Beam, DeepSpeed, torch); by default known noise is hidden.",
)
def main(verbose: bool) -> None:
    """Pretrain LUKE entity-aware language models from Wikipedia dumps.

    \b
    Pipeline: sample-dump → build-corpus → train (stage 1, stage 2) → export;
    inspect looks inside a corpus or runs.
    `luke demo` runs all of it on a small real dump with a tiny model on CPU.
    """
    progress.remember_terminal()
    quiet.set_verbose(verbose)
    quiet.filter_known_log_records()


if __name__ == "__main__":
    main()
