"""The byte-level BPE word memo gives exactly `tokenizers`' ids, or hands the text back; sentences with links,
cut into pieces at their links, get the ids and spans of transformers' LukeTokenizer given ``entity_spans``."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from tokenizers import Tokenizer, pre_tokenizers

import preprocessing.tokenization.bpe_word_memo as bpe_word_memo
from preprocessing.records import Link
from preprocessing.tokenization.bpe_word_memo import BPEWordMemo
from preprocessing.tokenization.mentions import MentionTokenizer, pieces_at_links
from preprocessing.wikitext.sentences import Sentence


@pytest.fixture(scope="module")
def tokenizer_json(bpe_tokenizer_dir: Path) -> str:
    return (bpe_tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8")


def _assert_same_as_tokenizers(tokenizer_json: str, sentences: list[Sentence]) -> int:
    """Tokenize ``sentences`` with the memo and with `tokenizers` alone; return how many the memo took whole
    (every piece, for a sentence with links)."""
    with_memo, alone = MentionTokenizer(tokenizer_json), MentionTokenizer(tokenizer_json, word_memo=False)
    assert with_memo._memo is not None
    counts, expected_counts = Counter(), Counter()
    tokenized = with_memo.tokenize(sentences, counts)
    expected = alone.tokenize(sentences, expected_counts)
    for sentence, got, want in zip(sentences, tokenized, expected, strict=True):
        assert got.word_ids.tolist() == want.word_ids.tolist(), sentence.text
        assert got.mentions == want.mentions, sentence
    assert counts == expected_counts
    return sum(
        all(with_memo._memo.encode(piece) is not None for piece in pieces_at_links(sentence.text, sentence.links).texts)
        for sentence in sentences
    )


def test_the_memo_and_tokenizers_pre_tokenize_every_character_it_takes_alike():
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    patterns = bpe_word_memo._patterns()
    taken = [chr(code) for code in range(0x110000) if not patterns.outside.search(chr(code))]
    assert 50_000 < len(taken) < 0x10000
    # each character next to a letter, a digit, punctuation, a space and itself: its class shows in the split
    text = "".join(f"x{c}x {c}1 {c}. {c}{c} " for c in taken)
    position, ours = 0, []
    for piece in patterns.words.findall(text):
        ours.append((position, position + len(piece)))
        position += len(piece)
    assert ours == [offsets for _, offsets in byte_level.pre_tokenize_str(text)]
    assert all(patterns.outside.search(text) for text in ("emoji 😀", "\u0378", "\ud800"))
    assert not patterns.outside.search("naïve – “Ж” 中 ½")


def test_the_memo_gives_tokenizers_ids_and_mentions_on_the_real_dumps(enwiki_dump, bgwiki_dump, tokenizer_json):
    from corpus_builders import article_sentences

    for dump, language in ((enwiki_dump, "en"), (bgwiki_dump, "bg")):
        sentences = [sentence for article in article_sentences(dump, language) for sentence in article]
        taken = _assert_same_as_tokenizers(tokenizer_json, sentences)
        assert sum(len(sentence.links) for sentence in sentences) > 50
        assert taken >= 0.99 * len(sentences)


def test_sentences_with_links_get_luke_tokenizers_ids_and_spans(enwiki_dump, bgwiki_dump, tokenizer_json):
    """Through the memo, every linked sentence of the real dumps gets exactly what transformers' LukeTokenizer
    (built on the same vocabulary) gives for the sentence after a space with its links as ``entity_spans``."""
    import json

    from corpus_builders import article_sentences
    from transformers import LukeTokenizer

    model = json.loads(tokenizer_json)["model"]
    merges = [tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in model["merges"]]
    luke = LukeTokenizer(vocab=model["vocab"], merges=merges)
    mention_tokenizer = MentionTokenizer(tokenizer_json)
    for dump, language in ((enwiki_dump, "en"), (bgwiki_dump, "bg")):
        sentences = [
            sentence for article in article_sentences(dump, language) for sentence in article if sentence.links
        ]
        for sentence, tokenized in zip(sentences, mention_tokenizer.tokenize(sentences, Counter()), strict=True):
            spans = [(link.start + 1, link.end + 1) for link in sentence.links]
            encoding = luke(
                " " + sentence.text, entity_spans=spans, add_special_tokens=False, max_entity_length=len(spans)
            )
            assert tokenized.word_ids.tolist() == encoding["input_ids"], sentence
            positions = [[position for position in row if position >= 0] for row in encoding["entity_position_ids"]]
            assert [list(range(m.start, m.end))[:30] for m in tokenized.mentions] == positions, sentence


def test_the_memo_gives_tokenizers_ids_and_mentions_on_awkward_text(tokenizer_json):
    """Random sentences of contractions, combining marks, characters split across byte-level tokens, odd
    blanks, characters beyond Unicode 3.2 and an added token's text, with random links."""
    pieces = [
        "the", "The", "cat's", "we'll", "I'M", "naïve", "Ελλάδα", "България", "中国", "ｆｕｌｌ", "e\u0301te", "1999",
        "3.14", "½", "Ⅻ", "—", "“quoted”", "(x)", "a\u00a0b", "tab\there", "x\u200by", "<", "s>", "<s>", "\u3000",
        "𝔸", "😀", "שלום", "मराठी", "ไทย", "a_b", "''", "...",
    ]  # fmt: skip
    rng = random.Random(4)
    sentences = []
    for _ in range(2000):
        words = (rng.choice(pieces) + rng.choice([" ", "", "  ", ", "]) for _ in range(rng.randint(1, 12)))
        text = "".join(words).strip()
        if text:  # a sentence is never empty
            sentences.append(Sentence(text, tuple(_random_links(text, rng))))
    taken = _assert_same_as_tokenizers(tokenizer_json, sentences)
    assert 0.3 * len(sentences) < taken < len(sentences)


