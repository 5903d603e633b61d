"""Validation is measured like with like: every chosen word masked, and the reference models' losses on exactly the
positions the model is scored on, checked against counts made independently from the corpus rows."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from preprocessing.corpus import Corpus
from pretraining.data import LukePretrainingCollator, PretrainingDataset, TokenizerInfo
from pretraining.data.masking import MaskingConfig
from pretraining.loaders import validation_masking
from pretraining.references import ReferenceModels


def _rows(corpus: Corpus, split: str) -> list[dict]:
    rows = corpus.split(split)
    return [rows[index] for index in range(len(rows))]


def _collate(corpus: Corpus, masking: MaskingConfig, count: int = 32) -> dict[str, torch.Tensor]:
    info = TokenizerInfo.from_pretrained(corpus.tokenizer_path)
    entities = len(corpus.entity_vocab_path.read_text(encoding="utf-8").splitlines())
    collator = LukePretrainingCollator(
        info, entities, corpus.max_seq_length, corpus.max_entity_length, corpus.max_mention_length, masking, seed=3
    )
    dataset = PretrainingDataset(corpus, "validation")
    return collator([dataset[index] for index in range(min(count, len(dataset)))])


@pytest.fixture(scope="module")
def corpus(enwiki_corpus: Path) -> Corpus:
    return Corpus.open(enwiki_corpus)


def test_validation_masks_every_chosen_word_where_training_leaves_some_unchanged(corpus: Corpus) -> None:
    mask_id = TokenizerInfo.from_pretrained(corpus.tokenizer_path).mask_id
    for masking, every_one_masked in ((validation_masking(MaskingConfig()), True), (MaskingConfig(), False)):
        batch = _collate(corpus, masking)
        labelled = batch["masked_lm_labels"] != -100
        assert labelled.sum() > 100
        assert bool((batch["word_ids"][labelled] == mask_id).all()) is every_one_masked


def test_reference_losses_equal_counts_made_from_the_rows(corpus: Corpus) -> None:
    vocab_size = TokenizerInfo.from_pretrained(corpus.tokenizer_path).vocab_size
    entity_vocab_size = len(corpus.entity_vocab_path.read_text(encoding="utf-8").splitlines())
    references = ReferenceModels.from_corpus(corpus, vocab_size, entity_vocab_size)
    train = _rows(corpus, "train")
    words = Counter(int(word) for row in train for word in row["word_ids"])
    pairs = Counter(
        (int(a), int(b)) for row in train for a, b in zip(row["word_ids"][:-1], row["word_ids"][1:], strict=True)
    )
    following = Counter(a for a, _ in pairs.elements())
    types = Counter(a for a, _ in pairs)
    entities = Counter(int(e) for row in train for e in row["entity_ids"] if e >= 3)
    total = sum(words.values())

    def unigram(word: int) -> float:
        return (words[word] + 1) / (total + vocab_size)

    def bigram(previous: int, word: int) -> float:
        seen = following[previous]
        if not seen:
            return unigram(word)
        weight = seen / (seen + types[previous])
        return weight * pairs[(previous, word)] / seen + (1 - weight) * unigram(word)

    batch = _collate(corpus, validation_masking(MaskingConfig()))
    rows, columns = torch.nonzero(batch["masked_lm_labels"] != -100, as_tuple=True)
    labels = batch["masked_lm_labels"][rows, columns].tolist()
    previous = batch["word_ids"][rows, columns - 1].tolist()
    expected_unigram = -sum(math.log(unigram(word)) for word in labels)
    expected_bigram = -sum(math.log(bigram(p, word)) for p, word in zip(previous, labels, strict=True))
    unigram_sum, bigram_sum = references.word_losses(batch["word_ids"], batch["masked_lm_labels"])
    assert unigram_sum == pytest.approx(expected_unigram, rel=1e-9)
    assert bigram_sum == pytest.approx(expected_bigram, rel=1e-9)
    assert bigram_sum < unigram_sum  # the word before helps, on real text

    entity_labels = batch["masked_entity_labels"]
    linked = sum(entities.values())
    expected_entities = -sum(
        math.log((entities[e] + 1) / (linked + entity_vocab_size))
        for e in entity_labels[entity_labels != -100].tolist()
    )
    assert references.entity_loss(entity_labels) == pytest.approx(expected_entities, rel=1e-9)


def test_a_token_budget_counts_whole_rows_and_no_pair_across_two(corpus: Corpus) -> None:
    train = _rows(corpus, "train")
    budget = sum(len(row["word_ids"]) for row in train[:5]) + 3  # five rows and a bit of the sixth
    references = ReferenceModels.from_corpus(corpus, 10, 10, max_tokens=budget)
    counted_rows = train[:5]
    assert references.pair_counts.sum() == sum(len(row["word_ids"]) - 1 for row in counted_rows)
    expected = Counter(int(word) for row in counted_rows for word in row["word_ids"])
    size = references.word_vocab_size
    probabilities = np.exp(references.word_log_probs)
    word = max(expected, key=expected.get)
    assert probabilities[word] == pytest.approx((expected[word] + 1) / (sum(expected.values()) + size))
