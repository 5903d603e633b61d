"""The per-article stages of the corpus builder, on small inputs and on the real sample's text."""

from __future__ import annotations

import json
import os
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from preprocessing.corpus.directory import SCHEMA
from preprocessing.corpus.packing import PackedSequence, PackingOptions, pack_sentences
from preprocessing.corpus.shard_writing import rows_in_shard, shard_table_batches, write_shard
from preprocessing.corpus.splits import TRAIN, VALIDATION, SplitPlan
from preprocessing.records import Link, Paragraph
from preprocessing.tokenization.mentions import Mention, MentionTokenizer, TokenizedSentence, pieces_at_links
from preprocessing.wikitext.sentences import Sentence, SentenceSplitter


def test_sentences_split_on_punctuation_but_never_inside_a_link():
    text = "He moved to St. Louis. Missouri. Later he left. The end."
    link_start = text.index("St. Louis")
    link_end = text.index("Missouri.") + len("Missouri")
    paragraph = Paragraph(
        text, (Link(link_start, link_end, "St. Louis, Missouri"), Link(text.index("end"), len(text) - 1, "End"))
    )
    sentences = list(SentenceSplitter("en").split(paragraph))
    assert [sentence.text for sentence in sentences] == [
        "He moved to St. Louis. Missouri.",
        "Later he left.",
        "The end.",
    ]
    first, _, last = sentences
    assert [first.text[link.start : link.end] for link in first.links] == ["St. Louis. Missouri"]
    assert [last.text[link.start : link.end] for link in last.links] == ["end"]


def test_sentence_offsets_hold_beyond_the_basic_multilingual_plane():
    text = "Emoji 😀 here. Then 😀😀 [[x]] there! Last one."
    link_start = text.index("[[x]]")
    paragraph = Paragraph(text, (Link(link_start, link_start + 5, "X"),))
    sentences = list(SentenceSplitter("en").split(paragraph))
    assert [sentence.text for sentence in sentences] == ["Emoji 😀 here.", "Then 😀😀 [[x]] there!", "Last one."]
    link = sentences[1].links[0]
    assert sentences[1].text[link.start : link.end] == "[[x]]"


def test_bulgarian_sentences_split(bgwiki_dump):
    splitter = SentenceSplitter("bg")
    text = "Григорианският календар е въведен през 1582 г. Той е съвременният календар. Има ли друг?"
    assert len(splitter.boundaries(text)) == 3


def test_blank_link_anchors_are_left_out_and_edges_trimmed():
    text = "A  linked  word here."
    paragraph = Paragraph(text, (Link(2, 10, "Linked"), Link(1, 2, "Blank")))
    (sentence,) = SentenceSplitter("en").split(paragraph)
    assert [(sentence.text[link.start : link.end], link.target) for link in sentence.links] == [("linked", "Linked")]


