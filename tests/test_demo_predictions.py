"""The demo's example text starts where a reader would: at a sentence start, else a word start, never mid-word."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from luke.demo_predictions import CONTEXT_TOKENS, context_start
from preprocessing.corpus import Corpus


def test_context_start_prefers_a_sentence_start_then_a_word_start() -> None:
    tokens = ["▁It", "▁rained", "d", ".", "▁Further", "▁processing", "▁of", "▁the", "▁Alps"]
    assert context_start(tokens, 8, context=7) == 4  # after "d." although the window opens at "d"
    assert context_start(tokens, 8, context=3) == 5  # no sentence start within reach: a word start
    assert context_start(["Ġa", "ed", "Ġword", "ĠParis"], 3, context=2) == 2  # byte-level BPE marks words with Ġ
    assert context_start(tokens, 8, context=20) == 0  # the row itself starts a sentence


@pytest.mark.parametrize("fixture", ["enwiki_corpus", "enwiki_sp_corpus"])
def test_every_mention_of_the_validation_split_gets_a_text_that_starts_a_word(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    corpus = Corpus.open(request.getfixturevalue(fixture))
    tokenizer = AutoTokenizer.from_pretrained(str(corpus.tokenizer_path))
    split = corpus.split("validation")
    checked = 0
    for row in (split[i] for i in range(len(split))):
        tokens = tokenizer.convert_ids_to_tokens(row["word_ids"].tolist())
        for start in row["entity_starts"].tolist():
            begin = context_start(tokens, start)
            assert max(0, start - CONTEXT_TOKENS) <= begin <= start
            assert begin == 0 or tokens[begin][:1] in ("▁", "Ġ"), tokens[max(0, begin - 2) : begin + 2]
            checked += 1
    assert checked > 50
