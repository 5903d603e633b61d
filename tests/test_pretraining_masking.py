"""LUKE masking on real shards (the enwiki sample built by `build_corpus`) for both tokenizer kinds: byte-level
BPE (``enwiki_corpus``, RoBERTa's kind) and SentencePiece (``enwiki_sp_corpus``, mLUKE's kind)."""

import numpy as np
import pytest

from preprocessing.corpus import Corpus
from preprocessing.entities.vocab import EntityVocab
from pretraining.data import (
    ENTITY_MASK_ID,
    ENTITY_UNK_ID,
    IGNORE_INDEX,
    LukePretrainingCollator,
    MaskingConfig,
    PretrainingDataset,
    SampleKey,
    TokenizerInfo,
)

CORPUS_FIXTURES = {"bpe": "enwiki_corpus", "sentencepiece": "enwiki_sp_corpus"}


@pytest.fixture(scope="module", params=list(CORPUS_FIXTURES))
def corpus_kind(request):
    corpus = Corpus.open(request.getfixturevalue(CORPUS_FIXTURES[request.param]))
    info = TokenizerInfo.from_pretrained(corpus.tokenizer_path)
    return request.param, corpus, info


def make_collator(corpus, info, **options):
    return LukePretrainingCollator(
        info,
        len(EntityVocab.load(str(corpus.entity_vocab_path))),
        corpus.max_seq_length,
        corpus.max_entity_length,
        corpus.max_mention_length,
        MaskingConfig(**options),
        seed=11,
    )


def masked_rows(corpus, collator, epoch=0, batch_size=64):
    """(row, batch as numpy, index in batch) for every row of the train split."""
    dataset = PretrainingDataset(corpus, "train")
    for begin in range(0, len(dataset), batch_size):
        rows = [dataset[SampleKey(epoch, i, i)] for i in range(begin, min(begin + batch_size, len(dataset)))]
        batch = {name: tensor.numpy() for name, tensor in collator(rows).items()}
        for i, row in enumerate(rows):
            yield row, batch, i


def word_groups(word_ids, word_start):
    starts = word_start[word_ids].copy()
    starts[0] = True
    return np.cumsum(starts) - 1  # word number of each token


def test_word_start_table_follows_the_tokenizer(corpus_kind):
    kind, corpus, info = corpus_kind
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(corpus.tokenizer_path))
    marker = "Ġ" if kind == "bpe" else "▁"
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    with_marker = [i for i, token in enumerate(tokens) if token.startswith(marker) and len(token) > 1]
    continuations = [i for i, token in enumerate(tokens) if token.isascii() and token.isalpha()]  # no marker
    assert len(with_marker) > 500 and len(continuations) > 200
    assert info.word_start[with_marker].all()
    assert not info.word_start[continuations].any()
    assert info.word_start[tokenizer.convert_tokens_to_ids([",", "."])].all()  # punctuation is a word of its own
    assert info.special[tokenizer.all_special_ids].all() and info.special.sum() == len(tokenizer.all_special_ids)
    assert info.mask_id == tokenizer.mask_token_id and info.pad_id == tokenizer.pad_token_id


