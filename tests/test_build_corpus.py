"""`build_corpus` end to end on the real sample dumps (English and Bulgarian): every row checked."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from corpus_builders import IN_PROCESS, build_sample_corpus, read_dump_pages
from dump_builders import write_multistream

from preprocessing.corpus import Corpus
from preprocessing.corpus.directory import LIST_COLUMNS
from preprocessing.corpus.splits import SplitPlan
from preprocessing.entities.vocab import EntityVocab
from preprocessing.wikitext.sentences import SentenceSplitter


def normalised(text: str) -> str:
    """Text compared modulo whitespace (and NFKC, which SentencePiece tokenizers apply)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


class DumpReading:
    """An independent reading of a dump: each article's paragraphs (wikiextractor via the wikitext
    parser) and, per page, the (anchor text, redirect-resolved target) of every link."""

    def __init__(self, dump: Path) -> None:
        from preprocessing.sources.reading import read_site_info
        from preprocessing.wikitext.parser import WikitextParser

        parser = WikitextParser(read_site_info([str(dump)]))
        pages = list(read_dump_pages(dump))
        redirects = {page.title: page.redirect for page in pages if page.redirect}
        self.paragraphs = {}
        self.links = defaultdict(set)
        for page in pages:
            if page.namespace != 0 or page.redirect:
                continue
            paragraphs = parser.parse(page.page_id, page.title, page.wikitext).paragraphs
            self.paragraphs[page.page_id] = paragraphs
            for paragraph in paragraphs:
                for link in paragraph.links:
                    anchor = paragraph.text[link.start : link.end]
                    self.links[page.page_id].add((normalised(anchor), _resolve(link.target, redirects)))


def _resolve(title: str, redirects: dict[str, str]) -> str:
    seen = set()
    while title in redirects and title not in seen:
        seen.add(title)
        title = redirects[title]
    return title


@pytest.fixture(scope="module")
def enwiki_reading(enwiki_dump) -> DumpReading:
    return DumpReading(enwiki_dump)


def check_rows(corpus_dir: Path, reading: DumpReading, allow_unk: bool) -> dict[int, list]:
    """Check every row of every split; return the rows by page id in (split, shard, row) order."""
    from transformers import AutoTokenizer

    corpus = Corpus.open(corpus_dir)
    tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_path)
    vocab = EntityVocab.load(str(corpus.entity_vocab_path))
    max_tokens = corpus.max_seq_length - 2
    rows_by_page = defaultdict(list)
    checked_mentions = 0
    for split_name in corpus.split_names:
        split = corpus.split(split_name)
        for index in range(len(split)):
            row = split[index]
            words = row["word_ids"]
            assert 1 <= len(words) <= max_tokens
            assert len(row["entity_ids"]) == len(row["entity_starts"]) == len(row["entity_ends"])
            assert len(row["entity_ids"]) <= corpus.max_entity_length
            assert words.min() >= 0 and words.max() < len(tokenizer)
            for entity_id, start, end in zip(row["entity_ids"], row["entity_starts"], row["entity_ends"], strict=True):
                assert 0 <= start < end <= len(words) and end - start <= corpus.max_mention_length
                assert 3 <= entity_id < len(vocab) or (allow_unk and entity_id == 1)
                anchor = normalised(tokenizer.decode(words[start:end]))
                if entity_id == 1:
                    assert anchor in {link_anchor for link_anchor, _ in reading.links[row["page_id"]]}
                else:
                    assert (anchor, vocab.title_of(int(entity_id))) in reading.links[row["page_id"]]
                checked_mentions += 1
            rows_by_page[row["page_id"]].append((split_name, words))
    assert checked_mentions > 0
    return rows_by_page


def test_enwiki_corpus_rows_hold_valid_mentions_that_decode_to_their_anchor(enwiki_corpus, enwiki_reading):
    metadata = Corpus.open(enwiki_corpus).metadata
    rows_by_page = check_rows(enwiki_corpus, enwiki_reading, allow_unk=False)
    counted = sum(split["sequences"] for split in metadata["splits"].values())
    assert counted == sum(len(rows) for rows in rows_by_page.values()) > 1000
    assert metadata["splits"]["validation"]["sequences"] > 0
    assert metadata["counters"]["articles"] == sum(1 for paragraphs in enwiki_reading.paragraphs.values() if paragraphs)
    for split_name, split in metadata["splits"].items():
        assert split["unk_mentions"] == 0 and split["mentions"] > 0, split_name
    # each page's sequences lie in one split, as the split plan says (but the page moved to validation)
    plan = SplitPlan(0.05, 4, 1)
    for page_id, rows in rows_by_page.items():
        assert {split for split, _ in rows} <= {plan.split_of(page_id), "validation"}
        assert len({split for split, _ in rows}) == 1
    # 4 train shards of the 21 ranges, and the ledger balanced
    assert len(metadata["splits"]["train"]["shards"]) == 4
    assert metadata["ledger"]["balances"] and all(balance["count"] >= 0 for balance in metadata["ledger"]["balances"])


