"""Damaged dumps and outputs that cannot take the result, through the `luke` command line as a user runs it: the
jobs exit non-zero with one `Error:` line naming the file, no traceback reaches the terminal (the log file in the
output holds it), no metadata.json; `--allow-damaged-dumps` builds from the pages before the damage instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
IN_MEMORY = ("--direct_running_mode=in_memory", "--direct_num_workers=1")
DAMAGE = {
    "cut.xml.bz2": "compressed data ends early; reading stopped at compressed byte 847,935 of 847,935",
    "flipped.xml.bz2": "corrupt compressed data (Invalid data stream); reading stopped at compressed byte 999,424",
    "cut.xml": "the XML ends early, after 3,044,873 bytes of XML without </mediawiki>",
}


def luke(*arguments: str, fault: str | None = None) -> subprocess.CompletedProcess:
    """`luke ARGUMENTS` in a new process (with a fault of fault_injection.py injected, if given)."""
    program = [str(TESTS / "fault_injection.py")] if fault else ["-m", "luke.cli"]
    env = {**os.environ, **({"LUKE_TEST_FAULT": fault} if fault else {})}
    return subprocess.run([sys.executable, *program, *arguments], capture_output=True, text=True, env=env)


def error_line(result: subprocess.CompletedProcess) -> str:
    """The run's only `Error:` line, after checking that it failed without a traceback on the terminal."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    return line


def vocab_job(dump: Path, output: Path, *options: str) -> subprocess.CompletedProcess:
    return luke("build-entity-vocab", str(dump), "--output", str(output), "--keep-missing-targets", *options)


def corpus_job(dump: Path, output: Path, tokenizer: Path, *options: str, fault: str | None = None):
    arguments = [str(dump), "--output", str(output), "--tokenizer", str(tokenizer), "--keep-missing-targets"]
    return luke("build-corpus", *arguments, "--max-pages", "4", "--num-shards", "2", *options, fault=fault)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_a_damaged_dump_fails_both_jobs_in_one_line_naming_the_file(
    damaged_enwiki_dumps, bpe_tokenizer_dir, name, tmp_path
):
    """On the multi-processing DirectRunner (the default): the worker's exception reaches the driver as text."""
    dump = damaged_enwiki_dumps[name]
    vocab = tmp_path / "entity_vocab.jsonl"
    line = error_line(vocab_job(dump, vocab))
    assert f"damaged dump file {dump}: {DAMAGE[name]}" in line and "--allow-damaged-dumps" in line
    assert not vocab.exists() and "Traceback" in (tmp_path / "entity_vocab.jsonl.error.log").read_text()
    corpus = tmp_path / "corpus"
    line = error_line(corpus_job(dump, corpus, bpe_tokenizer_dir))
    assert f"damaged dump file {dump}: {DAMAGE[name]}" in line
    assert not (corpus / "metadata.json").exists() and "Traceback" in (corpus / "error.log").read_text()
    again = corpus_job(damaged_enwiki_dumps[name], corpus, bpe_tokenizer_dir)
    assert "unfinished corpus build" in error_line(again)


@pytest.mark.slow
def test_allowed_damage_builds_from_the_pages_before_it_and_lists_the_file_first(
    damaged_enwiki_dumps, bpe_tokenizer_dir, tmp_path
):
    flipped, cut = damaged_enwiki_dumps["flipped.xml.bz2"], damaged_enwiki_dumps["cut.xml.bz2"]
    result = vocab_job(flipped, tmp_path / "entity_vocab.jsonl", "--allow-damaged-dumps")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "DAMAGED DUMP FILES, read only up to the damage (--allow-damaged-dumps):",
        f"  corrupt_file: {flipped}@999424",
    ]
    corpus = tmp_path / "corpus"
    result = corpus_job(cut, corpus, bpe_tokenizer_dir, "--allow-damaged-dumps")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == f"  truncated_file: {cut}@847935"
    metadata = json.loads((corpus / "metadata.json").read_text())
    assert metadata["options"]["allow_damaged_dumps"] is True
    assert metadata["extraction_counters"]["counters"]["files_damaged.truncated_file"] == 1
    assert not (corpus / "error.log").exists()