def test_default_masking_statistics_on_real_shards(corpus_kind):
    kind, corpus, info = corpus_kind
    collator = make_collator(corpus, info)
    config = collator.masking
    words = labelled = 0
    kinds = np.zeros(3)  # mask, random, unchanged: counted per masked word
    rows = 0
    for row, batch, i in masked_rows(corpus, collator):
        rows += 1
        length = row["word_ids"].size
        ids, labels = batch["word_ids"][i], batch["masked_lm_labels"][i]
        # specials and padding: never masked, never labelled
        assert ids[0] == info.cls_id and ids[length + 1] == info.sep_id and (ids[length + 2 :] == info.pad_id).all()
        assert (labels[0] == IGNORE_INDEX) and (labels[length + 1 :] == IGNORE_INDEX).all()
        original, labels, ids = row["word_ids"], labels[1 : length + 1], ids[1 : length + 1]
        is_labelled = labels != IGNORE_INDEX
        # labels only where masked, and they hold the original token; unlabelled tokens are untouched
        assert (labels[is_labelled] == original[is_labelled]).all()
        assert (ids[~is_labelled] == original[~is_labelled]).all()
        assert not info.special[original[is_labelled]].any()
        # whole words: a word is labelled entirely or not at all, and replaced the same way throughout
        groups = word_groups(original, info.word_start)
        for group in np.unique(groups[is_labelled]):
            members = groups == group
            assert is_labelled[members].all(), f"{kind}: part of a word masked"
            masked = ids[members] == info.mask_id
            assert masked.all() or not masked.any()
            kinds[0 if masked.all() else 2 if (ids[members] == original[members]).all() else 1] += 1
        budget = max(1, round(length * config.masked_lm_prob))
        assert is_labelled.sum() <= budget
        words += length
        labelled += is_labelled.sum()
        # entities: max(1, round(15 %)) of the known ones, all replaced by [MASK], [UNK] never chosen
        entity_ids, entity_labels = row["entity_ids"], batch["masked_entity_labels"][i]
        chosen = entity_labels != IGNORE_INDEX
        known = (entity_ids != ENTITY_UNK_ID).sum()
        assert chosen.sum() == (max(1, round(known * config.masked_entity_prob)) if known else 0)
        assert (entity_labels[chosen][: entity_ids.size] == entity_ids[chosen[: entity_ids.size]]).all()
        assert (batch["entity_ids"][i][chosen] == ENTITY_MASK_ID).all()
        assert not (entity_ids[chosen[: entity_ids.size]] == ENTITY_UNK_ID).any()
    assert rows > 1000
    assert abs(labelled / words - 0.15) < 0.01, labelled / words
    shares = kinds / kinds.sum()
    assert abs(shares[0] - 0.8) < 0.03 and abs(shares[1] - 0.1) < 0.02 and abs(shares[2] - 0.1) < 0.02, shares


def test_options_mask_words_in_entity_span_and_random_entities(corpus_kind):
    _, corpus, info = corpus_kind
    collator = make_collator(corpus, info, mask_words_in_entity_span=True, random_entity_prob=1.0)
    checked = 0
    for row, batch, i in masked_rows(corpus, collator):
        chosen = np.flatnonzero(batch["masked_entity_labels"][i] != IGNORE_INDEX)
        replaced = batch["entity_ids"][i][chosen]
        assert ((replaced >= 3) & (replaced < collator.entity_vocab_size)).all()  # random real entities
        labels = batch["masked_lm_labels"][i][1:]
        for j in chosen:
            start, end = row["entity_starts"][j], row["entity_ends"][j]
            maskable = ~info.special[row["word_ids"][start:end]]  # e.g. <unk> inside a mention stays
            assert (labels[start:end][maskable] != IGNORE_INDEX).all()  # the mention's words are masked with it
            checked += 1
    assert checked > 1000


def test_subword_masking_and_masking_off(corpus_kind):
    _, corpus, info = corpus_kind
    subword = make_collator(corpus, info, whole_word_masking=False)
    off = make_collator(corpus, info, masked_lm_prob=0.0, masked_entity_prob=0.0)
    partial_words = 0
    for (row, batch, i), (_, plain, _) in zip(masked_rows(corpus, subword), masked_rows(corpus, off), strict=True):
        length = row["word_ids"].size
        labelled = batch["masked_lm_labels"][i][1 : length + 1] != IGNORE_INDEX
        assert labelled.sum() == max(1, round(length * 0.15))  # single tokens always fill the budget exactly
        groups = word_groups(row["word_ids"], info.word_start)
        partial_words += sum(not labelled[groups == g].all() for g in np.unique(groups[labelled]))
        assert (plain["masked_lm_labels"] == IGNORE_INDEX).all() and (plain["masked_entity_labels"] == -100).all()
        assert (plain["word_ids"][i][1 : length + 1] == row["word_ids"]).all()
    assert partial_words > 100


