"""benchmarks/synthetic_dump.py: a valid multistream dump with its index, which both Beam jobs read in stream
ranges, its redirects resolved; the same bytes for the same seed."""

from __future__ import annotations

import bz2
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from corpus_builders import IN_PROCESS, read_dump_pages

from luke.cli import main
from preprocessing.corpus import Corpus
from preprocessing.entities.vocab import EntityVocab
from preprocessing.sources import reading
from preprocessing.sources.files import multistream_index_path
from preprocessing.sources.multistream import StreamRange, read_stream_offsets
from preprocessing.wikitext.parser import WikitextParser

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "synthetic_dump.py"
NAME = "enwiki-synthetic-pages-articles-multistream.xml.bz2"
PAGES_PER_STREAM = 100
STREAMS_PER_RANGE = 2  # the 2 MB dump's ~8 page streams make 4 ranges (the default, 20, would make one)


def generate(output: Path, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SCRIPT), "2", "--output", str(output), *options]
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("synthetic-dump")
    result = generate(directory / NAME, "--stats", str(directory / "stats.json"), "--workers", "2")
    assert result.returncode == 0, result.stderr
    return directory / NAME


@pytest.fixture(scope="module")
def stats(dump: Path) -> dict:
    return json.loads((dump.parent / "stats.json").read_text(encoding="utf-8"))["measured"]


