"""The whole entity-vocabulary job on the real sample: redirects, drops, runners, multistream, the CLI."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from beam_helpers import dump_articles, run_vocab_job
from click.testing import CliRunner
from dump_builders import page_xml, sample_parts, write_dump, write_multistream

from luke.cli import main
from preprocessing.entities.vocab import EntityVocab

pytestmark = pytest.mark.slow

REDIRECT_TEST_TEXT = (
    "Links to [[AccessibleComputing]], [[AfghanistanHistory|Afghan history]], [[Loop A|a loop]], "
    "[[Chain start|a chain]], [[Long chain 1|too long]], [[#Links|this page]], [[Category:Tests]] "
    "and [[wikt:link|a word]]."
)


def _extra_pages() -> list[bytes]:
    """Pages of the same wiki that exercise redirects: a loop, a 3-hop chain, a chain beyond the limit."""
    pages = [page_xml(9100001, "Redirect test page", REDIRECT_TEST_TEXT)]
    redirects = [("Loop A", "Loop B"), ("Loop B", "Loop A"), ("Chain start", "Chain middle")]
    redirects += [("Chain middle", "AccessibleComputing")]  # → Computer accessibility, a third hop
    redirects += [(f"Long chain {i}", f"Long chain {i + 1}") for i in range(1, 7)]
    for offset, (source, target) in enumerate(redirects, start=2):
        pages.append(page_xml(9100000 + offset, source, f"#REDIRECT [[{target}]]", redirect=target))
    return pages


@pytest.fixture(scope="session")
def job_inputs(enwiki_dump, tmp_path_factory):
    directory = tmp_path_factory.mktemp("vocab-job")
    header, _, _ = sample_parts(enwiki_dump)
    extra = write_dump(directory / "enwiki-extra-pages.xml", header, _extra_pages())
    return directory, [str(enwiki_dump), str(extra)]


@pytest.fixture(scope="session")
def in_memory_run(job_inputs):
    directory, patterns = job_inputs
    output = str(directory / "in-memory.jsonl")
    build_dir = str(directory / "in-memory.build")
    ledger, summary = run_vocab_job(patterns, output, build_dir)
    articles, _ = dump_articles(patterns, build_dir)
    return articles, summary, output, ledger


def test_known_redirects_resolve_and_links_count_under_their_target(in_memory_run):
    articles, summary, output, _ = in_memory_run
    vocab = EntityVocab.load(output)
    counts = {entry.title: entry.count for entry in vocab.entries}
    page = next(article for article in articles if article.page_id == 9100001)
    links = [
        (paragraph.text[link.start : link.end], link.target)
        for paragraph in page.paragraphs
        for link in paragraph.links
    ]
    assert links == [
        ("AccessibleComputing", "Computer accessibility"),
        ("Afghan history", "History of Afghanistan"),
        ("a chain", "Computer accessibility"),  # Chain start → Chain middle → AccessibleComputing → ...
    ]  # [[#Links|this page]] names a section of the page itself: no entity
    assert "AccessibleComputing" not in vocab and "Chain start" not in vocab and "Loop A" not in vocab
    assert counts["Computer accessibility"] >= 2
    assert summary.get("links_dropped.redirect_loop") == 1
    assert summary.get("links_dropped.redirect_chain_too_long") == 1
    assert summary.get("links.through_redirect") >= 3
    assert summary.get("links_dropped.other_namespace") > 1000  # files and categories of the sample
    assert summary.get("links_dropped.interwiki") > 10
    assert summary.get("links_dropped.section_link") > 10  # Algorithm's [[#4|4]] and others of the sample


def test_vocabulary_counts_equal_the_link_occurrences(in_memory_run):
    articles, summary, output, ledger = in_memory_run
    occurrences = Counter(
        link.target for article in articles for paragraph in article.paragraphs for link in paragraph.links
    )
    vocab = EntityVocab.load(output)
    assert len(vocab) == 2000
    expected = sorted(occurrences.items(), key=lambda item: (-item[1], item[0]))[: 2000 - 3]
    assert [(entry.title, entry.count) for entry in vocab.entries[3:]] == expected
    assert summary.get("links.kept") == sum(occurrences.values())
    assert ledger["counts"]["vocabulary/entities.distinct"] == len(occurrences)
    assert summary.get("pages.articles") == 107 and summary.get("pages.redirects") == 99 + 10
    counts = ledger["counts"]
    assert counts["titles/table.article"] == 107 and counts["titles/table.redirect"] == 99 + 10
    assert counts["vocabulary/entities.links_counted"] == counts["articles/links.kept"] == sum(occurrences.values())
    for article in articles:
        for paragraph in article.paragraphs:
            for link in paragraph.links:
                assert 0 <= link.start < link.end <= len(paragraph.text)


def test_cli_on_the_multiprocessing_direct_runner_writes_identical_bytes(
    in_memory_run, job_inputs, tmp_path, monkeypatch
):
    directory, patterns = job_inputs
    output = directory / "cli.jsonl"
    summary_path = directory / "summary.json"
    # Beam's DirectRunner would first start a Prism job server (its temporary directory left behind here) and try
    # to download Prism from GitHub; the job runs on the FnApiRunner directly and leaves nothing in TMPDIR.
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    result = CliRunner().invoke(
        main,
        [
            *("build-entity-vocab", *patterns, "--output", str(output), "--entity-vocab-size", "2000"),
            *("--keep-missing-targets", "--summary-json", str(summary_path), "--direct_num_workers=2"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert output.read_bytes() == Path(in_memory_run[2]).read_bytes()
    assert "links_dropped.other_namespace" in result.output and "pages.read" in result.output
    summary = json.loads(summary_path.read_text())
    assert summary["counters"] == in_memory_run[1].counters
    assert summary["ledger"]["counts"] == in_memory_run[3]["counts"]
    assert summary["checksum"] == EntityVocab.load(str(output)).checksum()
    assert list(temporary.iterdir()) == []
    assert not (directory / "cli.jsonl.build").exists()  # the title table and progress files are removed


def test_multistream_dump_gives_the_same_vocabulary(in_memory_run, job_inputs, enwiki_dump, tmp_path):
    _, patterns = job_inputs
    multistream = write_multistream(enwiki_dump, tmp_path, pages_per_stream=7)
    output = str(tmp_path / "multistream.jsonl")
    run_vocab_job([str(multistream), patterns[1]], output, str(tmp_path / "build"))
    assert Path(output).read_bytes() == Path(in_memory_run[2]).read_bytes()


def test_dask_runner_gives_identical_bytes(in_memory_run, job_inputs, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, patterns = job_inputs
    output = str(tmp_path / "dask.jsonl")
    with distributed.LocalCluster(
        host="127.0.0.1", processes=True, n_workers=2, threads_per_worker=1, dashboard_address=":0"
    ) as cluster:
        args = [
            "--runner=apache_beam.runners.dask.dask_runner.DaskRunner",
            f"--dask_client_address={cluster.scheduler_address}",
        ]
        ledger, _ = run_vocab_job(patterns, output, str(tmp_path / "build"), beam_args=args)
    assert Path(output).read_bytes() == Path(in_memory_run[2]).read_bytes()
    assert ledger["counts"] == in_memory_run[3]["counts"]  # the ledger comes from data: the DaskRunner has no metrics


def test_red_links_are_dropped_and_counted_on_full_dumps(job_inputs, tmp_path):
    _, patterns = job_inputs
    output = str(tmp_path / "red.jsonl")
    _, summary = run_vocab_job(patterns, output, str(tmp_path / "build"), keep_missing=False)
    articles, _ = dump_articles(patterns, str(tmp_path / "build"), keep_missing=False)
    vocab = EntityVocab.load(output)
    titles = {article.title for article in articles}
    assert {entry.title for entry in vocab.entries[3:]} <= titles  # only pages of the dump
    assert summary.get("links_dropped.missing_target") > 15000
    assert summary.get("links.kept") + summary.total("links_dropped") > 18000


def test_a_page_that_breaks_the_parser_is_counted_and_the_job_goes_on(enwiki_dump, tmp_path, monkeypatch):
    from preprocessing.wikitext.parser import WikitextParser

    header, _, _ = sample_parts(enwiki_dump)
    dump = write_dump(
        tmp_path / "pages.xml", header, [page_xml(1, "Fine", "A [[good link]] here."), page_xml(2, "Broken", "B.")]
    )
    parse = WikitextParser.parse

    def breaking(self, page_id, title, wikitext):
        if title == "Broken":
            raise RecursionError("maximum recursion depth exceeded")  # one of wikiextractor's failure modes
        return parse(self, page_id, title, wikitext)

    monkeypatch.setattr(WikitextParser, "parse", breaking)
    ledger, summary = run_vocab_job([str(dump)], str(tmp_path / "v.jsonl"), str(tmp_path / "build"))
    articles, _ = dump_articles([str(dump)], str(tmp_path / "build"))
    assert [article.title for article in articles] == ["Fine"]
    assert summary.get("pages_failed.extraction_error") == 1
    assert summary.failed_page_ids["pages_failed.extraction_error"] == ["2"]
    assert ledger["counts"]["articles/articles.parsed"] == 1


@pytest.mark.parametrize("keep_section_links", [False, True])
def test_section_links_are_dropped_and_counted_unless_kept(enwiki_dump, keep_section_links, tmp_path):
    header, _, _ = sample_parts(enwiki_dump)
    text = "Steps [[#4|4]] and [[#Uses|its uses]] of an [[abacus]]."
    dump = str(write_dump(tmp_path / "pages.xml", header, [page_xml(1, "Algorithm", text)]))
    build = str(tmp_path / "build")
    _, summary = run_vocab_job([dump], str(tmp_path / "v.jsonl"), build, keep_section_links=keep_section_links)
    articles, _ = dump_articles([dump], build, keep_section_links=keep_section_links)
    (paragraph,) = articles[0].paragraphs
    assert paragraph.text == "Steps 4 and its uses of an abacus."
    targets = [link.target for link in paragraph.links]
    assert targets == (["Algorithm", "Algorithm", "Abacus"] if keep_section_links else ["Abacus"])
    assert summary.get("links_dropped.section_link") == (0 if keep_section_links else 2)


def test_an_empty_dump_gives_the_special_entries_only(enwiki_dump, tmp_path):
    header, _, _ = sample_parts(enwiki_dump)
    empty = write_dump(tmp_path / "empty.xml", header, [])
    output = tmp_path / "empty.jsonl"
    result = CliRunner().invoke(
        main, ["build-entity-vocab", str(empty), "--output", str(output), "--direct_running_mode=in_memory"]
    )
    assert result.exit_code == 0, result.output
    assert [entry.title for entry in EntityVocab.load(str(output)).entries] == ["[PAD]", "[UNK]", "[MASK]"]


def test_cli_refuses_a_file_that_is_not_a_dump(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    result = CliRunner().invoke(main, ["build-entity-vocab", str(path), "--output", str(tmp_path / "v.jsonl")])
    assert result.exit_code != 0
    assert "notes.txt is not a MediaWiki XML dump" in result.output
