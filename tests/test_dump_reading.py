"""Reading dumps: split and multistream files, UTF-16, and every kind of bad input."""

from __future__ import annotations

import bz2
import re
from pathlib import Path

import pytest
from beam_helpers import IN_MEMORY, run_and_collect
from dump_builders import page_xml, sample_parts, write_dump, write_multistream

from preprocessing.sources.files import DamagedDumpError, DumpFileError, expand_patterns
from preprocessing.sources.multistream import read_stream_offsets
from preprocessing.sources.reading import ReadDumpPages, plan_reading, read_site_info
from preprocessing.sources.xml_pages import PageFailure, split_pages


def _read(patterns, streams_per_range: int = 20, **kwargs):
    plan = plan_reading([str(p) for p in patterns], streams_per_range)
    return run_and_collect(lambda pipeline: pipeline | ReadDumpPages(plan, **kwargs))


@pytest.fixture(scope="session")
def enwiki_pages_read(enwiki_dump):
    return _read([enwiki_dump])


def test_reads_every_page_of_the_enwiki_sample(enwiki_pages_read):
    pages, summary = enwiki_pages_read
    assert len(pages) == 206 and summary.get("pages.read") == 206
    assert summary.total("pages_failed") == 0
    by_title = {page.title: page for page in pages}
    assert by_title["AccessibleComputing"].redirect == "Computer accessibility"
    assert by_title["AccessibleComputing"].page_id == 10
    anarchism = by_title["Anarchism"]
    assert (anarchism.page_id, anarchism.namespace, anarchism.redirect) == (12, 0, None)
    assert anarchism.wikitext.startswith("{{Redirect2|Anarchist|Anarchists|the fictional character|")
    assert anarchism.wikitext.endswith("[[Category:Far-left politics]]")
    assert sum(page.redirect is not None for page in pages) == 100


def test_reads_the_utf16_bgwiki_sample_with_its_own_namespaces(bgwiki_dump):
    pages, _ = _read([bgwiki_dump])
    assert sorted((page.page_id, page.namespace) for page in pages) == [(558, 0), (559, 4), (560, 4)]
    assert {page.title for page in pages} >= {"Григориански календар"}
    assert "Григорианският календар" in next(page for page in pages if page.page_id == 558).wikitext
    site = read_site_info([str(bgwiki_dump)])
    assert site.language == "bg" and site.namespace_of("Категория") == 14 and site.namespace_of("Уикипедия") == 4


@pytest.mark.slow
def test_multistream_file_reads_in_ranges_like_the_plain_file(enwiki_dump, enwiki_pages_read, tmp_path):
    path = write_multistream(enwiki_dump, tmp_path, pages_per_stream=10)
    (dump,) = expand_patterns([str(tmp_path / "*.bz2")])  # the index is paired, not read as a dump
    assert dump.path == str(path) and dump.index_path.endswith("-multistream-index.txt.bz2")
    assert len(read_stream_offsets(dump.index_path)) == 21
    pages, summary = _read([path], streams_per_range=3)  # 7 ranges read independently
    assert sorted(pages, key=lambda page: page.page_id) == sorted(enwiki_pages_read[0], key=lambda page: page.page_id)
    assert summary.total("pages_failed") == 0


def test_split_pages_cuts_at_page_tags_in_any_block_layout():
    xml = "<mediawiki><siteinfo/>" + "".join(f"<page><id>{i}</id>é</page>" for i in range(5)) + "</mediawiki>"
    for encoding in ("utf-8", "utf-16-le"):
        data = xml.encode(encoding)
        for block in (1, 2, 7, 1000):
            blocks = (data[i : i + block] for i in range(0, len(data), block))
            pages = list(split_pages(blocks, encoding))
            assert [page.decode(encoding) for page in pages] == [f"<page><id>{i}</id>é</page>" for i in range(5)]


def test_split_pages_skips_oversized_pages_without_holding_them():
    big = b"<page><id>7</id>" + b"x" * 5000 + b"</page>"
    data = b"<page><id>6</id></page>" + big + b"<page><id>8</id></page>"
    blocks = (data[i : i + 512] for i in range(0, len(data), 512))
    items = list(split_pages(blocks, "utf-8", max_page_bytes=1024))
    assert items == [b"<page><id>6</id></page>", PageFailure("page_too_large", "7"), b"<page><id>8</id></page>"]