@pytest.fixture(scope="module")
def bpe_tokenizer(bpe_tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(bpe_tokenizer_dir)
    return tokenizer, MentionTokenizer(tokenizer.backend_tokenizer.to_str())


def test_mentions_map_to_whole_tokens_and_decode_to_their_anchor(bpe_tokenizer):
    tokenizer, mention_tokenizer = bpe_tokenizer
    text = "The history of Computer science began in the United States of America."
    links = tuple(
        Link(text.index(anchor), text.index(anchor) + len(anchor), anchor)
        for anchor in ("Computer science", "United States of America")
    )
    counts = Counter()
    (tokenized,) = mention_tokenizer.tokenize([Sentence(text, links)], counts)
    # tokenized after a space, as in running text (LUKE's add_prefix_space): "ĠThe", not "The"
    assert tokenized.word_ids.tolist() == tokenizer(" " + text, add_special_tokens=False)["input_ids"]
    assert tokenizer.convert_ids_to_tokens(tokenized.word_ids[:1].tolist()) == ["ĠThe"]
    assert not counts
    for mention, link in zip(tokenized.mentions, links, strict=True):
        assert tokenizer.decode(tokenized.word_ids[mention.start : mention.end]).strip() == link.target


def test_a_link_inside_a_word_cuts_the_word_as_transformers_luke_tokenizers_do(bpe_tokenizer):
    tokenizer, mention_tokenizer = bpe_tokenizer
    text = "The ancient philosophers wrote."
    start = text.index("philosophers") + 1  # "[[p]]hilosophers": the link's edges cut the word
    counts = Counter()
    (whole,) = mention_tokenizer.tokenize([Sentence(text, ())], counts)
    (cut,) = mention_tokenizer.tokenize([Sentence(text, (Link(start, start + 11, "X"),))], counts)
    assert whole.word_ids.tolist() == tokenizer(" " + text, add_special_tokens=False)["input_ids"]  # no link: whole
    pieces = [" The ancient p", "hilosophers", " wrote."]  # the text after a space, cut at the link
    assert pieces_at_links(" " + text, [Link(start + 1, start + 12, "X")]).texts == pieces
    ids = [tokenizer(piece, add_special_tokens=False)["input_ids"] for piece in pieces]
    assert cut.word_ids.tolist() == ids[0] + ids[1] + ids[2] != whole.word_ids.tolist()
    assert cut.mentions == (Mention("X", len(ids[0]), len(ids[0]) + len(ids[1])),) and not counts


def test_pieces_are_cut_before_the_space_in_front_of_a_link():
    text = " See  Paris (France), or [[Nice]]."
    links = [Link(text.index("Paris"), text.index("Paris") + 5, "Paris"), Link(13, 19, "France")]
    links.append(Link(text.index("[[Nice]]"), text.index("[[Nice]]") + 8, "Nice"))
    pieces = pieces_at_links(text, links)
    assert pieces.texts == [" See ", " Paris", " (", "France", "), or", " [[Nice]]", "."]
    assert "".join(pieces.texts) == text
    assert [(pieces.piece_at[link.start], pieces.piece_at[link.end]) for link in links] == [(1, 2), (3, 4), (5, 6)]
    assert pieces_at_links(" At the end", [Link(8, 11, "End")]).texts == [" At the", " end", ""]


def test_a_mention_without_tokens_or_with_the_unknown_token_is_dropped(enwiki_sp_corpus):
    tokenizer_json = (enwiki_sp_corpus / "tokenizer" / "tokenizer.json").read_text(encoding="utf-8")
    mention_tokenizer = MentionTokenizer(tokenizer_json)
    text = "Known 中文 words."
    counts = Counter()
    (tokenized,) = mention_tokenizer.tokenize([Sentence(text, (Link(6, 8, "Chinese"), Link(0, 5, "Known")))], counts)
    assert [mention.target for mention in tokenized.mentions] == ["Known"]
    assert counts == {"mentions_dropped.unknown_token": 1}
    removing = json.loads(tokenizer_json)  # a normaliser that removes the whole anchor: no token left
    removing["normalizer"] = {"type": "Replace", "pattern": {"String": "\u200b"}, "content": ""}
    counts = Counter()
    (tokenized,) = MentionTokenizer(json.dumps(removing)).tokenize([Sentence("a\u200b b", (Link(1, 2, "Z"),))], counts)
    assert tokenized.mentions == () and counts == {"mentions_dropped.no_tokens": 1}


def test_sentencepiece_sentences_with_links_get_mluke_tokenizers_ids_and_spans(enwiki_dump, enwiki_sp_corpus):
    """With the SentencePiece tokenizer trained in the job, linked sentences get exactly what transformers'
    MLukeTokenizer (built on the same pieces, as the export builds it) gives with their mentions as
    ``entity_spans``: the links, less those holding the unknown token (dropped, and not cut at)."""
    from corpus_builders import article_sentences
    from transformers import MLukeTokenizer

    tokenizer_json = (enwiki_sp_corpus / "tokenizer" / "tokenizer.json").read_text(encoding="utf-8")
    mluke = MLukeTokenizer(vocab=[(piece, score) for piece, score in json.loads(tokenizer_json)["model"]["vocab"]])
    sentences = [sentence for article in article_sentences(enwiki_dump, "en")[:40] for sentence in article]
    linked = [sentence for sentence in sentences if sentence.links]
    counts = Counter()
    for sentence, tokenized in zip(linked, MentionTokenizer(tokenizer_json).tokenize(linked, counts), strict=True):
        text, spans = " " + sentence.text, [(link.start + 1, link.end + 1) for link in sentence.links]
        encoding = mluke(text, entity_spans=spans, add_special_tokens=False, max_entity_length=len(spans))
        ids = encoding["input_ids"]
        spans = [
            span
            for span, positions in zip(spans, encoding["entity_position_ids"], strict=True)
            if mluke.unk_token_id not in [ids[position] for position in positions if position >= 0]
        ]
        encoding = mluke(text, entity_spans=spans, add_special_tokens=False, max_entity_length=len(spans))
        assert tokenized.word_ids.tolist() == encoding["input_ids"], sentence
        positions = [
            [position for position in span if position >= 0] for span in encoding.get("entity_position_ids", [])
        ]
        assert [list(range(mention.start, mention.end))[:30] for mention in tokenized.mentions] == positions, sentence
    links = sum(len(sentence.links) for sentence in linked)
    assert len(linked) > 1000 and 0 < counts["mentions_dropped.unknown_token"] < 0.02 * links, (counts, links)


def test_workers_tokenize_on_one_thread_unless_the_user_asks_for_the_pool(bpe_tokenizer, monkeypatch):
    tokenizer_json = bpe_tokenizer[0].backend_tokenizer.to_str()
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    MentionTokenizer(tokenizer_json)
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    MentionTokenizer(tokenizer_json)
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"


def _sentence(length: int, mentions: list[tuple[str, int, int]] = ()) -> TokenizedSentence:
    return TokenizedSentence(np.arange(10, 10 + length, dtype=np.int32), tuple(Mention(*m) for m in mentions))


VOCAB = {"A": 3, "B": 4}


def test_packing_fills_sequences_with_whole_sentences():
    options = PackingOptions(max_seq_length=12, max_entity_length=2, max_mention_length=3, min_sentence_length=2)
    sentences = [
        _sentence(4, [("A", 0, 2)]),
        _sentence(5, [("B", 1, 2), ("Missing", 2, 3)]),
        _sentence(1, [("A", 0, 1)]),  # too short
        _sentence(11, [("A", 0, 1)]),  # too long for 12 − 2 tokens
        _sentence(3, [("A", 0, 1), ("B", 1, 2)]),  # over the mention budget of the first sequence
        _sentence(6, [("A", 0, 4)]),  # mention too long; the sentence still joins the second sequence
        _sentence(3),  # starts a third sequence, which has no entity: dropped
    ]
    counts = Counter()
    sequences = list(pack_sentences(7, sentences, options, VOCAB.get, counts))
    assert [len(sequence.word_ids) for sequence in sequences] == [9, 9]
    first, second = sequences
    assert (first.page_id, first.index, second.index) == (7, 0, 1)
    assert first.entity_ids.tolist() == [3, 4] and first.entity_starts.tolist() == [0, 5]
    assert first.entity_ends.tolist() == [2, 6]
    assert second.entity_ids.tolist() == [3, 4]
    assert counts == {
        "mentions_dropped.entity_not_in_vocab": 1,
        "sentences_dropped.too_short": 1,
        "sentences_dropped.too_long": 1,
        "mentions_dropped.in_dropped_sentence": 2,
        "mentions_dropped.too_long": 1,
        "sentences_dropped.sequence_without_entities": 1,
        "sentences.packed": 4,
    }
    for sequence in sequences:
        assert sequence.word_ids.dtype == np.int32 and len(sequence.word_ids) <= options.max_num_tokens


def test_packing_options_keep_unknown_entities_and_sentences_without_entities():
    options = PackingOptions(
        max_seq_length=8, min_sentence_length=1, include_sentences_without_entities=True, include_unk_entities=True
    )
    sentences = [_sentence(4, [("Missing", 0, 1)]), _sentence(3), _sentence(5)]
    sequences = list(pack_sentences(1, sentences, options, VOCAB.get, Counter()))
    assert [sequence.entity_ids.tolist() for sequence in sequences] == [[1], [], []]
    assert [len(sequence.word_ids) for sequence in sequences] == [4, 3, 5]


def test_a_sentence_that_loses_mentions_in_packing_is_cut_again_at_the_others(bpe_tokenizer):
    """Cut at its two links, "p[[hilosophers]]" is tokenized in two pieces; once packing drops that mention (its
    entity is not in the vocabulary), the row holds the sentence cut at the kept link only, as LUKE's tokenizers
    give it with that mention alone as entity_spans."""
    tokenizer, mention_tokenizer = bpe_tokenizer
    text = "The ancient philosophers wrote about Computer science."
    start = text.index("philosophers") + 1
    cat, science = Link(start, start + 11, "Cat"), Link(text.index("Computer"), len(text) - 1, "A")
    counts = Counter()
    ((cut,), (expected,)) = (
        mention_tokenizer.tokenize([Sentence(text, links)], counts) for links in ((cat, science), (science,))
    )
    assert len(cut.mentions) == 2 and cut.text == " " + text and cut.word_ids.tolist() != expected.word_ids.tolist()
    options = PackingOptions(min_sentence_length=1)
    (row,) = pack_sentences(1, [cut], options, VOCAB.get, counts, mention_tokenizer.cut_at)
    assert row.word_ids.tolist() == expected.word_ids.tolist()
    assert [(row.entity_starts[0], row.entity_ends[0])] == [(expected.mentions[0].start, expected.mentions[0].end)]
    assert counts == {"mentions_dropped.entity_not_in_vocab": 1, "sentences.packed": 1}
    # without cut_at (or a sentence without its text: a corpus tokenized before) the ids are kept as they are
    (row,) = pack_sentences(1, [cut], options, VOCAB.get, Counter())
    assert row.word_ids.tolist() == cut.word_ids.tolist()
    # cut again at no mention, the sentence is tokenized whole
    whole = mention_tokenizer.cut_at(cut, [])
    assert whole.word_ids.tolist() == tokenizer(" " + text, add_special_tokens=False)["input_ids"]
    assert whole.mentions == () and whole.text is None


def test_split_assignment_is_a_deterministic_function_of_the_page_id():
    plan = SplitPlan(validation_fraction=0.1, num_train_shards=8, num_validation_shards=2)
    assignments = {page_id: plan.split_of(page_id) for page_id in range(1, 5001)}
    assert assignments == {page_id: plan.split_of(page_id) for page_id in reversed(range(1, 5001))}
    assert 400 < sum(split == VALIDATION for split in assignments.values()) < 600
    assert SplitPlan(validation_fraction=1e-9).split_of(12) == TRAIN
    assert SplitPlan().splits == {TRAIN: 1}


def test_shards_pack_contiguous_runs_of_units():
    plan = SplitPlan(validation_fraction=0.1, num_train_shards=4, num_validation_shards=2)
    assert plan.shard_units(10) == {
        TRAIN: [range(0, 2), range(2, 5), range(5, 7), range(7, 10)],
        VALIDATION: [range(0, 5), range(5, 10)],
    }
    assert plan.shard_units(1) == {TRAIN: [range(0, 1)], VALIDATION: [range(0, 1)]}  # no more shards than units
    assert plan.shard_units(0) == {TRAIN: [range(0, 0)], VALIDATION: [range(0, 0)]}  # one empty shard each


def _row(page_id: int, index: int, length: int) -> PackedSequence:
    ids = np.arange(length, dtype=np.int32)
    return PackedSequence(page_id, index, ids, ids[:1], ids[:1], ids[1:2])


def test_shards_hold_the_rows_in_the_order_given_a_batch_at_a_time(tmp_path, monkeypatch):
    import preprocessing.corpus.shard_writing as shard_writing

    monkeypatch.setattr(shard_writing, "ROWS_PER_BATCH", 64)
    rows = [_row(page_id, index, 3 + page_id % 5) for page_id in range(50) for index in range(3)]
    first, second = tmp_path / "a.arrow", tmp_path / "b.arrow"
    stats = write_shard(str(first), iter(rows))
    write_shard(str(second), list(rows))
    assert first.read_bytes() == second.read_bytes()
    word_tokens = sum(len(row.word_ids) for row in rows)
    assert stats == {"sequences": 150, "word_tokens": word_tokens, "mentions": 150, "unk_mentions": 0}
    assert not list(tmp_path.glob("*.tmp-*"))
    reader = pa.ipc.open_file(pa.memory_map(str(first)))
    assert [reader.get_batch(index).num_rows for index in range(reader.num_record_batches)] == [64, 64, 22]
    table = reader.read_all()
    assert table.schema.equals(SCHEMA)
    assert table.column("page_id").to_pylist() == [row.page_id for row in rows]
    assert rows_in_shard(str(first)) == 150
    assert list(shard_table_batches([])) == []


def test_tokenized_articles_pickle_to_the_same_sentences():
    import pickle

    from preprocessing.corpus.article_files import TokenizedArticle

    sentences = (_sentence(4, [("A", 0, 2)]), _sentence(0), _sentence(3, [("B", 1, 2), ("C", 2, 3)]))
    article = TokenizedArticle(9, sentences)
    copy = pickle.loads(pickle.dumps(article))
    assert copy.page_id == 9 and copy.has_mentions and (copy.num_sentences, copy.num_mentions) == (3, 3)
    assert [s.word_ids.tolist() for s in copy.sentences] == [s.word_ids.tolist() for s in sentences]
    assert [s.mentions for s in copy.sentences] == [s.mentions for s in sentences]
    # a sentence cut at its mentions keeps its text and the mentions their links (to be cut again in packing)
    linked = TokenizedSentence(np.arange(3, dtype=np.int32), (Mention("T", 1, 2, Link(3, 5, "T")),), " a ab c")
    (copy,) = pickle.loads(pickle.dumps(TokenizedArticle(1, [linked]))).sentences
    assert copy.text == " a ab c" and copy.mentions[0].link == Link(3, 5, "T") and copy.mentions == linked.mentions
