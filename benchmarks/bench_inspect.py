"""Time `luke inspect corpus` on a large SYNTHETIC corpus against opening the same corpus for training.

The corpus is synthetic (random ids, not text): ``--rows`` rows (20M by default) of 8-24 word ids and 0-3
mentions with valid spans, a 100K-entry entity vocabulary with Zipf-like ids, a word-level tokenizer of 32K
tokens, 64 train shards + 1 validation shard (1 % of rows), in the corpus directory layout and schema. Rows are
short so that 20M fit on a small disk (~2.2 GB); the report reads offsets of every row and values of sampled rows,
so its time depends on the row count, not on the row length (except the sampled rows' values).

Measured, each a median over ``--repeats`` runs in this process, page cache warm (the corpus was just written):
  baseline  ``Corpus.open(dir)`` and ``corpus.split(name)`` for every split: what ``luke train`` does to start
            reading (validate, memory-map every shard, numpy views of every record batch);
  report    ``build_corpus_report`` (default sampling: 100,000 rows per split, 10 decoded rows) + rendering the
            HTML page with its four figures + writing it: the whole of ``luke inspect corpus`` minus start-up.

Usage: python benchmarks/bench_inspect.py [--rows 20000000] [--repeats 3] [--dir /tmp/bench-inspect] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preprocessing.corpus.directory import SCHEMA, shard_path

BATCH_ROWS = 4096
WORD_VOCAB = 32_000
ENTITY_VOCAB = 100_000
MAX_SEQ, MAX_ENTITIES, MAX_MENTION = 24, 3, 4


def _batch(rng: np.random.Generator, rows: int, first_page: int) -> pa.RecordBatch:
    words = rng.integers(8, MAX_SEQ + 1, rows).astype(np.int32)
    word_offsets = np.concatenate([[0], np.cumsum(words)]).astype(np.int32)
    mentions = rng.integers(0, MAX_ENTITIES + 1, rows).astype(np.int32)
    mention_offsets = np.concatenate([[0], np.cumsum(mentions)]).astype(np.int32)
    total = int(mention_offsets[-1])
    # mention k of a row covers words [2k·s, 2k·s + length) with s = row length // (2 · mentions): never overlapping
    row_of = np.repeat(np.arange(rows), mentions)
    rank = np.arange(total) - np.repeat(mention_offsets[:-1], mentions)
    slot = words[row_of] // (2 * np.maximum(mentions[row_of], 1))
    starts = (2 * rank * slot).astype(np.int32)
    ends = (starts + np.minimum(rng.integers(1, MAX_MENTION + 1, total), slot)).astype(np.int32)
    entity_ids = np.minimum(rng.zipf(1.3, total) + 2, ENTITY_VOCAB - 1).astype(np.int32)
    entity_ids[rng.random(total) < 0.02] = 1  # a few [UNK]
    word_ids = rng.integers(5, WORD_VOCAB, int(word_offsets[-1])).astype(np.int32)

    def lists(offsets, values):
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))

    columns = [
        pa.array(np.arange(first_page, first_page + rows, dtype=np.int64)),
        lists(word_offsets, word_ids),
        lists(mention_offsets, entity_ids),
        lists(mention_offsets, starts),
        lists(mention_offsets, ends),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


def write_synthetic_corpus(root: Path, rows: int, seed: int = 0) -> None:
    from tokenizers import Tokenizer, decoders, models

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    validation_rows = rows // 100
    plan = {"train": (rows - validation_rows, 64), "validation": (validation_rows, 1)}
    splits, page = {}, 0
    for split, (split_rows, num_shards) in plan.items():
        (root / split).mkdir()
        shards, word_tokens, mentions, unk = [], 0, 0, 0
        for index in range(num_shards):
            shard_rows = split_rows // num_shards + (index < split_rows % num_shards)
            shards.append(shard_path(split, index, num_shards))
            with pa.ipc.new_file(str(root / shards[-1]), SCHEMA) as writer:
                for first in range(0, shard_rows, BATCH_ROWS):
                    batch = _batch(rng, min(BATCH_ROWS, shard_rows - first), page)
                    page += batch.num_rows
                    word_tokens += len(batch.column("word_ids").values)
                    ids = batch.column("entity_ids").values.to_numpy()
                    mentions += len(ids)
                    unk += int((ids == 1).sum())
                    writer.write_batch(batch)
        splits[split] = {"shards": shards, "sequences": split_rows, "word_tokens": word_tokens}
        splits[split].update(mentions=mentions, unk_mentions=unk)

    counts = np.maximum(1, (1e6 / np.arange(1, ENTITY_VOCAB - 2) ** 1.1)).astype(int)
    lines = [
        json.dumps({"id": i, "entities": [[name, None]], "count": 0})
        for i, name in enumerate(("[PAD]", "[UNK]", "[MASK]"))
    ]
    lines += [
        json.dumps({"id": i + 3, "entities": [[f"Entity {i + 3}", "en"]], "count": int(c)})
        for i, c in enumerate(counts)
    ]
    vocab_text = "".join(line + "\n" for line in lines)
    (root / "entity_vocab.jsonl").write_text(vocab_text, encoding="utf-8")
    import hashlib

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer = Tokenizer(
        models.WordLevel({t: i for i, t in enumerate(specials + [f"w{i}" for i in range(5, WORD_VOCAB)])}, "<unk>")
    )
    tokenizer.decoder = decoders.WordPiece()  # joins tokens with spaces
    (root / "tokenizer").mkdir()
    tokenizer.save(str(root / "tokenizer" / "tokenizer.json"))
    metadata = {
        "format": "luke-corpus",
        "format_version": 2,
        "max_seq_length": MAX_SEQ,
        "max_entity_length": MAX_ENTITIES,
        "max_mention_length": MAX_MENTION,
        "splits": splits,
        "language": "en",
        "wiki": "synthetic",
        "tokenizer": {
            "source": "synthetic word-level",
            "vocab_size": WORD_VOCAB,
            "unk_token": "<unk>",
            "unk_token_id": 3,
        },
        "entity_vocab": {
            "file": "entity_vocab.jsonl",
            "entries": ENTITY_VOCAB,
            "checksum": "sha256:" + hashlib.sha256(vocab_text.encode("utf-8")).hexdigest(),
        },
        "input_files": [],
        "options": {"entity_vocab_size": ENTITY_VOCAB},
        "counters": {},
        "created_by": "benchmarks/bench_inspect.py (synthetic)",
    }
    (root / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")


def open_for_training(root: Path) -> int:
    from preprocessing.corpus import Corpus

    corpus = Corpus.open(root)
    return sum(len(corpus.split(name)) for name in corpus.split_names)


def inspect_report(root: Path, output: Path) -> tuple[dict[str, float], bool]:
    from luke.inspection.corpus_page import corpus_page
    from luke.inspection.corpus_report import build_corpus_report
    from luke.inspection.page import write_report

    report = build_corpus_report(root)
    computed = time.perf_counter()
    write_report(output, corpus_page(report))
    seconds = {**report.seconds, "render": time.perf_counter() - computed}
    return seconds, not report.checks.failed


def _rounded(values: list[float]) -> list[float]:
    return [round(value, 2) for value in values]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench-inspect"))
    parser.add_argument("--keep", action="store_true", help="keep the synthetic corpus (deleted by default)")
    args = parser.parse_args()
    root = args.dir / "corpus"
    if not (root / "metadata.json").exists():
        shutil.rmtree(root, ignore_errors=True)
        started = time.perf_counter()
        write_synthetic_corpus(root, args.rows)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        took = time.perf_counter() - started
        print(f"wrote a SYNTHETIC corpus of {args.rows:,} rows ({size / 1e9:.2f} GB) in {took:.0f} s")
    try:
        import luke.inspection.corpus_page  # noqa: F401  (imports, matplotlib included, are start-up, not timed)

        open_for_training(root)  # warm both paths once
        baseline, report, phases = [], [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            rows = open_for_training(root)
            baseline.append(time.perf_counter() - started)
            started = time.perf_counter()
            seconds, ok = inspect_report(root, args.dir / "report.html")
            report.append(time.perf_counter() - started)
            phases.append(seconds)
            assert ok, "the synthetic corpus should pass every check"
        base, full = statistics.median(baseline), statistics.median(report)
        print(f"rows {rows:,}; repeats {args.repeats}")
        print(
            f"baseline  Corpus.open + split() of every split (luke train's start): {base:.2f} s  {_rounded(baseline)}"
        )
        print(f"report    luke inspect corpus (compute + render + write):          {full:.2f} s  {_rounded(report)}")
        print(f"ratio     report / baseline = {full / base:.2f}")
        median_phases = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
        print("report phases (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in median_phases.items()))
    finally:
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