@pytest.fixture(scope="session")
def bad_input_run(enwiki_dump, tmp_path_factory):
    """One job over: a dump with broken pages (malformed XML, bytes that are not UTF-8, a 10 MB page),
    a truncated bz2 file and a dump without pages. Real pages around the broken ones must survive."""
    directory = tmp_path_factory.mktemp("bad-input")
    header, pages, _ = sample_parts(enwiki_dump)
    malformed = page_xml(9000001, "Broken XML", "text").replace(b"</title>", b"</titel>")
    not_utf8 = page_xml(9000002, "Latin-1", "caf\u00e9").replace("café".encode(), "café".encode("latin-1"))
    huge = page_xml(9000003, "Huge", "word " * (2 * 1024 * 1024))  # 10 MB of wikitext
    broken = write_dump(directory / "broken-pages.xml", header, [pages[0], malformed, not_utf8, huge, pages[1]])
    compressed = bz2.compress(header + b"".join(pages[2:]) + b"</mediawiki>\n")  # several bz2 blocks
    truncated = directory / "truncated.xml.bz2"
    truncated.write_bytes(compressed[: len(compressed) // 2])
    empty = write_dump(directory / "empty.xml", header, [])
    return _read([broken, truncated, empty], allow_damaged=True)


@pytest.mark.slow
def test_broken_pages_are_counted_with_their_ids_and_never_stop_the_job(bad_input_run, enwiki_pages_read):
    pages, summary = bad_input_run
    ids = {page.page_id for page in pages}
    assert {10, 12} <= ids  # the real pages around the broken ones
    assert not ids & {9000001, 9000002, 9000003}
    assert summary.get("pages_failed.malformed_xml") == 1
    assert summary.get("pages_failed.invalid_encoding") == 1
    assert summary.get("pages_failed.page_too_large") == 1
    assert summary.failed_page_ids["pages_failed.malformed_xml"] == ["9000001"]
    assert summary.failed_page_ids["pages_failed.invalid_encoding"] == ["9000002"]
    assert summary.failed_page_ids["pages_failed.page_too_large"] == ["9000003"]
    # the truncated file, allowed: the pages before the cut are read, the cut is counted and named
    assert summary.get("files_damaged.truncated_file") == 1
    (where,) = summary.failed_page_ids["files_damaged.truncated_file"]
    assert re.fullmatch(r".*/truncated\.xml\.bz2@\d+", where)
    read_from_truncated = ids - {10, 12}
    expected_ids = {page.page_id for page in enwiki_pages_read[0]}
    assert read_from_truncated and read_from_truncated <= expected_ids
    assert summary.get("pages.read") == len(pages)


DAMAGE = {
    "cut.xml.bz2": (
        "truncated_file",
        "compressed data ends early; reading stopped at compressed byte 847,935 of 847,935",
    ),
    "flipped.xml.bz2": (
        "corrupt_file",
        r"corrupt compressed data \(.+\); reading stopped at compressed byte [\d,]+ of",
    ),
    "cut.xml": ("xml_ends_early", "the XML ends early, after 3,044,873 bytes of XML without </mediawiki>"),
    "no-end.xml": ("xml_ends_early", "the XML ends early, after 6,089,733 bytes of XML without </mediawiki>"),
}


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_a_damaged_file_fails_the_job_naming_it_unless_damage_is_allowed(damaged_enwiki_dumps, name):
    path = damaged_enwiki_dumps[name]
    reason, message = DAMAGE[name]
    with pytest.raises(DamagedDumpError, match=f"^damaged dump file {re.escape(str(path))}: {message}"):
        _read([path])
    pages, summary = _read([path], allow_damaged=True)
    assert summary.get(f"files_damaged.{reason}") == 1
    (where,) = summary.failed_page_ids[f"files_damaged.{reason}"]
    assert where.startswith(f"{path}@")
    assert 90 < len(pages) == summary.get("pages.read") <= 206  # every page before the damage


@pytest.mark.slow
def test_a_damaged_multistream_file_names_the_stream_where_reading_stopped(enwiki_dump, tmp_path):
    path = write_multistream(enwiki_dump, tmp_path, pages_per_stream=10)
    whole = path.read_bytes()
    offsets = read_stream_offsets(str(tmp_path / "enwiki-test-pages-articles-multistream-index.txt.bz2"))
    path.write_bytes(whole[: offsets[8] + 100])  # inside the 9th page stream
    with pytest.raises(
        DamagedDumpError,
        match=f"{path}: compressed data ends early; reading stopped at the bz2 stream at byte {offsets[8]:,}",
    ):
        _read([path], streams_per_range=3)
    pages, summary = _read([path], streams_per_range=3, allow_damaged=True)
    assert summary.failed_page_ids["files_damaged.truncated_file"] == [f"{path}@{offsets[8]}"]
    assert len(pages) == 80  # the 8 whole streams before it
    path.write_bytes(whole[: whole.rindex(b"BZh")])  # every page stream, not the one closing </mediawiki>
    with pytest.raises(DamagedDumpError, match="the XML ends early"):
        _read([path], streams_per_range=3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"just some text, not XML\n", "not a MediaWiki XML dump"),
        (b"<mediawiki><page><title>x</title></page></mediawiki>", "no <siteinfo>"),
    ],
)
def test_files_that_are_not_dumps_fail_fast_naming_the_file(tmp_path, content, message):
    path = tmp_path / "not-a-dump.xml"
    path.write_bytes(content)
    with pytest.raises(DumpFileError, match=message) as error:
        read_site_info([str(path)])
    assert str(path) in str(error.value)