def bz2_streams(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, decompressed bytes) of each bz2 stream of a file, read one after the other."""
    streams, offset = [], 0
    while offset < len(data):
        decompressor = bz2.BZ2Decompressor()
        xml = decompressor.decompress(data[offset:])
        assert decompressor.eof, f"the bz2 stream at {offset} is cut"
        streams.append((offset, xml))
        offset = len(data) - len(decompressor.unused_data)
    return streams


def test_it_is_a_multistream_dump_whose_index_gives_each_page_stream(dump: Path, stats: dict) -> None:
    index_path = multistream_index_path(str(dump))
    offsets = read_stream_offsets(index_path)
    streams = bz2_streams(dump.read_bytes())
    header, *page_streams, footer = streams
    assert [offset for offset, _ in page_streams] == offsets and len(offsets) >= 5
    assert b"<siteinfo>" in header[1] and b"<page>" not in header[1] and footer[1] == b"</mediawiki>\n"
    index = [line.split(":", 2) for line in bz2.decompress(Path(index_path).read_bytes()).decode().splitlines()]
    for offset, xml in page_streams:
        pages = re.findall(r"<title>(.*?)</title>\s*<ns>\d+</ns>\s*<id>(\d+)</id>", xml.decode())
        assert [(page_id, title) for listed, page_id, title in index if int(listed) == offset] == [
            (page_id, title) for title, page_id in pages
        ]
        assert len(pages) == PAGES_PER_STREAM or offset == offsets[-1]
    root = ET.fromstring(b"".join(xml for _, xml in streams))  # well-formed XML
    assert len(root) - 1 == len(index) == sum(stats["pages_by_namespace"].values())  # - 1: <siteinfo>
    assert len({title for _, _, title in index}) == len(index), "titles are unique"
    assert len(streams) == stats["streams"] and dump.stat().st_size == stats["bz2_bytes"]
    assert 1.5e6 < stats["xml_bytes"] < 2.5e6


def test_the_same_seed_gives_the_same_bytes_whatever_the_workers(dump: Path, tmp_path: Path) -> None:
    again = tmp_path / NAME
    assert generate(again, "--workers", "1").returncode == 0
    assert again.read_bytes() == dump.read_bytes()
    index = multistream_index_path(str(again))
    assert Path(index).read_bytes() == Path(multistream_index_path(str(dump))).read_bytes()


def test_a_file_not_named_as_a_multistream_dump_is_refused(tmp_path: Path) -> None:
    result = generate(tmp_path / "enwiki.xml.bz2")
    assert result.returncode != 0 and not (tmp_path / "enwiki.xml.bz2").exists()
    assert result.stderr.strip().count("\n") == 0 and "multistream" in result.stderr


READING_PASSES = 2  # the title pass and the article pass each read every range once


def run_reading_ranges(monkeypatch: pytest.MonkeyPatch, *arguments: str) -> list[StreamRange]:
    """Run ``luke`` in this process (in-memory runner), check that each of its passes read every stream range once,
    and return the ranges."""
    ranges: list[StreamRange] = []
    read_range = reading.iter_range_blocks

    def spy(stream_range: StreamRange):
        ranges.append(stream_range)
        return read_range(stream_range)

    monkeypatch.setattr(reading, "iter_range_blocks", spy)
    monkeypatch.setattr(reading, "iter_file_blocks", None)  # reading the whole file would fail
    result = CliRunner().invoke(main, [*arguments, "--streams-per-range", str(STREAMS_PER_RANGE), *IN_PROCESS])
    assert result.exit_code == 0, result.output
    dump = arguments[1]
    reads = Counter(ranges)
    assert set(reads.values()) == {READING_PASSES}
    assert f"{dump}: {len(reads)} stream ranges from its index, read in parallel\n" in result.output
    return list(reads)


def expected_ranges(dump: Path) -> list[int]:
    """The first offset of each range of STREAMS_PER_RANGE streams."""
    return read_stream_offsets(multistream_index_path(str(dump)))[::STREAMS_PER_RANGE]


@pytest.fixture(scope="module")
def vocab_run(dump: Path) -> tuple[Path, dict, list[StreamRange]]:
    output, summary_path = dump.parent / "vocab.jsonl", dump.parent / "summary.json"
    with pytest.MonkeyPatch.context() as monkeypatch:
        arguments = ["build-entity-vocab", str(dump), "--output", str(output), "--summary-json", str(summary_path)]
        ranges = run_reading_ranges(monkeypatch, *arguments)
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    return output, {**summary["counters"], **summary["ledger"]["counts"]}, ranges


def linked_entities(dump: Path) -> tuple[Counter[str], int]:
    """The articles' links read without Beam (wikiextractor via the parser), resolved through the dump's
    redirects: links per existing article, and how many of them went through a redirect."""
    parser = WikitextParser(reading.read_site_info([str(dump)]))
    pages = list(read_dump_pages(dump))
    redirects = {page.title: page.redirect for page in pages if page.redirect}
    articles = {page.title for page in pages if page.namespace == 0 and not page.redirect}
    counts, through_redirect = Counter(), 0
    for page in pages:
        if page.title in articles:
            for paragraph in parser.parse(page.page_id, page.title, page.wikitext).paragraphs:
                for link in paragraph.links:
                    entity = _resolve(link.target, redirects)
                    if entity in articles:
                        counts[entity] += 1
                        through_redirect += entity != link.target
    return counts, through_redirect


def _resolve(title: str, redirects: dict[str, str]) -> str | None:
    seen = set()
    while title in redirects:
        if title in seen:
            return None  # a loop
        seen.add(title)
        title = redirects[title]
    return title


def test_the_entity_vocab_job_reads_it_in_ranges_and_counts_links_to_redirects_for_their_target(
    dump: Path, stats: dict, vocab_run: tuple[Path, dict, list[StreamRange]]
) -> None:
    output, counters, ranges = vocab_run
    assert sorted(stream_range.start for stream_range in ranges) == expected_ranges(dump)
    assert len(ranges) > 1
    assert counters["pages.read"] == sum(stats["pages_by_namespace"].values())
    assert counters["pages.articles"] == stats["articles"] and counters["pages.redirects"] == stats["redirects"]
    assert counters["titles/table.article"] == stats["articles"]
    assert counters["titles/table.redirect"] == stats["redirects"]  # cycles and chains included: followed by lookup
    entities, through_redirect = linked_entities(dump)
    vocab = EntityVocab.load(str(output))
    assert {entry.title: entry.count for entry in vocab.entries[3:]} == entities
    assert len(entities) > 0.9 * stats["articles"]
    assert counters["links.through_redirect"] == through_redirect > 0
    missing = counters["links_dropped.missing_target"] / (
        counters["links.kept"] + counters["links_dropped.missing_target"]
    )
    assert abs(missing - stats["links_missing"]) < 0.05


def test_build_corpus_reads_it_in_ranges(
    dump: Path,
    stats: dict,
    vocab_run: tuple[Path, dict, list[StreamRange]],
    bpe_tokenizer_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    output = tmp_path / "corpus"
    arguments = ["build-corpus", str(dump), "--output", str(output), "--tokenizer", str(bpe_tokenizer_dir)]
    arguments += ["--entity-vocab", str(vocab_run[0]), "--num-shards", "2"]
    ranges = run_reading_ranges(monkeypatch, *arguments)
    assert sorted(stream_range.start for stream_range in ranges) == expected_ranges(dump)
    metadata = Corpus.open(output).metadata
    assert metadata["counters"]["articles"] == stats["articles"]
    train = metadata["splits"]["train"]
    assert metadata["counters"]["links"] == vocab_run[1]["links.kept"]
    assert train["sequences"] > 100 and train["mentions"] > 0.9 * metadata["counters"]["links"]


@contextmanager
def dask_range_reads(scheduler_address: str, directory: Path) -> Iterator[None]:
    """While inside, each worker of the Dask cluster appends the start of every stream range it reads, how many
    title tables it holds then and how many it has opened so far, to a file of ``directory`` named by its pid."""
    from distributed import Client

    def record_range_reads(directory: str) -> None:  # runs in each worker process (pickled by value)
        import os

        from preprocessing.entities.title_table import TitleTable
        from preprocessing.sources import reading

        read_range = reading.iter_range_blocks
        open_table = TitleTable.__init__
        opened = []

        def counted_open(table, *args, **kwargs):
            opened.append(1)
            open_table(table, *args, **kwargs)

        def spy(stream_range: StreamRange):
            import gc

            gc.collect()
            tables = sum(isinstance(instance, TitleTable) for instance in gc.get_objects())
            with open(os.path.join(directory, str(os.getpid())), "a", encoding="utf-8") as reads:
                reads.write(f"{stream_range.start} {tables} {len(opened)}\n")
            return read_range(stream_range)

        spy.unspied = read_range
        counted_open.unspied = open_table
        reading.iter_range_blocks = spy
        TitleTable.__init__ = counted_open

    def stop_recording() -> None:
        from preprocessing.entities.title_table import TitleTable
        from preprocessing.sources import reading

        reading.iter_range_blocks = reading.iter_range_blocks.unspied
        TitleTable.__init__ = TitleTable.__init__.unspied

    # no client of ours is open while the job runs: Beam's DaskRunner waits with as_completed, which takes the
    # loop of the current client, not of its futures' client, and can hang when they differ (dask/distributed#4357)
    with Client(scheduler_address) as client:
        client.run(record_range_reads, str(directory))
    try:
        yield
    finally:
        with Client(scheduler_address) as client:
            client.run(stop_recording)


def run_on_dask_reading_ranges(scheduler_address: str, directory: Path, *arguments: str) -> tuple[list[list[int]], str]:
    """Run ``luke`` on the DaskRunner (one range a partition), check that its passes read every range of the dump
    once each and that each worker opened one title table for all the partitions it ran (the DaskRunner sets a DoFn
    up for each partition, one after another: they share one state, ``beam/setup_state.py``), and return the
    starts each worker read and what it printed."""
    reads = directory / "reads"
    reads.mkdir()
    arguments = (*arguments, "--streams-per-range", "1", "--runner=apache_beam.runners.dask.dask_runner.DaskRunner")
    arguments = (*arguments, "--dask_partition_size=1", f"--dask_client_address={scheduler_address}")
    with dask_range_reads(scheduler_address, reads):
        result = CliRunner().invoke(main, list(arguments))
    assert result.exit_code == 0, result.output
    lines_by_worker = [[line.split() for line in path.read_text().splitlines()] for path in reads.iterdir()]
    starts_by_worker = [[int(start) for start, _, _ in lines] for lines in lines_by_worker]
    starts = sorted(start for starts in starts_by_worker for start in starts)
    assert starts == sorted(READING_PASSES * read_stream_offsets(multistream_index_path(arguments[1])))
    assert max(int(tables) for lines in lines_by_worker for _, tables, _ in lines) == 1  # the article pass's own
    # each worker ran several partitions of the article pass (read with the table open), all with one table
    assert all(sum(opened != "0" for _, _, opened in lines) > 1 for lines in lines_by_worker)
    assert max(int(opened) for lines in lines_by_worker for _, _, opened in lines) == 1
    return starts_by_worker, result.output


def test_on_the_dask_runner_both_workers_read_its_ranges_into_the_same_vocabulary(
    dump: Path, vocab_run: tuple[Path, dict, list[StreamRange]], dask_scheduler_address: str, tmp_path: Path
) -> None:
    """The ranges are the job's created elements, which the DaskRunner partitions (here one range a partition):
    fanned out from the one file, they stayed in its one partition, which a single worker read whole."""
    output = tmp_path / "vocab.jsonl"
    starts_by_worker, printed = run_on_dask_reading_ranges(
        dask_scheduler_address, tmp_path, "build-entity-vocab", str(dump), "--output", str(output)
    )
    assert len(starts_by_worker) == 2 and all(starts_by_worker)
    # the runner reports no metrics: the counts printed are the article pass's report
    assert "no counts available" not in printed
    assert re.search(r"pages\.read +[1-9]", printed)
    assert output.read_bytes() == vocab_run[0].read_bytes()


def test_on_the_dask_runner_build_corpus_reads_each_range_once_a_pass(
    dump: Path, stats: dict, bpe_tokenizer_dir: Path, dask_scheduler_address: str, tmp_path: Path
) -> None:
    """Beam's CombineGlobally would give an empty input its default through a side input, which the DaskRunner
    computes as a job of its own, running the article pass again (preprocessing/beam/combiners.py)."""
    output = tmp_path / "corpus"
    arguments = ["build-corpus", str(dump), "--output", str(output), "--tokenizer", str(bpe_tokenizer_dir)]
    run_on_dask_reading_ranges(dask_scheduler_address, tmp_path, *arguments, "--max-pages", str(stats["articles"]))
    metadata = Corpus.open(output).metadata
    assert metadata["counters"]["articles"] == stats["articles"]
    assert len(metadata["ledger"]["balances"]) > 0