@pytest.mark.slow
def test_a_damaged_dump_fails_the_job_on_the_dask_runner(
    damaged_enwiki_dumps, bpe_tokenizer_dir, dask_scheduler_address, tmp_path
):
    """The DaskRunner re-raises the worker's own exception (and reports no metrics at all)."""
    dump = damaged_enwiki_dumps["cut.xml.bz2"]
    runner = (
        "--runner=apache_beam.runners.dask.dask_runner.DaskRunner",
        f"--dask_client_address={dask_scheduler_address}",
    )
    line = error_line(corpus_job(dump, tmp_path / "corpus", bpe_tokenizer_dir, *runner))
    assert f"damaged dump file {dump}: {DAMAGE['cut.xml.bz2']}" in line
    assert not (tmp_path / "corpus" / "metadata.json").exists()


def test_a_dask_scheduler_that_does_not_answer_fails_both_jobs_in_one_line_before_any_work(
    enwiki_dump, bpe_tokenizer_dir, tmp_path
):
    address = "tcp://127.0.0.1:9"  # discard: nothing listens
    runner = (
        "--runner=apache_beam.runners.dask.dask_runner.DaskRunner",
        f"--dask_client_address={address}",
        "--dask_connection_timeout=2",
    )
    vocab = tmp_path / "entity_vocab.jsonl"
    assert f"no Dask scheduler answers at {address}: " in error_line(vocab_job(enwiki_dump, vocab, *runner))
    corpus = tmp_path / "corpus"
    line = error_line(corpus_job(enwiki_dump, corpus, bpe_tokenizer_dir, *runner))
    assert f"no Dask scheduler answers at {address}: " in line
    assert not vocab.exists() and not corpus.exists()


def test_an_output_that_cannot_be_written_is_refused_before_any_work(enwiki_dump, bpe_tokenizer_dir, tmp_path):
    """Root ignores file permissions, so the unwritable place is a path under a regular file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    line = error_line(vocab_job(enwiki_dump, blocker / "entity_vocab.jsonl"))
    assert f"the directory of --output {blocker} is not writable: [Errno 17] File exists" in line
    line = error_line(corpus_job(enwiki_dump, blocker / "corpus", bpe_tokenizer_dir, *IN_MEMORY))
    assert f"--output {blocker}/corpus is not writable" in line


def test_a_disk_without_room_for_the_output_is_refused_before_any_work(enwiki_dump, bpe_tokenizer_dir, tiny_disk):
    line = error_line(vocab_job(enwiki_dump, tiny_disk / "entity_vocab.jsonl"))
    assert f"the directory of --output {tiny_disk}: 200.0 KiB free on its filesystem, the job needs about" in line
    line = error_line(corpus_job(enwiki_dump, tiny_disk / "corpus", bpe_tokenizer_dir, *IN_MEMORY))
    assert f"--output {tiny_disk}/corpus: 200.0 KiB free on its filesystem, the job needs about 1.5 MiB" in line
    assert not list(tiny_disk.rglob("*.tmp-*"))


def test_a_disk_filling_up_during_the_job_ends_in_one_line_with_the_traceback_in_the_log(
    enwiki_dump, bpe_tokenizer_dir, tmp_path
):
    corpus = tmp_path / "corpus"
    result = corpus_job(enwiki_dump, corpus, bpe_tokenizer_dir, *IN_MEMORY, fault="disk-full-on-write:shard-")
    line = error_line(result)
    assert line.startswith("Error: the packing pass failed in step 'PackShards/PackShard': OSError: [Errno 28]")
    assert f"'{corpus}/train/shard-0000" in line and f"(full traceback in {corpus}/error.log)" in line
    log = (corpus / "error.log").read_text()
    assert "Traceback (most recent call last)" in log and "No space left on device" in log
    assert not (corpus / "metadata.json").exists()
    assert not list(corpus.rglob("*.tmp-*"))  # the shard being written is deleted


@pytest.mark.parametrize(
    ("tag", "step"),
    [("title_runs/", "the title pass failed in step 'ReadTitles/"), ("title_table/", "the table pass failed in step")],
)
def test_a_disk_filling_up_while_titles_are_exchanged_ends_in_one_line_naming_the_file(
    enwiki_dump, bpe_tokenizer_dir, tmp_path, tag, step
):
    corpus = tmp_path / "corpus"
    line = error_line(corpus_job(enwiki_dump, corpus, bpe_tokenizer_dir, *IN_MEMORY, fault=f"disk-full-on-write:{tag}"))
    assert line.startswith(f"Error: {step}") and "OSError: [Errno 28]" in line, line
    assert f"'{corpus}/_build/{tag}" in line and f"(full traceback in {corpus}/error.log)" in line
    assert not (corpus / "metadata.json").exists()
    assert not list(corpus.rglob("*.tmp-*"))
