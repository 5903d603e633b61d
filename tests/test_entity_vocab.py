"""EntityVocab: order, lookup, the official LUKE jsonl/tsv formats, checksums and malformed files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from preprocessing.entities.vocab import MASK_ID, PAD_ID, UNK_ID, EntityVocab, EntityVocabError

COUNTS = [("Beta", 5), ("Alpha", 5), ("Gamma", 9), ("Delta", 1), ("Epsilon", 2)]


def test_order_is_specials_then_count_descending_then_title():
    vocab = EntityVocab.from_counts(COUNTS, size=7, min_count=2, language="en")
    assert [vocab.title_of(i) for i in range(len(vocab))] == [
        "[PAD]",
        "[UNK]",
        "[MASK]",
        "Gamma",
        "Alpha",
        "Beta",
        "Epsilon",
    ]
    assert (vocab["[PAD]"], vocab["[UNK]"], vocab["[MASK]"]) == (PAD_ID, UNK_ID, MASK_ID)
    assert vocab["Gamma"] == 3 and "Delta" not in vocab  # below min_count
    assert vocab.get_id("Delta") == UNK_ID
    truncated = EntityVocab.from_counts(COUNTS, size=5)
    assert [entry.title for entry in truncated.entries[3:]] == ["Gamma", "Alpha"]


def test_jsonl_is_the_official_luke_format_and_round_trips(tmp_path):
    vocab = EntityVocab.from_counts(COUNTS, size=10, language="en")
    path = tmp_path / "entity_vocab.jsonl"
    vocab.save(str(path))
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"id": 0, "entities": [["[PAD]", None]], "count": 0}
    assert lines[3] == {"id": 3, "entities": [["Gamma", "en"]], "count": 9}
    loaded = EntityVocab.load(str(path))
    assert loaded.entries == vocab.entries and loaded.checksum() == vocab.checksum()
    assert not (tmp_path / "entity_vocab.jsonl.tmp").exists()


def test_tsv_round_trip_keeps_ids_and_counts(tmp_path):
    vocab = EntityVocab.from_counts(COUNTS, size=10)
    path = tmp_path / "entity_vocab.tsv"
    vocab.save(str(path))
    assert path.read_text(encoding="utf-8").splitlines()[:4] == ["[PAD]\t0", "[UNK]\t0", "[MASK]\t0", "Gamma\t9"]
    loaded = EntityVocab.load(str(path))
    assert loaded.title_to_id() == vocab.title_to_id()
    assert [entry.count for entry in loaded.entries] == [entry.count for entry in vocab.entries]


def test_multilingual_jsonl_maps_every_title_to_its_id(tmp_path):
    lines = [
        {"id": 0, "entities": [["[PAD]", None]], "count": 0},
        {"id": 1, "entities": [["[UNK]", None]], "count": 0},
        {"id": 2, "entities": [["[MASK]", None]], "count": 0},
        {"id": 3, "entities": [["Japan", "en"], ["日本", "ja"]], "count": 7},
    ]
    path = tmp_path / "mluke.jsonl"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    vocab = EntityVocab.load(str(path))
    assert vocab["Japan"] == vocab["日本"] == 3


@pytest.mark.parametrize("name", ["vocab.jsonl", "vocab.tsv"])
def test_a_vocabulary_written_a_block_at_a_time_is_the_one_save_writes(tmp_path, name, monkeypatch):
    monkeypatch.setattr("preprocessing.entities.vocab.WRITE_BLOCK_ENTRIES", 2)  # several blocks
    saved, streamed = tmp_path / "saved", tmp_path / "streamed"
    saved.mkdir(), streamed.mkdir()
    vocab = EntityVocab.from_counts(COUNTS, size=10, language="en")
    vocab.save(str(saved / name))
    ranked = [entry.entities[0][0] for entry in vocab.entries[3:]]
    assert EntityVocab.write_ranked(
        str(streamed / name), [(title, vocab.entries[vocab[title]].count) for title in ranked], "en"
    ) == len(vocab)
    assert (streamed / name).read_bytes() == (saved / name).read_bytes()
    loaded = EntityVocab.load(str(saved / name))
    assert EntityVocab.file_summary(str(saved / name)) == (len(loaded), loaded.checksum())


def test_packing_looks_every_title_up_by_its_hash_and_finds_no_other(tmp_path, monkeypatch):
    from preprocessing.corpus.entity_ids import EntityIds
    from preprocessing.entities import title_table

    path = tmp_path / "mluke.jsonl"
    vocab = EntityVocab.from_counts([("Tokyo", 9), ("Kyoto", 4), ("Nara", 1)], size=6, language="en")
    multilingual = (
        vocab.to_jsonl()
        + json.dumps({"id": 6, "entities": [["Japan", "en"], ["日本", "ja"]], "count": 1}, ensure_ascii=False)
        + "\n"
    )
    path.write_text(multilingual, encoding="utf-8")
    ids = EntityIds(str(path), first_id=3)
    assert len(ids) == 5
    assert {title: ids.get(title) for title in ["Tokyo", "Kyoto", "Nara", "Japan", "日本", "Osaka", "[UNK]"]} == {
        "Tokyo": 3,
        "Kyoto": 4,
        "Nara": 5,
        "Japan": 6,
        "日本": 6,
        "Osaka": None,
        "[UNK]": None,
    }
    key, check = title_table.title_hash("Tokyo")  # another title with Tokyo's key but not its check: not Tokyo
    monkeypatch.setattr("preprocessing.corpus.entity_ids.title_hash", lambda title: (key, check ^ 1))
    assert ids.get("Not Tokyo") is None
    monkeypatch.setattr("preprocessing.corpus.entity_ids.title_hash", lambda title: (7, len(title)))
    with pytest.raises(
        title_table.TitleCollisionError, match=r"mluke.jsonl: the titles of ids \d and \d have the same"
    ):
        EntityIds(str(path), first_id=3)


def test_checksum_depends_on_content_only():
    first = EntityVocab.from_counts(COUNTS, size=10, language="en")
    again = EntityVocab.from_counts(list(reversed(COUNTS)), size=10, language="en")
    other = EntityVocab.from_counts([*COUNTS, ("Zeta", 1)], size=10, language="en")
    assert first.checksum() == again.checksum() != other.checksum()
    assert first.checksum().startswith("sha256:")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "bad.jsonl",
            '{"id": 0, "entities": [["[PAD]", null]], "count": 0}\nnot json\n',
            r"bad.jsonl, line 2: invalid JSON",
        ),
        ("fields.jsonl", '{"id": 0, "title": "[PAD]"}\n', r"line 1: expected an object with 'id', 'entities'"),
        ("ids.jsonl", '{"id": 1, "entities": [["[PAD]", null]], "count": 0}\n', r"line 1: expected id 0, found 1"),
        ("pairs.jsonl", '{"id": 0, "entities": ["[PAD]"], "count": 0}\n', r"line 1: 'entities' must be"),
        (
            "nospecial.jsonl",
            '{"id": 0, "entities": [["Japan", "en"]], "count": 3}\n',
            r"id 0 must be the special entry",
        ),
        (
            "short.jsonl",
            '{"id": 0, "entities": [["[PAD]", null]], "count": 0}\n',
            r"id 1 must be the special entry \[UNK\]",
        ),
        ("bad.tsv", "[PAD]\t0\n[UNK]\tmany\n", r"bad.tsv, line 2: expected 'title<TAB>count'"),
    ],
)
def test_malformed_files_fail_with_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EntityVocabError, match=message):
        EntityVocab.load(str(path))


def test_missing_and_duplicate_entries_are_reported(tmp_path):
    with pytest.raises(EntityVocabError, match="cannot read entity vocabulary"):
        EntityVocab.load(str(tmp_path / "absent.jsonl"))
    path = tmp_path / "dup.tsv"
    path.write_text("[PAD]\t0\n[UNK]\t0\n[MASK]\t0\nJapan\t4\nJapan\t3\n", encoding="utf-8")
    with pytest.raises(EntityVocabError, match="'Japan' appears under ids 3 and 4"):
        EntityVocab.load(str(path))


def test_help_of_the_cli_does_not_load_beam():
    code = (
        "import sys; from click.testing import CliRunner; from luke.cli import main; "
        "assert CliRunner().invoke(main, ['--help']).exit_code == 0; "
        "assert CliRunner().invoke(main, ['build-entity-vocab', '--help']).exit_code == 0; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('apache_beam', 'torch')))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_a_local_vocabulary_loads_without_beam(tmp_path, monkeypatch):
    """A training-only machine (the GPU suite's) has no Beam: local files are read from the disk."""
    path = tmp_path / "entity_vocab.jsonl"
    EntityVocab.from_counts(COUNTS, size=10, language="en").save(str(path))
    for module in ("apache_beam", "apache_beam.io", "apache_beam.io.filesystems"):
        monkeypatch.setitem(sys.modules, module, None)  # importing it raises ImportError
    assert EntityVocab.load(str(path)).checksum() == EntityVocab.from_counts(COUNTS, size=10, language="en").checksum()