def test_unreadable_and_missing_files_fail_fast(tmp_path):
    garbage = tmp_path / "garbage.xml.bz2"
    garbage.write_bytes(b"BZh9 this is not bzip2 data at all")
    with pytest.raises(DumpFileError, match="garbage.xml.bz2"):
        read_site_info([str(garbage)])
    with pytest.raises(DumpFileError, match="no dump file matches"):
        read_site_info([str(tmp_path / "missing-*.xml.bz2")])


def test_dumps_of_two_languages_are_refused(enwiki_dump, bgwiki_dump):
    with pytest.raises(ValueError, match="different languages"):
        read_site_info([str(enwiki_dump), str(bgwiki_dump)])


def test_sample_paths_are_plain_strings_or_paths(enwiki_dump):
    assert read_site_info([str(Path(enwiki_dump))]).dbname == "enwiki"


@pytest.mark.parametrize("command", ["build-entity-vocab", "build-corpus"])
def test_a_multistream_dump_without_its_index_is_read_whole_with_a_warning(command, enwiki_dump, tmp_path):
    from click.testing import CliRunner

    from luke.cli import main

    path = write_multistream(enwiki_dump, tmp_path, pages_per_stream=10)
    index = tmp_path / "enwiki-test-pages-articles-multistream-index.txt.bz2"
    index.unlink()
    output = tmp_path / ("vocab.jsonl" if command == "build-entity-vocab" else "corpus")
    extra = [] if command == "build-entity-vocab" else ["--train-tokenizer", "--vocab-size", "300"]
    result = CliRunner().invoke(
        main, [command, str(path), "--output", str(output), "--keep-missing-targets", *extra, *IN_MEMORY]
    )
    assert result.exit_code == 0, result.output
    warning = f"warning: {path} is a multistream dump but its index {index} is missing: one worker reads the whole file"
    assert warning in result.output


@pytest.mark.parametrize("command", ["build-entity-vocab", "build-corpus"])
def test_a_damaged_multistream_index_fails_the_job_before_it_starts_naming_the_line(command, enwiki_dump, tmp_path):
    from click.testing import CliRunner

    from luke.cli import main

    path = write_multistream(enwiki_dump, tmp_path, pages_per_stream=10)
    index = tmp_path / "enwiki-test-pages-articles-multistream-index.txt.bz2"
    lines = bz2.decompress(index.read_bytes()).split(b"\n")
    lines[41] = b"<html>mirror error page</html>"
    index.write_bytes(bz2.compress(b"\n".join(lines)))
    output = tmp_path / ("vocab.jsonl" if command == "build-entity-vocab" else "corpus")
    extra = [] if command == "build-entity-vocab" else ["--train-tokenizer", "--vocab-size", "300"]
    result = CliRunner().invoke(main, [command, str(path), "--output", str(output), *extra, *IN_MEMORY])
    assert result.exit_code != 0
    assert f"{index}, line 42: expected 'offset:page_id:title', got b'<html>mirror error page</html>'" in result.output
    assert result.output.count("\n") == 1 and not output.exists()