def test_a_page_reproduces_its_sentences_in_order(enwiki_corpus, enwiki_reading):
    from transformers import AutoTokenizer

    corpus = Corpus.open(enwiki_corpus)
    tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_path)
    rows_by_page = check_rows_page_ids(corpus)
    page_id = max(rows_by_page, key=lambda page: len(rows_by_page[page]))
    splitter = SentenceSplitter("en")
    sentences = [s for p in enwiki_reading.paragraphs[page_id] for s in splitter.split(p)]
    ids = packed_sentence_ids(tokenizer, sentences, corpus.max_mention_length)
    encoded = [(sentence_ids, sentence.text) for sentence_ids, sentence in zip(ids, sentences, strict=True)]
    # packing drops sentences of fewer than 5 or more than 510 tokens (LUKE's rules), keeps the others whole
    kept = [(ids, sentence) for ids, sentence in encoded if 5 <= len(ids) <= corpus.max_seq_length - 2]
    # every sequence is a run of whole consecutive kept sentences, in page order, with the tokenizer's own ids
    # (each sentence after a space, as LUKE tokenized them, cut at its links), and decodes back to the text of
    # those sentences separated by spaces: prose as the model will meet it when fine-tuned (that its ids are
    # the LUKE tokenizer's for that text with the row's mentions as entity_spans: test_export.py)
    position = 0
    for words in rows_by_page[page_id]:
        words = words.tolist()
        while position < len(kept) and words[: len(kept[position][0])] != kept[position][0]:
            position += 1  # sentences of sequences without entities are dropped
        assert position < len(kept), "a sequence does not start with a sentence of the page"
        consumed, texts = 0, []
        while consumed < len(words):
            ids, sentence = kept[position]
            assert words[consumed : consumed + len(ids)] == ids
            consumed += len(ids)
            texts.append(sentence)
            position += 1
        assert tokenizer.decode(words) == "".join(" " + text for text in texts)
    assert len(rows_by_page[page_id]) >= 3


def packed_sentence_ids(tokenizer, sentences: list, max_mention_length: int = 30) -> list[list[int]]:
    """Each sentence's ids as a row holds them: after a space, cut at its links (``MentionTokenizer``, checked
    against transformers' LUKE tokenizers given them as entity_spans in test_bpe_word_memo.py), then cut again
    without the mentions packing drops as too long (the corpora here keep every entity)."""
    from preprocessing.tokenization.mentions import MentionTokenizer

    mention_tokenizer = MentionTokenizer(tokenizer.backend_tokenizer.to_str())
    ids = []
    for tokenized in mention_tokenizer.tokenize(sentences, Counter()):
        kept = [mention for mention in tokenized.mentions if mention.end - mention.start <= max_mention_length]
        if len(kept) < len(tokenized.mentions):
            tokenized = mention_tokenizer.cut_at(tokenized, kept)
        ids.append(tokenized.word_ids.tolist())
    return ids


def check_rows_page_ids(corpus: Corpus) -> dict[int, list]:
    rows = defaultdict(list)
    for split_name in corpus.split_names:
        split = corpus.split(split_name)
        for index in range(len(split)):
            rows[split[index]["page_id"]].append(split[index]["word_ids"])
    return rows


def test_bgwiki_corpus_keeps_every_sentence_of_the_article(bgwiki_corpus, bgwiki_dump):
    from transformers import AutoTokenizer

    reading = DumpReading(bgwiki_dump)
    rows_by_page = check_rows(bgwiki_corpus, reading, allow_unk=True)
    corpus = Corpus.open(bgwiki_corpus)
    tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_path)
    assert type(tokenizer).__name__ == "TokenizersBackend"  # tokenizer.json as saved (PreTrainedTokenizerFast)
    splitter = SentenceSplitter("bg")
    for page_id, paragraphs in reading.paragraphs.items():
        sentences = [sentence.text for paragraph in paragraphs for sentence in splitter.split(paragraph)]
        decoded = "".join(tokenizer.decode(words) for _, words in rows_by_page[page_id])
        assert normalised(decoded) == normalised("".join(sentences))
        ids = packed_sentence_ids(tokenizer, [s for paragraph in paragraphs for s in splitter.split(paragraph)])
        assert [i for _, words in rows_by_page[page_id] for i in words.tolist()] == [i for s in ids for i in s]
    assert corpus.metadata["language"] == "bg"


