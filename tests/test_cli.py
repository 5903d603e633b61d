import platform
import subprocess
import sys
from importlib.metadata import version

from click.testing import CliRunner

from luke.cli import COMMANDS, main


def test_every_subcommand_has_help():
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0
    for name in COMMANDS:
        assert name in top.output
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage: " in result.output and name in result.output


def test_both_beam_commands_name_the_same_dump_files():
    runner = CliRunner()
    for name in ("build-corpus", "build-entity-vocab"):
        text = " ".join(runner.invoke(main, [name, "--help"]).output.split())
        assert (
            "DUMPS are MediaWiki XML dump files or globs (.xml, .xml.bz2, .xml.gz; split files, or a multistream "
            "file whose -index.txt.bz2 lies next to it)" in text
        ), name


def test_version_names_the_libraries_a_bug_report_needs():
    result = subprocess.run([sys.executable, "-m", "luke.cli", "--version"], capture_output=True, text=True, check=True)
    lines = dict(line.split(maxsplit=1) for line in result.stdout.splitlines())
    for package in ("luke-pipeline", "apache-beam", "torch", "deepspeed", "transformers", "tokenizers"):
        assert lines[package] == version(package), package
    assert lines["python"] == platform.python_version()


def test_console_script_prints_sample_dump_path(enwiki_dump):
    result = subprocess.run(
        [sys.executable, "-m", "luke.cli", "sample-dump"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(enwiki_dump)