def test_masking_depends_only_on_seed_epoch_and_index(enwiki_corpus):
    corpus = Corpus.open(enwiki_corpus)
    collator = make_collator(corpus, TokenizerInfo.from_pretrained(corpus.tokenizer_path))
    dataset = PretrainingDataset(corpus, "train")
    keys = [SampleKey(0, 5, 10), SampleKey(0, 6, 20), SampleKey(1, 5, 10)]
    together = collator([dataset[key] for key in keys])
    alone = collator([dataset[keys[0]]])
    length = alone["word_ids"].shape[1]
    assert (together["word_ids"][0, :length] == alone["word_ids"][0]).all()
    assert (together["masked_lm_labels"][0, :length] == alone["masked_lm_labels"][0]).all()
    assert not (together["masked_lm_labels"][0] == together["masked_lm_labels"][2]).all()  # next epoch: new masks


def test_batch_layout(enwiki_sp_corpus):
    corpus = Corpus.open(enwiki_sp_corpus)
    info = TokenizerInfo.from_pretrained(corpus.tokenizer_path)
    collator = make_collator(corpus, info)
    dataset = PretrainingDataset(corpus, "train")
    rows = [dataset[i] for i in range(8)]
    batch = collator(rows)
    lengths = [row["word_ids"].size for row in rows]
    entities = [row["entity_ids"].size for row in rows]
    assert batch["word_ids"].shape == (8, max(lengths) + 2)  # dynamic padding: to the longest of the batch
    assert batch["entity_ids"].shape == (8, max(1, *entities))
    assert batch["entity_position_ids"].shape == (8, max(1, *entities), corpus.max_mention_length)
    assert batch["word_attention_mask"].sum(1).tolist() == [n + 2 for n in lengths]
    assert batch["entity_attention_mask"].sum(1).tolist() == entities
    assert not batch["word_segment_ids"].any() and not batch["entity_segment_ids"].any()
    for i, row in enumerate(rows):
        for j, (start, end) in enumerate(zip(row["entity_starts"], row["entity_ends"], strict=True)):
            positions = batch["entity_position_ids"][i, j]
            assert positions[: end - start].tolist() == list(range(start + 1, end + 1))  # +1: the cls token
            assert (positions[end - start :] == -1).all()
        assert (batch["entity_position_ids"][i, len(row["entity_ids"]) :] == -1).all()


def test_bad_rows_and_options_are_named(enwiki_corpus):
    corpus = Corpus.open(enwiki_corpus)
    info = TokenizerInfo.from_pretrained(corpus.tokenizer_path)
    collator = make_collator(corpus, info)
    row = PretrainingDataset(corpus, "train")[0]
    row["word_ids"] = np.ones(corpus.max_seq_length, dtype=np.int32)
    with pytest.raises(ValueError, match=rf"row 0 \(page {row['page_id']}\) has {corpus.max_seq_length} words"):
        collator([row])
    with pytest.raises(ValueError, match="masked_lm_prob must be a probability"):
        MaskingConfig(masked_lm_prob=1.5)
    with pytest.raises(ValueError, match="random_word_prob \\+ unmasked_word_prob must be ≤ 1"):
        MaskingConfig(random_word_prob=0.6, unmasked_word_prob=0.6)


def test_unknown_entities_are_never_targets(enwiki_corpus):
    corpus = Corpus.open(enwiki_corpus)
    collator = make_collator(corpus, TokenizerInfo.from_pretrained(corpus.tokenizer_path), masked_entity_prob=0.5)
    row = PretrainingDataset(corpus, "train")[0]
    words = row["word_ids"].size
    row["entity_ids"] = np.array([ENTITY_UNK_ID, 5, ENTITY_UNK_ID, 7], dtype=np.int32)
    row["entity_starts"] = np.arange(4, dtype=np.int32) % words
    row["entity_ends"] = row["entity_starts"] + 1
    for index in range(50):
        labels = collator([{**row, "key": SampleKey(0, index, 0)}])["masked_entity_labels"][0]
        assert labels.tolist() in ([-100, 5, -100, -100], [-100, -100, -100, 7])  # round(2 × 0.5) = 1 of 2 known
    row["entity_ids"] = np.full(4, ENTITY_UNK_ID, dtype=np.int32)
    assert (collator([row])["masked_entity_labels"] == IGNORE_INDEX).all()
