import bz2
import subprocess
import sys

import pytest

from preprocessing.sources.sample import SAMPLE_DUMPS, SampleDump, SampleDumpError, fetch_sample_dump, sha256_of


def test_english_dump_is_real_and_checksummed(enwiki_dump):
    assert sha256_of(enwiki_dump) == SAMPLE_DUMPS["en"].sha256
    with bz2.open(enwiki_dump, "rt", encoding="utf-8") as f:
        xml = f.read()
    assert xml.count("<page>") == 206
    assert "<title>AccessibleComputing</title>" in xml


def test_fetch_into_fresh_cache_then_offline(tmp_path, monkeypatch):
    path = fetch_sample_dump("bg", cache_dir=tmp_path)
    assert path.parent == tmp_path and sha256_of(path) == SAMPLE_DUMPS["bg"].sha256
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no wheel or temp dir left behind

    def no_network(*args, **kwargs):
        raise AssertionError("a cached dump must not run pip")

    monkeypatch.setattr(subprocess, "run", no_network)
    assert fetch_sample_dump("bg", cache_dir=tmp_path) == path


def test_corrupted_cache_is_fetched_again(tmp_path):
    path = fetch_sample_dump("bg", cache_dir=tmp_path)
    path.write_bytes(b"not a dump")
    assert sha256_of(fetch_sample_dump("bg", cache_dir=tmp_path)) == SAMPLE_DUMPS["bg"].sha256


def test_checksum_mismatch_is_a_clear_error(tmp_path, monkeypatch):
    wrong = SampleDump(SAMPLE_DUMPS["bg"].member, "0" * 64)
    monkeypatch.setitem(SAMPLE_DUMPS, "bg", wrong)
    with pytest.raises(SampleDumpError, match=r"checksum mismatch.*expected sha256 0000"):
        fetch_sample_dump("bg", cache_dir=tmp_path)
    assert not any(tmp_path.glob("*.bz2"))  # nothing unverified is cached


def test_missing_pip_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    with pytest.raises(SampleDumpError, match="cannot run pip"):
        fetch_sample_dump("en", cache_dir=tmp_path)


def test_unknown_language_names_the_choices():
    with pytest.raises(SampleDumpError, match=r"\['bg', 'en'\]"):
        fetch_sample_dump("xx")
