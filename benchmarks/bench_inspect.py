"""Time `luke inspect corpus` on a large SYNTHETIC corpus against opening the same corpus for training.

The corpus is synthetic (``synthetic_corpus.py``, its short rows; random ids, not text): ``--rows`` rows (20M by
default) of 8-24 word ids and 0-3 mentions with valid spans, a 100K-entry entity vocabulary with Zipf-like ids, a
word-level tokenizer of 32K tokens, 64 train shards + 1 validation shard (1 % of rows), in the corpus directory
layout and schema. Rows are short so that 20M fit on a small disk (~2.2 GB); the report reads offsets of every row
and values of sampled rows, so its time depends on the row count, not on the row length (except the sampled
rows' values).

Measured, each a median over ``--repeats`` runs in this process, page cache warm (the corpus was just written):
  baseline  ``Corpus.open(dir)`` and ``corpus.split(name)`` for every split: what ``luke train`` does to start
            reading (validate, memory-map every shard, numpy views of every record batch);
  report    ``build_corpus_report`` (default sampling: 100,000 rows per split, 10 decoded rows) + rendering the
            HTML page with its four figures + writing it: the whole of ``luke inspect corpus`` minus start-up.

Usage: python benchmarks/bench_inspect.py [--rows 20000000] [--repeats 3] [--dir /tmp/bench-inspect] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic_corpus import corpus_bytes, write_synthetic_corpus


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
        size = corpus_bytes(root)
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
