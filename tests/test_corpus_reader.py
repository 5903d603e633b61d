"""The corpus reader on a small hand-written corpus (the builder's own tests read real ones)."""

import json

import numpy as np
import pyarrow as pa
import pytest

from preprocessing.corpus.directory import FORMAT_NAME, FORMAT_VERSION, SCHEMA, Corpus, CorpusError, shard_path

ROWS = [
    {"page_id": 12, "word_ids": [5, 6, 7], "entity_ids": [3], "entity_starts": [0], "entity_ends": [2]},
    {"page_id": 12, "word_ids": [8], "entity_ids": [], "entity_starts": [], "entity_ends": []},
    {"page_id": 25, "word_ids": [9, 10], "entity_ids": [4, 1], "entity_starts": [0, 1], "entity_ends": [1, 2]},
]


def write_corpus(root, rows_per_shard):
    shards = []
    for index, rows in enumerate(rows_per_shard):
        relative = shard_path("train", index, len(rows_per_shard))
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        with pa.OSFile(str(root / relative), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
            for row in rows:  # one record batch per row: exercises batch boundaries
                writer.write_table(pa.Table.from_pylist([row], schema=SCHEMA))
        shards.append(relative)
    (root / "entity_vocab.jsonl").write_text("")
    (root / "tokenizer").mkdir()
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "max_seq_length": 8,
        "max_entity_length": 4,
        "max_mention_length": 2,
        "splits": {"train": {"shards": shards, "sequences": sum(map(len, rows_per_shard))}},
    }
    (root / "metadata.json").write_text(json.dumps(metadata))
    return metadata


def test_random_access_across_shards_and_batches(tmp_path):
    write_corpus(tmp_path, [ROWS[:2], ROWS[2:]])
    split = Corpus.open(tmp_path).split("train")
    assert len(split) == 3
    for index in (2, 0, 1, -1):
        expected, row = ROWS[index], split[index]
        assert row["page_id"] == expected["page_id"]
        for column in ("word_ids", "entity_ids", "entity_starts", "entity_ends"):
            assert row[column].dtype == np.int32
            assert row[column].tolist() == expected[column]
    assert not split[0]["word_ids"].flags.writeable  # a view of the mapped file, not a copy
    with pytest.raises(IndexError, match="out of range"):
        split[3]


@pytest.mark.parametrize("version", [1, 2])
def test_a_corpus_of_an_earlier_format_version_still_reads(tmp_path, version):
    # versions 1 and 2 have the same schema; only their text (1) and the ids around links (1, 2) differ
    metadata = write_corpus(tmp_path, [ROWS])
    (tmp_path / "metadata.json").write_text(json.dumps(metadata | {"format_version": version}))
    assert FORMAT_VERSION == 3 and len(Corpus.open(tmp_path).split("train")) == len(ROWS)


def test_incomplete_corpus_is_refused(tmp_path):
    write_corpus(tmp_path, [ROWS])
    (tmp_path / "metadata.json").unlink()
    with pytest.raises(CorpusError, match="metadata.json is missing"):
        Corpus.open(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": 99}, "format_version 99 is not supported"),
        ({"format": "tfrecords"}, "expected 'luke-corpus'"),
        ({"max_seq_length": 0}, "max_seq_length must be a positive integer"),
        ({"splits": {"train": {"shards": ["train/nope.arrow"]}}}, "shards that do not exist"),
    ],
)
def test_bad_metadata_names_the_problem(tmp_path, change, message):
    metadata = write_corpus(tmp_path, [ROWS])
    (tmp_path / "metadata.json").write_text(json.dumps(metadata | change))
    with pytest.raises(CorpusError, match=message):
        Corpus.open(tmp_path)


def test_row_count_mismatch_is_detected(tmp_path):
    metadata = write_corpus(tmp_path, [ROWS])
    metadata["splits"]["train"]["sequences"] = 4
    (tmp_path / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(CorpusError, match="holds 3 rows but metadata.json says 4"):
        Corpus.open(tmp_path).split("train")
