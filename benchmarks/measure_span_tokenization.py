"""Measurement: what cutting linked sentences at their links changes in a corpus, and what an export's check sees.

The corpus tokenizes a sentence with links as transformers' ``LukeTokenizer``/``MLukeTokenizer`` tokenize a text
given ``entity_spans`` (``preprocessing/tokenization/mentions.py``); before, it tokenized every sentence whole
(``tests/whole_sentence_tokenization.py`` keeps that rule). For each tokenizer — a byte-level BPE of 4,000
tokens (the tests') and one of 50,000 (RoBERTa's size), both trained on the enwiki sample, and the SentencePiece
unigram of ``luke demo`` (4,000 pieces, trained in the job) — the sample is built twice with ``build_corpus``
(in memory, ``luke demo``'s options: 64-token rows, links to pages missing from the slice kept), once with
each rule and the same tokenizer. Printed per tokenizer:

- sentences with links, and how many of them get other ids; links kept as mentions by each rule;
- rows (all splits) of the corpus now whose ids are no row of the same page in the corpus before;
- for each corpus, its validation rows with mentions on which the exported LUKE tokenizer (built and saved as
  ``luke export`` builds it) does not give the row's word ids and mention positions back, given the row's
  text with its mentions as ``entity_spans`` (the export's check), and given the text alone.

    python benchmarks/measure_span_tokenization.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]

MAX_SEQ_LENGTH = 64  # luke demo's
VOCAB_SIZE = 4000


def sentence_changes(tokenizer_json: str, sentences: list) -> dict[str, int]:
    from whole_sentence_tokenization import tokenize_whole

    from preprocessing.tokenization.mentions import MentionTokenizer

    tokenizer = MentionTokenizer(tokenizer_json, word_memo=False)
    linked = [sentence for sentence in sentences if sentence.links]
    before, after = Counter(), Counter()
    old, new = tokenize_whole(tokenizer, linked, before), tokenizer.tokenize(linked, after)
    return {
        "sentences": len(sentences),
        "with links": len(linked),
        "changed": sum(a.word_ids.tolist() != b.word_ids.tolist() for a, b in zip(old, new, strict=True)),
        "links": sum(len(sentence.links) for sentence in linked),
        "mentions before": sum(len(sentence.mentions) for sentence in old),
        "mentions now": sum(len(sentence.mentions) for sentence in new),
        "dropped before": dict(before),
        "dropped now": dict(after),
    }


def rows_by_page(corpus) -> dict[tuple[str, int], list[list[int]]]:
    rows = defaultdict(list)
    for name in corpus.split_names:
        split = corpus.split(name)
        for index in range(len(split)):
            row = split[index]
            rows[name, row["page_id"]].append(row["word_ids"].tolist())
    return rows


def changed_rows(old, new) -> tuple[int, int, int]:
    """Rows of the new corpus that the old one does not hold (same split and page), rows of the new corpus, and
    rows of the old one."""
    before, after = rows_by_page(old), rows_by_page(new)
    changed = sum(
        ids not in {tuple(row) for row in before.get(key, [])}
        for key, rows in after.items()
        for ids in map(tuple, rows)
    )
    return changed, sum(map(len, after.values())), sum(map(len, before.values()))


def span_check(corpus) -> dict[str, int]:
    """Validation rows with mentions whose ids (and mention positions) the exported tokenizer does not give back."""
    from transformers import AutoTokenizer

    from preprocessing.entities.vocab import EntityVocab
    from pretraining.export.exporter import span_rows
    from pretraining.export.hub_files import write_hub_layout
    from pretraining.export.tokenizer import (
        MLUKE_TOKENIZER,
        TokenizerConversionError,
        build_luke_tokenizer,
        entity_vocab_mapping,
        row_text_and_spans,
        tokenizer_kind,
        verify_span_tokenization,
    )

    corpus_tokenizer = AutoTokenizer.from_pretrained(str(corpus.tokenizer_path))
    kind = tokenizer_kind(json.loads(corpus_tokenizer.backend_tokenizer.to_str()), str(corpus.tokenizer_path))
    mapping = entity_vocab_mapping(EntityVocab.load(str(corpus.entity_vocab_path)), kind == MLUKE_TOKENIZER)
    with tempfile.TemporaryDirectory() as directory:
        built = build_luke_tokenizer(corpus_tokenizer, mapping, corpus.max_mention_length, "corpus")
        built.save_pretrained(directory)
        write_hub_layout(Path(directory), kind, corpus_tokenizer, mapping.keys)
        exported = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    rows, with_unknown = span_rows(corpus, corpus_tokenizer, mapping, count=len(corpus.split("validation")))
    with_spans = without_spans = 0
    for row in rows:
        try:
            verify_span_tokenization(exported, corpus_tokenizer, [row], "export")
        except TokenizerConversionError:
            with_spans += 1
        text, _ = row_text_and_spans(corpus_tokenizer, row)
        without_spans += exported(text, add_special_tokens=False)["input_ids"] != row.word_ids
    return {
        "rows": len(rows),
        "left out (<unk>)": with_unknown,
        "differ with spans": with_spans,
        "without": without_spans,
    }


def build(dump: Path, output: Path, whole: bool, **options):
    from corpus_builders import build_sample_corpus
    from whole_sentence_tokenization import sentences_tokenized_whole

    from preprocessing.corpus import Corpus

    if whole:
        with sentences_tokenized_whole():
            build_sample_corpus(dump, output, max_seq_length=MAX_SEQ_LENGTH, **options)
    else:
        build_sample_corpus(dump, output, max_seq_length=MAX_SEQ_LENGTH, **options)
    return Corpus.open(output)


def main() -> None:
    from importlib.metadata import version

    from corpus_builders import article_sentences, train_bpe_tokenizer

    from preprocessing.sources.sample import fetch_sample_dump

    dump = fetch_sample_dump("en")
    sentences = [sentence for article in article_sentences(dump, "en") for sentence in article]
    print(f"transformers {version('transformers')}, tokenizers {version('tokenizers')}")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        tokenizers = {}
        for size in (4000, 50_000):
            tokenizers[f"byte-level BPE {size:,}"] = {
                "tokenizer": str(train_bpe_tokenizer(dump, root / f"bpe-{size}", size))
            }
        tokenizers[f"SentencePiece {VOCAB_SIZE:,}"] = {"train_tokenizer": True, "tokenizer_vocab_size": VOCAB_SIZE}
        for name, options in tokenizers.items():
            new = build(dump, root / name / "now", whole=False, **options)
            if "tokenizer" not in options:  # the same trained tokenizer for both rules
                options = {"tokenizer": str(new.tokenizer_path)}
            old = build(dump, root / name / "before", whole=True, **options)
            tokenizer_json = (new.tokenizer_path / "tokenizer.json").read_text(encoding="utf-8")
            print(f"\n{name}")
            print("  sentences:", sentence_changes(tokenizer_json, sentences))
            changed, rows, rows_before = changed_rows(old, new)
            print(f"  rows: {changed} of {rows} are not rows of the corpus before ({rows_before} rows)")
            print("  export check, corpus before:", span_check(old))
            print("  export check, corpus now:   ", span_check(new))


if __name__ == "__main__":
    main()
