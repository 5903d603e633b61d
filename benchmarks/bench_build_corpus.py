"""Benchmark: the whole `build-corpus` job vs wikiextractor's own extraction of the same pages.

The enwiki sample dump is replicated to at least ``--target-mb`` MB of XML (bz2, as Wikimedia ships it;
``bench_entity_vocab.build_replicated_dump``). In the same run, each measured ``--repeats`` times in a fresh
process (medians reported):

- baseline: wikiextractor alone, single process, with links (``bench_entity_vocab.run_baseline``);
- job: ``build_corpus`` end to end (vocabulary, sentences, tokenization, packing, shards, metadata) on the
  DirectRunner in-memory with one worker, i.e. one core, with a byte-level BPE tokenizer of 50,000 tokens
  (RoBERTa's kind and size, trained on the sample: the hub is unreachable here);
- the job's stages timed one by one on the same pages in one process: parsing (wikiextractor via
  ``WikitextParser``), sentence splitting, tokenization with link mapping, packing + shard writing. Their
  shares say where a core's time goes; Beam's own overhead (shuffles, joins) is the rest of the job's time.

Prints pages/s and uncompressed MB/s per core (per CPU second, so that a shared machine does not skew them),
the ratio job/baseline (goal ≥ 0.5), and the projected core-hours for full English Wikipedia (~90 GB XML).

    python benchmarks/bench_build_corpus.py [--target-mb 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from bench_entity_vocab import build_replicated_dump, run_baseline  # noqa: E402

FULL_ENWIKI_GB = 90.0
BPE_VOCAB_SIZE = 50_000  # roberta-large has 50,265


def run_job(path: str, tokenizer: str) -> dict:
    from preprocessing.corpus_build import CorpusBuildConfig, build_corpus

    with tempfile.TemporaryDirectory() as directory:
        config = CorpusBuildConfig(
            dumps=(path,), output=str(Path(directory) / "corpus"), tokenizer=tokenizer, keep_missing_targets=True
        )
        start = time.perf_counter()
        metadata = build_corpus(config, ["--direct_running_mode=in_memory", "--direct_num_workers=1"]).metadata
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "articles": metadata["counters"]["articles"],
        "sequences": metadata["counters"]["sequences"],
    }


def run_stages(path: str, tokenizer: str) -> dict:
    """Each stage over all the dump's articles, timed on its own (CPU seconds of this process)."""
    from corpus_builders import read_dump_pages
    from transformers import AutoTokenizer

    from preprocessing.dump_reading import read_site_info
    from preprocessing.packing import PackingOptions, pack_sentences
    from preprocessing.sentences import SentenceSplitter
    from preprocessing.shard_writing import write_shard
    from preprocessing.tokenization import MentionTokenizer
    from preprocessing.wikitext import WikitextParser

    pages = [page for page in read_dump_pages(Path(path)) if page.namespace == 0 and not page.redirect]
    clock = time.process_time
    parser = WikitextParser(read_site_info([path]))
    start = clock()
    parsed = [(page.page_id, parser.parse(page.page_id, page.title, page.wikitext).paragraphs) for page in pages]
    parsing = clock() - start

    splitter = SentenceSplitter("en")
    start = clock()
    sentences = [(page_id, [s for p in paragraphs for s in splitter.split(p)]) for page_id, paragraphs in parsed]
    splitting = clock() - start

    mention_tokenizer = MentionTokenizer(AutoTokenizer.from_pretrained(tokenizer).backend_tokenizer.to_str())
    counts: Counter = Counter()
    start = clock()
    tokenized = [(page_id, mention_tokenizer.tokenize(page, counts)) for page_id, page in sentences]
    tokenization = clock() - start

    titles = {link.target for _, page in sentences for sentence in page for link in sentence.links}
    vocab = {title: index + 3 for index, title in enumerate(sorted(titles))}
    start = clock()
    rows = [
        row for page_id, page in tokenized for row in pack_sentences(page_id, page, PackingOptions(), vocab.get, counts)
    ]
    with tempfile.TemporaryDirectory() as directory:
        write_shard(str(Path(directory) / "shard.arrow"), rows)
    writing = clock() - start
    return {
        "parsing": parsing,
        "sentence splitting": splitting,
        "tokenization": tokenization,
        "packing + writing": writing,
    }


def measure(mode: str, path: str, tokenizer: str) -> dict:
    command = [sys.executable, __file__, "--run", mode, "--dump", path, "--tokenizer", tokenizer]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target-mb", type=float, default=50.0, help="uncompressed XML to benchmark on")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each single-core measurement")
    parser.add_argument("--run", choices=["baseline", "job", "stages"], help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    parser.add_argument("--tokenizer", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run:
        runs = {"baseline": lambda: run_baseline(args.dump), "job": lambda: run_job(args.dump, args.tokenizer)}
        runs["stages"] = lambda: run_stages(args.dump, args.tokenizer)
        record = runs[args.run]()
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        record["cpu_seconds"] = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
        print(json.dumps(record))
        return

    from corpus_builders import train_bpe_tokenizer

    from preprocessing.sample_dump import fetch_sample_dump

    with tempfile.TemporaryDirectory() as directory:
        sample = fetch_sample_dump("en")
        tokenizer = str(train_bpe_tokenizer(sample, Path(directory) / "tokenizer", vocab_size=BPE_VOCAB_SIZE))
        path, pages, size = build_replicated_dump(args.target_mb, Path(directory))
        megabytes = size / 1e6
        print(f"dump: {pages:,} pages, {megabytes:.1f} MB of XML ({path.stat().st_size / 1e6:.1f} MB bz2)")
        baseline = [measure("baseline", str(path), tokenizer) for _ in range(args.repeats)]
        job = [measure("job", str(path), tokenizer) for _ in range(args.repeats)]
        stages = measure("stages", str(path), tokenizer)

    print(f"{'':36} {'wall s':>7} {'CPU s':>7} {'pages/s/core':>13} {'MB/s/core':>10}")
    cpu = {}
    for name, runs in (("wikiextractor alone (1 core)", baseline), ("build-corpus job, in-memory (1 core)", job)):
        wall = statistics.median(run["seconds"] for run in runs)
        cpu[name] = statistics.median(run["cpu_seconds"] for run in runs)
        print(f"{name:36} {wall:7.1f} {cpu[name]:7.1f} {pages / cpu[name]:13.1f} {megabytes / cpu[name]:10.2f}")
    ratio = cpu["wikiextractor alone (1 core)"] / cpu["build-corpus job, in-memory (1 core)"]
    print(f"throughput ratio job / wikiextractor alone (per core): {ratio:.2f}  (goal ≥ 0.50)")
    staged = {name: seconds for name, seconds in stages.items() if name != "cpu_seconds"}
    job_cpu = cpu["build-corpus job, in-memory (1 core)"]
    shares = {**staged, "Beam, reading, vocabulary, joins (rest)": max(0.0, job_cpu - sum(staged.values()))}
    print("share of the job's CPU time: " + ", ".join(f"{n} {s / job_cpu:.0%}" for n, s in shares.items()))
    core_hours = FULL_ENWIKI_GB * 1e3 / (megabytes / job_cpu) / 3600
    print(f"projected for full English Wikipedia (~{FULL_ENWIKI_GB:.0f} GB of XML): {core_hours:,.0f} core-hours")
    print(f"sequences per run: {job[0]['sequences']:,} from {job[0]['articles']:,} articles")


if __name__ == "__main__":
    main()
