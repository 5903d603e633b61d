"""``build-corpus --documents``: your own annotated documents, read like Wikipedia articles."""

from __future__ import annotations

import bz2
import json
import runpy
from collections import Counter
from pathlib import Path

import pytest
from beam_helpers import run_and_collect
from click.testing import CliRunner
from corpus_builders import IN_PROCESS, build_sample_corpus

from luke.cli import main
from preprocessing.corpus import Corpus
from preprocessing.corpus.build import BuildError, CorpusBuildConfig, build_corpus
from preprocessing.entities.vocab import EntityVocab
from preprocessing.records import Link
from preprocessing.sources.documents import BadDocument, ReadDocuments, document_page_id, parse_document

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Aspirin inhibits COX-1 in platelets."
GOOD = {"id": "d1", "text": TEXT, "entities": [{"start": 0, "end": 7, "entity": "Aspirin"}]}

# one line per reason a document is refused, and the reason's counter
BAD_LINES = {
    "not_json": '{"id": "x", "text": ',
    "not_an_object": "[1, 2]",
    "bad_id": json.dumps({"text": TEXT, "entities": []}),
    "bad_text": json.dumps({"id": "x", "text": "  ", "entities": []}),
    "bad_title": json.dumps({"id": "x", "text": TEXT, "title": 3, "entities": []}),
    "bad_entities": json.dumps({"id": "x", "text": TEXT, "entities": [{"start": "0", "end": 7, "entity": "A"}]}),
    "empty_entity": json.dumps({"id": "x", "text": TEXT, "entities": [{"start": 0, "end": 7, "entity": " "}]}),
    "span_outside_text": json.dumps({"id": "x", "text": TEXT, "entities": [{"start": 30, "end": 99, "entity": "A"}]}),
    "empty_span": json.dumps({"id": "x", "text": TEXT, "entities": [{"start": 7, "end": 8, "entity": "A"}]}),
    "overlapping_spans": json.dumps(
        {
            "id": "x",
            "text": TEXT,
            "entities": [{"start": 0, "end": 7, "entity": "A"}, {"start": 5, "end": 9, "entity": "B"}],
        }
    ),
}


def test_a_document_becomes_an_article_with_its_entities_as_links():
    article = parse_document(
        json.dumps(GOOD | {"entities": [*GOOD["entities"], {"start": 17, "end": 22, "entity": "COX-1 "}]})
    )
    assert article.page_id == document_page_id("d1") and article.title == "d1"
    (paragraph,) = article.paragraphs
    assert paragraph.text == TEXT
    assert paragraph.links == (Link(0, 7, "Aspirin"), Link(17, 22, "COX-1"))
    assert 0 <= document_page_id("d1") < 2**63 and document_page_id("d1") != document_page_id("d2")


@pytest.mark.parametrize(("reason", "line"), list(BAD_LINES.items()))
def test_each_bad_line_names_its_reason(reason, line):
    with pytest.raises(BadDocument) as raised:
        parse_document(line)
    assert raised.value.reason == reason


def test_bad_lines_are_counted_by_reason_with_their_line_numbers(tmp_path):
    lines = [json.dumps(GOOD), *BAD_LINES.values(), "", json.dumps(GOOD | {"id": 7})]
    path = tmp_path / "documents.jsonl.bz2"
    path.write_bytes(bz2.compress(("\n".join(lines) + "\n").encode() + b"\xff\xfe{}\n"))
    articles, summary = run_and_collect(lambda pipeline: pipeline | ReadDocuments([str(tmp_path / "*.jsonl.bz2")]))
    assert sorted(article.title for article in articles) == ["7", "d1"]
    assert summary.get("documents.read") == 2
    for number, reason in enumerate(BAD_LINES, start=2):
        assert summary.get(f"documents_failed.{reason}") == 1, reason
        assert summary.failed_page_ids[f"documents_failed.{reason}"] == [f"{path}:{number}"]
    assert summary.failed_page_ids["documents_failed.invalid_encoding"] == [f"{path}:{len(lines) + 1}"]


