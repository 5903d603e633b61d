"""Rows exchanged through files: every row of every unit's run is read back in its part, and the vocabulary made
from runs cut into parts equals one sort of all the counts."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from corpus_builders import IN_PROCESS

from preprocessing.beam.options import create_pipeline
from preprocessing.entities.vocab import EntityVocab
from preprocessing.entities.vocab_building import LinkCountRuns, VocabularyTarget, vocabulary_pass
from preprocessing.part_runs import DamagedRunError, read_part, run_path, write_run

SCHEMA = pa.schema([pa.field("key", pa.uint64()), pa.field("unit", pa.int64())])


def test_each_row_is_read_back_once_in_its_part_and_in_its_unit_order(tmp_path):
    parts = 5
    rng = np.random.default_rng(0)
    written = {}
    for unit, rows in enumerate([40, 0, 3]):  # a unit without rows still has every part
        keys = rng.integers(0, 2**64, size=rows, dtype=np.uint64)
        write_run(run_path(str(tmp_path), unit), pa.table([keys, np.full(rows, unit)], schema=SCHEMA), keys, parts)
        written[unit] = keys
    runs = [run_path(str(tmp_path), unit) for unit in written]
    read = [read_part(runs, index, SCHEMA) for index in range(parts)]
    for index, part in enumerate(read):
        assert all(key % parts == index for key in part["key"].to_pylist())
    for unit, keys in written.items():
        for index, part in enumerate(read):
            in_part = part.filter(pc.equal(part["unit"], unit))["key"].to_pylist()
            assert in_part == [key for key in keys.tolist() if key % parts == index]

    # a part's rows are read, not mapped: a memory map of every run would hold most of each (the kernel maps the
    # pages around each one read) for as long as the part's rows live
    mapped = Path("/proc/self/maps").read_text()
    assert read and not [run for run in runs if run in mapped]


def _two_runs(directory: Path) -> list[str]:
    keys = np.arange(4, dtype=np.uint64)
    runs = [run_path(str(directory), unit) for unit in range(2)]
    for path in runs:
        write_run(path, pa.table([keys, np.zeros(4, dtype=np.int64)], schema=SCHEMA), keys, 2)
    return runs


def test_a_missing_run_is_named(tmp_path):
    runs = _two_runs(tmp_path)
    Path(runs[1]).unlink()  # a scratch file removed between the passes
    with pytest.raises(FileNotFoundError, match="unit-000001.arrow"):
        read_part(runs, 0, SCHEMA)


@pytest.mark.parametrize("damage", ["cut short", "overwritten", "a batch garbled"])
def test_a_damaged_run_is_named(tmp_path, damage):
    runs = _two_runs(tmp_path)
    run = Path(runs[1])
    content = run.read_bytes()
    if damage == "cut short":
        run.write_bytes(content[: len(content) // 2])
    elif damage == "overwritten":
        run.write_bytes(b"\0" * len(content))
    else:  # the file's first batch message (after the 8-byte magic and the schema message) turned to noise
        run.write_bytes(content[:200] + bytes(range(64)) + content[264:])
    with pytest.raises(DamagedRunError, match=r"unit-000001\.arrow is damaged .*run the job again"):
        read_part(runs, 0, SCHEMA)


def test_the_vocabulary_of_runs_cut_into_parts_equals_one_sort_of_all_counts(tmp_path):
    rng = random.Random(0)
    titles = [f"Title {number}" for number in range(400)] + ["Émile", "Zürich", "東京", "𝔸 ring", "Zebra"]
    units = [Counter({rng.choice(titles): rng.randrange(1, 4) for _ in range(300)}) for _ in range(4)]
    runs = LinkCountRuns(str(tmp_path / "runs"), parts=3)
    for index, counts in enumerate(units):
        runs.write(index, counts)
    pipeline = create_pipeline(PipelineOptions(list(IN_PROCESS)))
    target = VocabularyTarget(str(tmp_path / "vocab.jsonl"), 53, min_count=2)
    vocabulary_pass(pipeline, runs, range(len(units)), str(tmp_path), target)
    pipeline.run().wait_until_finish()

    total = sum(units, Counter())  # many ties at each count: the order between parts is the titles'
    expected = EntityVocab.from_counts(total.items(), size=53, min_count=2)
    assert (tmp_path / "vocab.jsonl").read_text(encoding="utf-8") == expected.to_jsonl()
    assert json.loads((tmp_path / "vocabulary_pass.json").read_text()) == {
        "entities.below_min_count": sum(count < 2 for count in total.values()),
        "entities.distinct": len(total),
        "entities.in_vocab": 50,
        "entities.links_counted": sum(total.values()),
    }