def test_sentencepiece_rows_read_as_prose_and_give_back_their_ids(enwiki_sp_corpus):
    from transformers import AutoTokenizer

    corpus = Corpus.open(enwiki_sp_corpus)
    tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_path)
    splits = [corpus.split(name) for name in corpus.split_names]
    rows = [split[index]["word_ids"].tolist() for split in splits for index in range(len(split))]
    # each sentence starts with "▁" as in running text, so a row's decoded text is its sentences separated by
    # spaces and gives back the row's ids (decoding loses only the text of unknown pieces)
    known = [words for words in rows if tokenizer.unk_token_id not in words]
    decoded = tokenizer.batch_decode(known)
    assert tokenizer(decoded, add_special_tokens=False)["input_ids"] == known
    assert len(known) > 0.9 * len(rows)


def test_trained_tokenizer_directory_gives_the_shard_ids(enwiki_sp_corpus, enwiki_dump):
    from transformers import AutoTokenizer

    reading = DumpReading(enwiki_dump)
    rows_by_page = check_rows(enwiki_sp_corpus, reading, allow_unk=False)
    corpus = Corpus.open(enwiki_sp_corpus)
    tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_path)
    facts = corpus.metadata["tokenizer"]
    assert facts["class"] == "TokenizersBackend" and facts["agreement_with_sentencepiece"] >= 0.99
    # SentencePiece's own layout, the one transformers' MLukeTokenizer assumes (unknown piece at id 0)
    assert [tokenizer.unk_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id] == [
        0,
        1,
        2,
        3,
    ]
    assert facts["mask_token_id"] == tokenizer.mask_token_id and facts["pad_token_id"] == tokenizer.pad_token_id
    splitter = SentenceSplitter("en")
    checked = 0
    for page_id in sorted(rows_by_page)[:10]:
        sentences = [sentence for paragraph in reading.paragraphs[page_id] for sentence in splitter.split(paragraph)]
        sentence_ids = set(map(tuple, packed_sentence_ids(tokenizer, sentences, corpus.max_mention_length)))
        for _, words in rows_by_page[page_id]:
            assert any(tuple(words[: len(ids)].tolist()) == ids for ids in sentence_ids)
            checked += 1
    assert checked > 10
    assert len(rows_by_page) <= 40


def shard_digests(corpus_dir: Path) -> dict[str, str]:
    files = [*sorted(corpus_dir.glob("*/shard-*.arrow")), corpus_dir / "entity_vocab.jsonl"]
    return {str(path.relative_to(corpus_dir)): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


RUNNERS = {
    "in_memory": IN_PROCESS,
    "multi_processing": ("--direct_running_mode=multi_processing", "--direct_num_workers=2"),
    "dask": ("--runner=apache_beam.runners.dask.dask_runner.DaskRunner",),
}


def row_set(corpus_dir: Path) -> list[tuple]:
    """Every row of the corpus, as comparable tuples, in sorted order (shard placement aside)."""
    corpus = Corpus.open(corpus_dir)
    rows = []
    for name in corpus.split_names:
        split = corpus.split(name)
        for index in range(len(split)):
            row = split[index]
            rows.append((name, row["page_id"], *(tuple(row[column].tolist()) for column in LIST_COLUMNS)))
    return sorted(rows)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("language", "runners", "options"),
    [
        # the sample as a multistream dump of 21 ranges of 10 pages: 3 train shards of 7 ranges each
        ("en", ("in_memory", "multi_processing"), dict(max_pages=25, validation_fraction=0.2, num_shards=3)),
        # the DaskRunner does not fuse steps: minutes on the English sample, seconds on the Bulgarian one
        ("bg", ("in_memory", "multi_processing", "dask"), dict(validation_fraction=0.3, num_shards=2)),
    ],
)
def test_runners_give_byte_identical_shards(
    request, language, runners, options, bpe_tokenizer_dir, tmp_path, dask_scheduler_address
):
    """DirectRunner in-memory and multi-processing (2 workers) and DaskRunner (a local dask.distributed
    cluster with 2 worker processes) write the same bytes; read in ranges or whole, a dump gives the same rows."""
    dump = request.getfixturevalue(f"{language}wiki_dump")
    if language == "en":
        dump = write_multistream(dump, tmp_path, pages_per_stream=10)
        options = {**options, "streams_per_range": 1}
    digests = {}
    for name in runners:
        beam_args = RUNNERS[name]
        if name == "dask":
            beam_args = (*beam_args, f"--dask_client_address={dask_scheduler_address}")
        output = build_sample_corpus(
            dump, tmp_path / name, beam_args=beam_args, tokenizer=str(bpe_tokenizer_dir), **options
        )
        digests[name] = shard_digests(output)
        splits = json.loads((output / "metadata.json").read_text())["splits"]
        assert sum(split["sequences"] for split in splits.values()) > 0
    assert all(digest == digests["in_memory"] for digest in digests.values())
    shards = options["num_shards"] if language == "en" else 1  # the Bulgarian sample is one unit: one shard
    assert len(digests["in_memory"]) == shards + 1 + 1
    if language == "en":
        options.pop("streams_per_range")
        whole = build_sample_corpus(
            request.getfixturevalue("enwiki_dump"), tmp_path / "whole", tokenizer=str(bpe_tokenizer_dir), **options
        )
        assert row_set(whole) == row_set(tmp_path / "in_memory")