def test_missing_files_and_files_without_a_valid_document_are_errors(tmp_path, bpe_tokenizer_dir):
    def build(*patterns: Path):
        config = CorpusBuildConfig((), str(tmp_path / "corpus"), documents=tuple(map(str, patterns)), tokenizer="t")
        return build_corpus(config, list(IN_PROCESS))

    with pytest.raises(BuildError, match=r"--documents .*nothing-\*\.jsonl: no such file"):
        build(tmp_path / "nothing-*.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(BAD_LINES.values()) + "\n")
    arguments = ["--documents", str(bad), "--output", str(tmp_path / "c"), "--tokenizer", str(bpe_tokenizer_dir)]
    result = CliRunner().invoke(main, ["build-corpus", *arguments, *IN_PROCESS])
    assert result.exit_code != 0
    assert f"{bad}: no valid document ({len(BAD_LINES)} bad lines)" in result.output, result.output
    both = CliRunner().invoke(
        main, ["build-corpus", str(bad), "--documents", str(bad), "--output", "x", "--tokenizer", "t"]
    )
    assert both.exit_code != 0 and "not both" in both.output


@pytest.fixture(scope="module")
def sample_documents(enwiki_dump, tmp_path_factory) -> tuple[list[dict], Path]:
    """Five articles of the sample, converted by the example script."""
    converter = runpy.run_path(str(ROOT / "examples" / "wikipedia_documents.py"))
    titles = ["Anarchism", "Autism", "Algorithm", "Anthropology", "Alberta"]
    documents = list(converter["wikipedia_documents"](str(enwiki_dump), titles))
    path = tmp_path_factory.mktemp("documents") / "documents.jsonl"
    path.write_text("".join(json.dumps(document) + "\n" for document in documents))
    return documents, path


@pytest.mark.slow
def test_a_tokenizer_trains_on_a_sample_of_the_documents(sample_documents, tmp_path):
    documents, path = sample_documents
    output = build_sample_corpus(None, tmp_path / "corpus", documents=(str(path),), train_tokenizer=True, num_shards=1)
    corpus = Corpus.open(output)
    assert corpus.metadata["tokenizer"]["source"] == "sentencepiece-unigram"
    assert corpus.metadata["tokenizer"]["sample_pages"] == len(documents)
    assert corpus.metadata["language"] == "en" and corpus.metadata["wiki"] is None
    assert sum(corpus.metadata["splits"][name]["mentions"] for name in corpus.split_names) > 500


@pytest.mark.slow
def test_documents_from_wikipedia_pages_give_the_mentions_of_the_dump_path(
    sample_documents, enwiki_corpus, bpe_tokenizer_dir, tmp_path
):
    from transformers import AutoTokenizer

    documents, path = sample_documents
    output = build_sample_corpus(
        None,
        tmp_path / "corpus",
        documents=(str(path),),
        tokenizer=str(bpe_tokenizer_dir),
        entity_vocab=str(enwiki_corpus / "entity_vocab.jsonl"),
        num_shards=2,
    )
    tokenizer = AutoTokenizer.from_pretrained(bpe_tokenizer_dir)

    def mentions(corpus_dir: Path, page_ids: dict[int, str]) -> Counter:
        corpus = Corpus.open(corpus_dir)
        titles_by_id = {
            index: title for title, index in EntityVocab.load(str(corpus.entity_vocab_path)).title_to_id().items()
        }
        found: Counter = Counter()
        for name in corpus.split_names:
            split = corpus.split(name)
            for index in range(len(split)):
                row = split[index]
                if row["page_id"] in page_ids:
                    for entity, start, end in zip(
                        row["entity_ids"], row["entity_starts"], row["entity_ends"], strict=True
                    ):
                        text = tokenizer.decode(row["word_ids"][start:end]).strip()
                        found[(page_ids[row["page_id"]], titles_by_id[int(entity)], text)] += 1
        return found

    from_dump = mentions(enwiki_corpus, {int(document["id"]): document["title"] for document in documents})
    from_documents = mentions(output, {document_page_id(document["id"]): document["title"] for document in documents})
    assert sum(from_dump.values()) > 500
    assert from_documents == from_dump
    assert Corpus.open(output).metadata["options"]["documents"] == [str(path)]
