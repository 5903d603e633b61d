"""Benchmark: sentence tokenization with link mapping, the byte-level BPE word memo vs `tokenizers` alone.

The sentences (with their links) of every article of the enwiki sample, as the job makes them (wikiextractor
parse, ICU sentence split), tokenized by ``MentionTokenizer`` with a byte-level BPE of 50,000 tokens trained
on the sample (RoBERTa's kind and size; the hub is unreachable here):

- baseline: ``MentionTokenizer(word_memo=False)``: every sentence through `tokenizers` (its word cache on);
- memo: ``MentionTokenizer()``: the word memo (``preprocessing.tokenization.bpe_word_memo``) takes what it can.

Two passes per fresh instance: **cold** (the first pass: every distinct word is new to the memo and to
`tokenizers`' cache; 8 % of the sample's words are first sightings) and **warm** (the same sentences again:
every word known). A full Wikipedia run lies between: a worker meets most words again, but keeps meeting
new ones. CPU seconds of this process; each repeat measures both programs back to back; medians and the
median of the repeats' own ratios are printed.

    python benchmarks/bench_tokenization.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]

BPE_VOCAB_SIZE = 50_000
PROGRAMS = {"tokenizers alone": False, "word memo": True}


def two_passes(tokenizer_json: str, word_memo: bool, articles: list[list]) -> tuple[float, float]:
    """CPU seconds of a fresh tokenizer's first (cold) and second (warm) pass over ``articles``."""
    from preprocessing.tokenization.mentions import MentionTokenizer

    tokenizer = MentionTokenizer(tokenizer_json, word_memo=word_memo)
    seconds = []
    for _ in range(2):
        start = time.process_time()
        for sentences in articles:
            tokenizer.tokenize(sentences, Counter())
        seconds.append(time.process_time() - start)
    return seconds[0], seconds[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="back-to-back measurements of both programs")
    args = parser.parse_args()

    from corpus_builders import article_sentences, train_bpe_tokenizer

    from preprocessing.sources.sample import fetch_sample_dump

    dump = fetch_sample_dump("en")
    articles = article_sentences(dump, "en")
    megabytes = sum(len(sentence.text.encode("utf-8")) for sentences in articles for sentence in sentences) / 1e6
    links = sum(len(sentence.links) for sentences in articles for sentence in sentences)
    with tempfile.TemporaryDirectory() as scratch:
        directory = train_bpe_tokenizer(dump, Path(scratch), vocab_size=BPE_VOCAB_SIZE)
        tokenizer_json = (directory / "tokenizer.json").read_text(encoding="utf-8")
    sentence_count = sum(map(len, articles))
    print(f"{len(articles)} articles, {sentence_count:,} sentences, {links:,} links, {megabytes:.2f} MB of text")

    runs = {name: {"cold": [], "warm": []} for name in PROGRAMS}
    for _ in range(args.repeats):
        for name, word_memo in PROGRAMS.items():
            cold, warm = two_passes(tokenizer_json, word_memo, articles)
            runs[name]["cold"].append(cold)
            runs[name]["warm"].append(warm)

    print(f"{'':20s} {'cold MB/s':>10s} {'warm MB/s':>10s}")
    for name, passes in runs.items():
        rates = [megabytes / statistics.median(passes[kind]) for kind in ("cold", "warm")]
        print(f"{name:20s} {rates[0]:10.2f} {rates[1]:10.2f}")
    for kind in ("cold", "warm"):
        ratios = [
            baseline / memo
            for baseline, memo in zip(runs["tokenizers alone"][kind], runs["word memo"][kind], strict=True)
        ]
        listed = ", ".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"{kind}: word memo / tokenizers alone, speed: {statistics.median(ratios):.2f}x (repeats: {listed})")


if __name__ == "__main__":
    main()
