import subprocess
import sys

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


def test_console_script_prints_sample_dump_path(enwiki_dump):
    result = subprocess.run(
        [sys.executable, "-m", "luke.cli", "sample-dump"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(enwiki_dump)