def test_an_added_token_in_the_text_is_left_to_tokenizers(tokenizer_json):
    memo = BPEWordMemo.for_tokenizer(Tokenizer.from_str(tokenizer_json))
    assert memo.encode("A <mask> here.") is None
    assert memo.encode("A mask here.") is not None
    _assert_same_as_tokenizers(tokenizer_json, [Sentence("A <mask> here.", (Link(2, 8, "Mask"),))])
    # a link cutting an added token's text: neither piece holds it, so `tokenizers` does not match it either
    assert _assert_same_as_tokenizers(tokenizer_json, [Sentence("A <mask> here.", (Link(2, 5, "Mask"),))]) == 1


def test_words_beyond_the_memo_capacity_are_still_encoded(tokenizer_json, monkeypatch):
    monkeypatch.setattr(bpe_word_memo, "MEMO_CAPACITY", 2)
    text = "Many different words beyond a memo of two."
    assert _assert_same_as_tokenizers(tokenizer_json, [Sentence(text, (Link(5, 20, "Words"),))]) == 1


def test_other_tokenizers_get_no_memo(tokenizer_json, enwiki_sp_corpus):
    sentencepiece = Tokenizer.from_file(str(enwiki_sp_corpus / "tokenizer" / "tokenizer.json"))
    assert BPEWordMemo.for_tokenizer(sentencepiece) is None
    prefix_space = Tokenizer.from_str(tokenizer_json)
    prefix_space.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    assert BPEWordMemo.for_tokenizer(prefix_space) is None
    assert BPEWordMemo.for_tokenizer(Tokenizer.from_str(tokenizer_json)) is not None


def _random_links(text: str, rng: random.Random) -> list[Link]:
    links = []
    for _ in range(rng.randint(0, 3)):
        start = rng.randrange(len(text))
        end = rng.randrange(start, len(text)) + 1
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            links.append(Link(start, end, "Target"))
    return links
