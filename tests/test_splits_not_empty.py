"""A corpus always has something to train on: one article trains (validation empty, said in a note), an empty
train split is an error naming the page counts, and a tokenizer smaller than asked for is reported."""

from __future__ import annotations

import pytest
from corpus_builders import build_sample_corpus

from preprocessing.commands.build_corpus import corpus_notes
from preprocessing.corpus import Corpus
from preprocessing.corpus.build import BuildError, CorpusBuildConfig, check_train_split, shard_tasks
from preprocessing.corpus.splits import TRAIN, VALIDATION, SplitPlan, moved_to_validation, page_hashes

PLAN = SplitPlan(validation_fraction=0.001, num_train_shards=4)


def _candidate(page_id: int, unit: int = 0) -> tuple[float, int, int]:
    return page_hashes(page_id)[0], page_id, unit


def test_the_only_article_with_a_mention_stays_in_train():
    assert moved_to_validation([_candidate(7)], PLAN) is None


def test_of_two_articles_the_smaller_split_hash_moves_to_validation():
    smallest, other = sorted([_candidate(7, unit=5), _candidate(8, unit=2)])
    moved = moved_to_validation([smallest, other], PLAN)
    assert moved == smallest
    tasks = shard_tasks(PLAN, 8, moved)  # 4 train shards of 2 units each, 1 validation shard of all 8
    assert [task.units for task in tasks if task.split == TRAIN] == [(0, 1), (2, 3), (4, 5), (6, 7)]
    skipping = [task for task in tasks if task.skip_page is not None]
    receiving = [task for task in tasks if task.moved_in is not None]
    assert [(task.split, task.index, task.skip_page) for task in skipping] == [(TRAIN, smallest[2] // 2, smallest[1])]
    assert [(task.split, task.moved_in) for task in receiving] == [(VALIDATION, (smallest[2], smallest[1]))]
    assert moved_to_validation([smallest, other], SplitPlan(validation_fraction=0.0)) is None


def test_an_empty_train_split_is_an_error_naming_the_page_counts():
    config = CorpusBuildConfig(dumps=("dump.xml",), output="out", train_tokenizer=True, validation_fraction=0.9)
    report = {
        "splits": {TRAIN: {"sequences": 0, "pages": 0}, VALIDATION: {"sequences": 12, "pages": 2}},
        "counters": {"articles": 3, "articles_without_sequences": 1},
    }
    with pytest.raises(BuildError) as error:
        check_train_split(report, config)
    message = str(error.value)
    assert "train split would be empty" in message
    assert "of 3 article(s) read, 2 made sequences, all in validation (--validation-fraction 0.9)" in message
    assert "1 made none" in message and "no metadata.json" in message
    check_train_split({"splits": {TRAIN: {"sequences": 1}}, "counters": {}}, config)  # anything to train: fine


def test_notes_for_an_empty_validation_split_and_a_small_tokenizer():
    metadata = {
        "splits": {TRAIN: {"sequences": 6}, VALIDATION: {"sequences": 0}},
        "tokenizer": {"requested_vocab_size": 8000, "reached_vocab_size": 542},
    }
    notes = corpus_notes(metadata)
    assert len(notes) == 2
    assert notes[0].startswith("the validation split is empty")
    assert "reached 542 of the 8,000 pieces" in notes[1]
    metadata["splits"][VALIDATION]["sequences"] = 1
    metadata["tokenizer"]["reached_vocab_size"] = 8000
    assert corpus_notes(metadata) == []


@pytest.mark.slow
def test_bulgarian_sample_as_in_readme_trains_its_one_article(bgwiki_dump, tmp_path):
    corpus_dir = build_sample_corpus(
        bgwiki_dump, tmp_path / "corpus", train_tokenizer=True, tokenizer_vocab_size=8000, num_shards=1
    )
    corpus = Corpus.open(corpus_dir)
    assert len(corpus.split(TRAIN)) > 0
    assert len(corpus.split(VALIDATION)) == 0
    notes = corpus_notes(corpus.metadata)
    assert any(note.startswith("the validation split is empty") for note in notes)
    assert any("of the 8,000 pieces asked for" in note for note in notes)


@pytest.mark.slow
def test_a_build_with_every_page_in_validation_fails_without_metadata(bgwiki_dump, tmp_path):
    with pytest.raises(BuildError, match=r"train split would be empty: of 1 article\(s\) read, 1 made sequences"):
        build_sample_corpus(
            bgwiki_dump, tmp_path / "corpus", train_tokenizer=True, tokenizer_vocab_size=500, validation_fraction=0.999
        )
    assert not (tmp_path / "corpus" / "metadata.json").exists()
