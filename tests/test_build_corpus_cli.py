"""`luke build-corpus` on the command line: a real run, its summary, and bad input refused before any work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from luke.cli import main
from preprocessing.corpus import Corpus

IN_PROCESS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def run(*arguments: str):
    return CliRunner().invoke(main, ["build-corpus", *arguments], catch_exceptions=False)


@pytest.mark.slow
def test_build_corpus_command_writes_a_corpus_and_prints_a_summary(
    enwiki_dump, bpe_tokenizer_dir, enwiki_corpus, tmp_path
):
    output = tmp_path / "corpus"
    vocab = enwiki_corpus / "entity_vocab.jsonl"
    arguments = [str(enwiki_dump), "--output", str(output), "--tokenizer", str(bpe_tokenizer_dir)]
    arguments += ["--entity-vocab", str(vocab), "--max-pages", "4", "--num-shards", "2", *IN_PROCESS]
    arguments += ["--keep-missing-targets"]  # the sample is a slice: its four first pages rarely link each other
    result = run(*arguments, "--validation-fraction", "0.001", "--max-seq-length", "64")
    assert result.exit_code == 0, result.output
    corpus = Corpus.open(output)
    assert corpus.max_seq_length == 64
    validation = corpus.metadata["splits"]["validation"]
    assert validation["sequences"] > 0, "a positive fraction gives at least one page"
    assert corpus.metadata["counters"]["articles"] == 4
    assert (
        corpus.metadata["entity_vocab"]["checksum"]
        == json.loads((enwiki_corpus / "metadata.json").read_text())["entity_vocab"]["checksum"]
    )
    assert (output / "entity_vocab.jsonl").read_bytes() == vocab.read_bytes()
    assert "validation" in result.output and "sentences_dropped.too_short" in result.output
    assert not (output / "_build").exists()

    # the same directory again: refused (it holds a corpus), unless --overwrite
    again = run(*arguments, "--max-seq-length", "128")
    assert again.exit_code != 0 and "already holds a corpus" in again.output and "--overwrite" in again.output
    assert Corpus.open(output).max_seq_length == 64
    replaced = run(*arguments, "--max-seq-length", "128", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert Corpus.open(output).max_seq_length == 128


@pytest.mark.slow
def test_reading_and_extraction_options_reach_the_job(enwiki_dump, bpe_tokenizer_dir, enwiki_corpus, tmp_path):
    output = tmp_path / "corpus"
    arguments = [str(enwiki_dump), "--output", str(output), "--tokenizer", str(bpe_tokenizer_dir), *IN_PROCESS]
    arguments += ["--entity-vocab", str(enwiki_corpus / "entity_vocab.jsonl"), "--max-pages", "4"]
    arguments += ["--abstract-only", "--max-page-bytes", "40000", "--max-redirect-hops", "2", "--keep-section-links"]
    arguments += ["--keep-missing-targets"]  # four lead sections of a slice: their links point outside it
    result = run(*arguments, "--streams-per-range", "3")
    assert result.exit_code == 0, result.output
    metadata = Corpus.open(output).metadata
    names = ("abstract_only", "max_page_bytes", "max_redirect_hops", "keep_section_links")
    recorded = {name: metadata["options"][name] for name in names}
    assert recorded == {
        "abstract_only": True,
        "max_page_bytes": 40000,
        "max_redirect_hops": 2,
        "keep_section_links": True,
    }
    assert metadata["options"]["streams_per_range"] == 3
    assert metadata["extraction_counters"]["counters"]["pages_failed.page_too_large"] > 0  # the sample's long pages


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": 0, "entities": [["[PAD]", null]], "count": 0}\nnot json\n', "line 2"),
        ('{"id": 0, "entities": [["Paris", "en"]], "count": 3}\n', "[PAD]"),
    ],
)
def test_a_malformed_entity_vocab_is_refused_before_any_work(
    enwiki_dump, bpe_tokenizer_dir, tmp_path, content, message
):
    vocab = tmp_path / "vocab.jsonl"
    vocab.write_text(content, encoding="utf-8")
    output = tmp_path / "corpus"
    result = run(
        str(enwiki_dump),
        "--output",
        str(output),
        "--tokenizer",
        str(bpe_tokenizer_dir),
        "--entity-vocab",
        str(vocab),
        *IN_PROCESS,
    )
    assert result.exit_code != 0
    assert "--entity-vocab" in result.output and str(vocab) in result.output and message in result.output
    assert not output.exists()


def test_an_unfinished_build_is_not_overwritten_silently(enwiki_dump, bpe_tokenizer_dir, tmp_path):
    output = tmp_path / "corpus"
    (output / "train").mkdir(parents=True)
    result = run(str(enwiki_dump), "--output", str(output), "--tokenizer", str(bpe_tokenizer_dir), *IN_PROCESS)
    assert result.exit_code != 0 and "unfinished corpus build" in result.output


def test_tokenizer_source_must_be_given_once(enwiki_dump, tmp_path):
    neither = run(str(enwiki_dump), "--output", str(tmp_path / "a"), *IN_PROCESS)
    assert neither.exit_code != 0 and "--tokenizer" in neither.output and "--train-tokenizer" in neither.output
    missing = run(str(enwiki_dump), "--output", str(tmp_path / "b"), "--tokenizer", str(tmp_path / "nowhere"))
    assert missing.exit_code != 0 and "nowhere" in missing.output
    assert not (tmp_path / "b" / "metadata.json").exists()


def test_an_unreadable_dump_fails_fast_naming_it(bpe_tokenizer_dir, tmp_path):
    dump = tmp_path / "notes.xml"
    dump.write_text("this is not a MediaWiki dump", encoding="utf-8")
    result = run(str(dump), "--output", str(tmp_path / "corpus"), "--tokenizer", str(bpe_tokenizer_dir))
    assert result.exit_code != 0 and "notes.xml" in result.output


def test_reader_rejects_a_corpus_whose_shards_were_removed(enwiki_corpus, tmp_path):
    copy = Path(shutil.copytree(enwiki_corpus, tmp_path / "copy"))
    next(copy.glob("train/shard-*.arrow")).unlink()
    with pytest.raises(ValueError, match="do not exist"):
        Corpus.open(copy)


def test_auto_shards_grow_with_the_estimated_shards_up_to_64():
    from preprocessing.corpus.build import AUTO_SHARD_BYTES, auto_num_shards

    assert [auto_num_shards(size) for size in (0, AUTO_SHARD_BYTES, AUTO_SHARD_BYTES + 1)] == [1, 1, 2]
    assert auto_num_shards(58 << 30) == 64  # English Wikipedia's ~58 GB of shards


@pytest.mark.slow
def test_a_small_build_without_num_shards_gets_one_train_shard(enwiki_dump, bpe_tokenizer_dir, tmp_path):
    output = tmp_path / "corpus"
    arguments = [str(enwiki_dump), "--output", str(output), "--tokenizer", str(bpe_tokenizer_dir), "--max-pages", "6"]
    result = run(*arguments, "--keep-missing-targets", *IN_PROCESS)
    assert result.exit_code == 0, result.output
    metadata = Corpus.open(output).metadata
    assert len(metadata["splits"]["train"]["shards"]) == 1 and metadata["options"]["num_shards"] == 1


def test_the_summary_names_the_tokenizer_by_what_made_it():
    from preprocessing.commands.build_corpus import describe_tokenizer

    trained = {"source": "sentencepiece-unigram", "class": "TokenizersBackend", "vocab_size": 4000}
    assert describe_tokenizer(trained) == "SentencePiece unigram trained on the input"
    pretrained = {"source": "pretrained", "name_or_path": "roberta-large", "class": "RobertaTokenizer"}
    assert describe_tokenizer(pretrained) == "roberta-large (RobertaTokenizer)"