def test_abstract_only_keeps_the_lead_sections(enwiki_dump, bpe_tokenizer_dir, tmp_path):
    from transformers import AutoTokenizer

    from preprocessing.entities.articles import lead_section
    from preprocessing.records import WikiPage
    from preprocessing.sources.reading import read_site_info
    from preprocessing.wikitext.parser import WikitextParser

    page = WikiPage(1, 0, "A", None, "Lead [[x]].\n\n== History ==\nLater.\n=== Sub ===\nMore.")
    assert lead_section(page).wikitext == "Lead [[x]].\n\n"
    assert lead_section(WikiPage(2, 0, "B", None, "No heading. a == b")).wikitext == "No heading. a == b"

    output = build_sample_corpus(
        enwiki_dump, tmp_path / "abstracts", tokenizer=str(bpe_tokenizer_dir), max_pages=6, abstract_only=True
    )
    corpus = Corpus.open(output)
    tokenizer = AutoTokenizer.from_pretrained(corpus.tokenizer_path)
    parser = WikitextParser(read_site_info([str(enwiki_dump)]))
    leads = {}
    for dump_page in read_dump_pages(enwiki_dump):
        if dump_page.namespace == 0 and not dump_page.redirect:
            lead = lead_section(WikiPage(dump_page.page_id, 0, dump_page.title, None, dump_page.wikitext))
            paragraphs = parser.parse(lead.page_id, lead.title, lead.wikitext).paragraphs
            leads[lead.page_id] = normalised("".join(paragraph.text for paragraph in paragraphs))
    split = corpus.split("train")
    assert 0 < len(split) < 6 * 5
    for index in range(len(split)):
        row = split[index]
        decoded = normalised(tokenizer.decode(row["word_ids"]))
        assert decoded[:40] in leads[row["page_id"]] and decoded[-40:] in leads[row["page_id"]]


def test_a_tiny_validation_fraction_moves_exactly_one_page_to_validation(enwiki_dump, bpe_tokenizer_dir, tmp_path):
    """With no page hashed into validation, the page with a mention and the smallest split hash is moved there:
    its sequences are packed once, in validation, and everything else is as without a validation split."""
    from preprocessing.corpus.splits import page_hashes

    def rows_by_page(output: Path) -> tuple[dict[int, list], dict]:
        corpus = Corpus.open(output)
        rows = defaultdict(list)
        for split_name in corpus.metadata["splits"]:
            split = corpus.split(split_name)
            for index in range(len(split)):
                row = split[index]
                rows[int(row["page_id"])].append((split_name, row["word_ids"].tolist(), row["entity_ids"].tolist()))
        return rows, corpus.metadata["counters"]

    build = dict(tokenizer=str(bpe_tokenizer_dir), max_pages=12, num_shards=2)
    without, without_counts = rows_by_page(build_sample_corpus(enwiki_dump, tmp_path / "none", **build))
    tiny, tiny_counts = rows_by_page(
        build_sample_corpus(enwiki_dump, tmp_path / "tiny", validation_fraction=1e-9, **build)
    )
    moved = min(without, key=lambda page_id: page_hashes(page_id)[0])
    assert page_hashes(moved)[0] > 1e-9  # its hash alone would have kept it in training
    assert {page_id for page_id, rows in tiny.items() if any(row[0] == "validation" for row in rows)} == {moved}
    assert [row[1:] for row in tiny[moved]] == [row[1:] for row in without[moved]]
    assert all(row[0] == "validation" for row in tiny[moved])
    assert {page: [row[1:] for row in rows] for page, rows in tiny.items()} == {
        page: [row[1:] for row in rows] for page, rows in without.items()
    }
    assert tiny_counts == without_counts  # the moved page is counted once
