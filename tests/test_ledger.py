"""Nothing is lost silently: an element lost between two stages (a patched step) fails the job in one line naming
the stage whose counts do not balance, and no metadata.json is written; the title table refuses colliding titles
and never takes a title it does not hold for one it does."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from corpus_builders import build_sample_corpus

from preprocessing.beam.failures import JobError
from preprocessing.entities import title_table
from preprocessing.entities.title_table import (
    RUN_SCHEMA,
    TitleCollisionError,
    TitleKind,
    TitleTable,
    part_path,
    write_part,
    write_title_run,
)
from preprocessing.part_runs import read_part


def _drop_first(function):
    """``function`` whose first call that gives something gives one element (or table row) less."""
    state = {"dropped": False}

    def losing(*args, **kwargs):
        result = function(*args, **kwargs)
        if state["dropped"]:
            return result
        if isinstance(result, pa.Table):
            state["dropped"] = result.num_rows > 0
            return result.slice(1)
        items = list(result)
        state["dropped"] = bool(items)
        return items[1:]

    return losing


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "stage"),
    [
        # a title lost between the title pass's runs and the table file
        ("preprocessing.entities.resolution.read_part", "title table: titles and redirects read"),
        # a link count lost between the article pass's runs and the vocabulary
        ("preprocessing.entities.vocab_building.read_part", "entity vocabulary: links counted"),
        # an article lost between the article files and the packing pass
        ("preprocessing.corpus.shard_packing.read_article_file", "packing pass: articles read = written"),
        # a sequence lost between packing and the shard file
        ("preprocessing.corpus.shard_packing.pack_sentences", "packing: mentions"),
    ],
)
def test_an_element_lost_between_two_stages_fails_the_build_naming_the_stage(
    enwiki_dump, bpe_tokenizer_dir, tmp_path, monkeypatch, target, stage
):
    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(f"{module}.{name}", _drop_first(getattr(__import__(module, fromlist=[name]), name)))
    output = tmp_path / "corpus"
    with pytest.raises(JobError, match=f"the counts do not balance at the {stage}") as error:
        build_sample_corpus(
            enwiki_dump, output, tokenizer=str(bpe_tokenizer_dir), max_pages=20, validation_fraction=0.1
        )
    assert "\n" not in str(error.value) and "holds no corpus (no metadata.json)" in str(error.value)
    assert not (output / "metadata.json").exists()


def _merged_rows(directory, entries) -> pa.Table:
    """``(title, entry)`` pairs written as two units' runs (alternately) and read back as the table's one part."""
    runs = [str(directory / f"run-{unit}.arrow") for unit in range(2)]
    for unit, run in enumerate(runs):
        write_title_run(run, [(title, entry, 10 + index) for index, (title, entry) in enumerate(entries)][unit::2], 1)
    return read_part(runs, 0, RUN_SCHEMA)


def test_the_table_refuses_two_titles_with_one_key(tmp_path, monkeypatch):
    monkeypatch.setattr(title_table, "title_hash", lambda title: (7, hash(title) & 0xFFFF))
    entries = [("Paris", (TitleKind.ARTICLE, None)), ("Lutetia", (TitleKind.REDIRECT, "Paris"))]
    rows = _merged_rows(tmp_path, entries)
    with pytest.raises(TitleCollisionError, match=r"the titles '(Paris|Lutetia)' and '(Paris|Lutetia)' have the same"):
        write_part(str(tmp_path / "part.arrow"), rows)
    assert not (tmp_path / "part.arrow").exists()  # nothing written


def test_lookups_find_each_title_and_never_another_with_its_key(tmp_path, monkeypatch):
    entries = [
        ("Paris", (TitleKind.ARTICLE, None)),
        ("Lutetia", (TitleKind.REDIRECT, "Paris")),
        ("Atlantis", (TitleKind.REDIRECT, "Atlantis (island)")),
        ("Paris", (TitleKind.REDIRECT, "Paris (disambiguation)")),  # a duplicate page: the article wins
        ("Atlantis", (TitleKind.REDIRECT, "Atlantis (myth)")),  # two redirects: the smaller target
    ]
    counts = write_part(part_path(str(tmp_path), 0, 1), _merged_rows(tmp_path, entries))
    assert counts == {"article": 1, "redirect": 2, "duplicates": 2}
    table = TitleTable(str(tmp_path), 1)
    lookups: Counter = Counter()
    found = table.lookup(["Paris", "Lutetia", "Atlantis", "Rome"], lookups)
    assert found == [
        (TitleKind.ARTICLE, None),
        (TitleKind.REDIRECT, "Paris"),
        (TitleKind.REDIRECT, "Atlantis (island)"),
        None,
    ]
    # a title whose 64-bit key is in the table but whose other 64 bits differ is not that entry
    key, check = title_table.title_hash("Paris")
    monkeypatch.setattr(title_table, "title_hash", lambda title: (key, check ^ 1) if title == "Not Paris" else (0, 0))
    assert table.lookup(["Not Paris"], lookups) == [None]
    assert lookups == {"links.table_check_mismatch": 1}


def _damaged_run(path: str, titles, parts: int) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(b"ARROW1 and then nothing an Arrow reader can use")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("write_run", "message"),
    [(lambda path, titles, parts: None, "FileNotFoundError"), (_damaged_run, "DamagedRunError")],
    ids=["lost", "damaged"],
)
def test_a_run_lost_or_damaged_before_the_next_pass_fails_the_build_naming_it(
    enwiki_dump, bpe_tokenizer_dir, tmp_path, monkeypatch, write_run, message
):
    """A unit's title run lost or damaged between the title and table passes (a scratch disk cleaned, a write
    lost or cut short)."""
    monkeypatch.setattr("preprocessing.entities.articles.write_title_run", write_run)
    output = tmp_path / "corpus"
    with pytest.raises(JobError) as error:
        build_sample_corpus(enwiki_dump, output, tokenizer=str(bpe_tokenizer_dir), max_pages=20)
    assert "\n" not in str(error.value)
    assert str(error.value).startswith("the table pass failed")
    assert message in str(error.value)
    assert f"{output}/_build/title_runs/unit-000000.arrow" in str(error.value)
    assert not (output / "metadata.json").exists()
