"""What each command does with an --output that already exists: no command deletes what it did not create.

build-entity-vocab refuses a directory always and an existing file unless --overwrite; build-corpus refuses a
directory holding a corpus unless --overwrite; export refuses a non-empty directory unless --overwrite, and a file.
A refusal is one line naming the option, before any work, and leaves the output as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from training_runs import run_ok, single_process, tiny_overrides

from luke.cli import main
from preprocessing.beam.atomic import write_bytes
from preprocessing.entities.vocab import EntityVocab

IN_PROCESS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def luke(*arguments: str):
    return CliRunner().invoke(main, list(arguments))


def error_lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("Error:")]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` (and ``root`` itself) with its bytes, None for a directory."""
    paths = [root, *root.rglob("*")]
    return {str(path.relative_to(root)): None if path.is_dir() else path.read_bytes() for path in paths}


def corpus_like_directory(path: Path) -> Path:
    """A directory holding files and a subdirectory, as a finished corpus does."""
    (path / "train").mkdir(parents=True)
    (path / "metadata.json").write_text('{"splits": {}}\n')
    (path / "train" / "shard-00000.arrow").write_bytes(b"rows")
    return path


@pytest.mark.parametrize("empty", [True, False], ids=["empty", "with-files"])
def test_an_atomic_write_never_replaces_a_directory(tmp_path: Path, empty: bool):
    target = tmp_path / "entity_vocab.jsonl"
    target.mkdir()
    if not empty:
        corpus_like_directory(target)
    before = snapshot(tmp_path)
    with pytest.raises(IsADirectoryError, match=f"{target} is a directory"):
        write_bytes(str(target), b"a file")
    assert snapshot(tmp_path) == before  # no temporary file left either


def test_build_entity_vocab_refuses_a_directory_and_leaves_it_intact(enwiki_dump: Path, tmp_path: Path):
    corpus = corpus_like_directory(tmp_path / "corpus")
    before = snapshot(tmp_path)
    for overwrite in ([], ["--overwrite"]):
        result = luke("build-entity-vocab", str(enwiki_dump), "--output", str(corpus), *overwrite, *IN_PROCESS)
        assert result.exit_code == 1, result.output
        assert error_lines(result) == [
            f"Error: --output {corpus} is a directory; name a file to write (a directory is never replaced)"
        ]
        assert snapshot(tmp_path) == before  # nothing deleted, no error log or progress directory next to it


def test_build_entity_vocab_refuses_an_existing_file_without_overwrite(enwiki_dump: Path, tmp_path: Path):
    vocab = tmp_path / "entity_vocab.jsonl"
    vocab.write_text("an earlier vocabulary\n")
    result = luke("build-entity-vocab", str(enwiki_dump), "--output", str(vocab), *IN_PROCESS)
    assert result.exit_code == 1, result.output
    assert error_lines(result) == [f"Error: --output {vocab} exists; pass --overwrite to replace it"]
    assert snapshot(tmp_path) == {".": None, "entity_vocab.jsonl": b"an earlier vocabulary\n"}


@pytest.mark.slow
def test_build_entity_vocab_replaces_an_existing_file_with_overwrite(enwiki_dump: Path, tmp_path: Path):
    vocab = tmp_path / "entity_vocab.jsonl"
    vocab.write_text("an earlier vocabulary\n")
    arguments = ["--entity-vocab-size", "50", "--keep-missing-targets", "--overwrite", *IN_PROCESS]
    result = luke("build-entity-vocab", str(enwiki_dump), "--output", str(vocab), *arguments)
    assert result.exit_code == 0, result.output
    assert len(EntityVocab.load(str(vocab))) == 50
    assert sorted(path.name for path in tmp_path.iterdir()) == ["entity_vocab.jsonl"]


def test_build_corpus_refuses_an_existing_corpus_and_leaves_it_intact(
    sample_bpe_corpus: Path, enwiki_dump: Path, tmp_path: Path
):
    corpus = Path(shutil.copytree(sample_bpe_corpus, tmp_path / "corpus"))
    before = snapshot(tmp_path)
    arguments = ["--train-tokenizer", "--vocab-size", "100", *IN_PROCESS]
    result = luke("build-corpus", str(enwiki_dump), "--output", str(corpus), *arguments)
    assert result.exit_code == 1, result.output
    [line] = error_lines(result)
    assert line.startswith(f"Error: {corpus} already holds a corpus (") and line.endswith(
        "; pass --overwrite to replace it"
    )
    assert snapshot(tmp_path) == before
    not_a_directory = tmp_path / "notes.txt"
    not_a_directory.write_text("notes")
    result = luke("build-corpus", str(enwiki_dump), "--output", str(not_a_directory), *arguments)
    assert result.exit_code == 1 and f"--output {not_a_directory} is not writable" in result.output
    assert not_a_directory.read_text() == "notes"


def test_a_build_refused_for_disk_space_leaves_no_directory_it_created(enwiki_dump: Path, tiny_disk: Path):
    corpus = tiny_disk / "new" / "corpus"
    result = luke("build-corpus", str(enwiki_dump), "--output", str(corpus), "--train-tokenizer", *IN_PROCESS)
    assert result.exit_code == 1, result.output
    [line] = error_lines(result)
    assert line.startswith(f"Error: --output {corpus}: 200.0 KiB free on its filesystem, the job needs about")
    vocab = tiny_disk / "new" / "entity_vocab.jsonl"
    result = luke("build-entity-vocab", str(enwiki_dump), "--output", str(vocab), *IN_PROCESS)
    assert result.exit_code == 1, result.output
    assert f"the directory of --output {vocab.parent}: 200.0 KiB free on its filesystem" in result.output
    assert list(tiny_disk.iterdir()) == []
    existing = tiny_disk / "existing"
    existing.mkdir()
    result = luke("build-corpus", str(enwiki_dump), "--output", str(existing), "--train-tokenizer", *IN_PROCESS)
    assert result.exit_code == 1 and "free on its filesystem" in result.output
    assert [path.name for path in tiny_disk.iterdir()] == ["existing"]  # not created by the build: kept


@pytest.mark.slow
def test_export_refuses_an_existing_output_and_leaves_it_intact(sample_bpe_corpus, deepspeed_cpu_env, tmp_path):
    run_dir = tmp_path / "run"
    overrides = tiny_overrides(
        sample_bpe_corpus, run_dir, schedule__max_steps=1, schedule__warmup_steps=0, checkpoint__every_steps=1
    )
    run_ok(single_process(overrides), deepspeed_cpu_env)
    model = corpus_like_directory(tmp_path / "model")
    notes = tmp_path / "notes.txt"
    notes.write_text("notes")
    before = snapshot(tmp_path / "model"), notes.read_bytes()
    result = luke("export", str(run_dir), "--output", str(model), "--no-verify")
    assert result.exit_code == 1, result.output
    assert error_lines(result) == [f"Error: {model} exists and is not empty; pass --overwrite to replace it"]
    result = luke("export", str(run_dir), "--output", str(notes), "--no-verify")
    assert result.exit_code == 2 and "'--output'" in result.output and "is a file" in result.output, result.output
    assert (snapshot(tmp_path / "model"), notes.read_bytes()) == before
