"""The training loader at scale: start-up time, memory and samples/s per worker on SYNTHETIC corpora of 1M-20M rows.

For each ``--rows`` size a synthetic corpus (``synthetic_corpus.py``: random ids in the real layout; short rows of
8-24 words, so that 20M rows take ~2.2 GB of disk) is written, measured and deleted; ``--luke-rows N`` adds a
corpus of N rows of LUKE's length (448-510 words, 0-32 mentions). Each simulated rank of ``--ranks`` runs alone
in a fresh process (so its memory is its own), ``--repeats`` times, ranks interleaved; medians are printed.
A rank builds its loaders as ``luke train`` does (``configs/train/tiny.yaml``, micro-batch 16, ``--workers``
DataLoader workers) and measures:

  open         ``Corpus.open``: metadata validated, shards checked
  build        ``build_loaders``: train and validation splits memory-mapped, sampler, collator, loaders
  1st batch    ``iter(train loader)`` → first batch: workers started, the epoch's order built, rows read and masked
  start-up     open + build + 1st batch: what ``luke train`` waits for before its first step (goal < 30 s)
  order        afterwards, a fresh sampler of the rank yields its first key: the epoch's order alone
  rank MiB     the rank process's peak resident memory (VmHWM) while its loader ran (goal < 2 GB), its anonymous
               memory then (RssAnon: what is not the mapped corpus)
  worker MiB   per DataLoader worker (the largest): peak resident memory (VmHWM: pages shared with the rank
               included) and proportional set size (each shared page divided among the processes mapping it) of
               anonymous memory (Pss_Anon: the worker's cost) and of files (Pss_File: the mapped shards' pages
               read so far, page cache that the kernel may drop)
  samples/s    per worker over ``--batches`` batches after the first, against the baseline of the same batches
               collated in the rank process (no worker; as ``bench_dataloader.py`` does): ratio per worker / in-process

The growth table divides each figure by the same figure of the first (smallest) size, measured in the same run:
start-up, order and memory should stay near 1× while the rows grow 5× and 20×.

Usage: python benchmarks/bench_loader_scale.py [--rows 1000000 5000000 20000000] [--luke-rows 0] [--ranks 2]
    [--workers 2] [--batches 200] [--repeats 3] [--dir /tmp/bench-loader-scale] [--keep] [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from synthetic_corpus import (  # noqa: E402
    LUKE_ROWS,
    SHORT_ROWS,
    SPECIAL_TOKENS,
    WORD_VOCAB,
    RowShape,
    corpus_bytes,
    write_synthetic_corpus,
)

TIMES = ("open_s", "build_s", "order_s", "first_batch_s", "startup_s")
MEMORY = ("rank_peak_mib", "rank_anon_mib", "worker_peak_mib", "worker_anon_mib", "worker_file_mib")
RATES = ("samples_per_s_per_worker", "in_process_samples_per_s", "ratio_per_worker_to_in_process")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000, 20_000_000])
    parser.add_argument("--luke-rows", type=int, default=0, help="also a corpus of this many LUKE-length rows")
    parser.add_argument("--ranks", type=int, default=2, help="data-parallel world size simulated (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers per rank (default 2)")
    parser.add_argument("--batches", type=int, default=200, help="batches timed after the first (default 200)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each rank (default 3)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench-loader-scale"))
    parser.add_argument("--keep", action="store_true", help="keep the synthetic corpora (deleted by default)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # one rank's run on this corpus
    parser.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---- one rank, in its own process ----


def memory_mib(pid: int | str = "self") -> dict[str, float]:
    """Process ``pid``'s VmHWM, RssAnon and Pss_Anon / Pss_File (proportional set size), in MiB."""
    fields = {}
    for name in ("status", "smaps_rollup"):
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            key, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                fields[key] = int(value.split()[0]) / 1024
    names = {"peak": "VmHWM", "anon": "RssAnon", "pss_anon": "Pss_Anon", "pss_file": "Pss_File"}
    return {name: fields[field] for name, field in names.items()}


def synthetic_tokenizer_info():
    """What the collator needs of the synthetic word-level tokenizer: every token a word, ids 0-4 special."""
    import numpy as np

    from pretraining.data import TokenizerInfo

    special = np.zeros(WORD_VOCAB, dtype=bool)
    special[: len(SPECIAL_TOKENS)] = True
    ids = {"cls_id": 0, "pad_id": 1, "sep_id": 2, "mask_id": 4}
    word_start = np.ones(WORD_VOCAB, dtype=bool)
    return TokenizerInfo("synthetic", vocab_size=WORD_VOCAB, word_start=word_start, special=special, **ids)


def samples_per_s(batches, count: int) -> float:
    """Samples/s of the next ``count`` batches of the iterator ``batches``."""
    started, samples = time.perf_counter(), 0
    for _ in range(count):
        samples += next(batches)["word_ids"].shape[0]
    return samples / (time.perf_counter() - started)


def measure_rank(corpus_dir: Path, rank: int, ranks: int, workers: int, batches: int) -> dict[str, float]:
    """Start-up, memory and throughput of rank ``rank``'s train loader, as described in the module docstring."""
    from preprocessing.corpus import Corpus
    from pretraining.config import load_config
    from pretraining.data import DistributedEpochSampler, build_dataloader
    from pretraining.distributed import ProcessPlacement
    from pretraining.loaders import build_loaders
    from pretraining.model_setup import resolve_model_config

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    corpus = Corpus.open(corpus_dir)
    seconds["open_s"] = time.perf_counter() - started
    overrides = [f"data.corpus={corpus_dir}", "run_dir=/nonexistent", f"data.num_workers={workers}"]
    config = load_config(ROOT / "configs/train/tiny.yaml", overrides)
    info = synthetic_tokenizer_info()
    model_config = resolve_model_config(config, corpus, info)
    started = time.perf_counter()
    loader, _ = build_loaders(config, corpus, info, model_config, ProcessPlacement(rank, ranks, rank))
    seconds["build_s"] = time.perf_counter() - started
    dataset, collator = loader.dataloader.dataset, loader.dataloader.collate_fn

    def sampler() -> DistributedEpochSampler:
        return DistributedEpochSampler(len(dataset), rank, ranks, seed=config.seed)

    started = time.perf_counter()
    stream = iter(loader)
    next(stream)
    seconds["first_batch_s"] = time.perf_counter() - started
    seconds["startup_s"] = seconds["open_s"] + seconds["build_s"] + seconds["first_batch_s"]
    rate = samples_per_s(stream, batches) / max(workers, 1)
    rank_memory = memory_mib()
    worker_memory = [memory_mib(pid) for pid in _worker_pids()]
    loader.close()
    del stream
    gc.collect()
    started = time.perf_counter()
    next(iter(sampler()))
    seconds["order_s"] = time.perf_counter() - started
    local = iter(build_dataloader(dataset, sampler(), collator, config.batch.micro_batch_size, num_workers=0))
    next(local)
    in_process = samples_per_s(local, batches)
    return seconds | {
        "rank_peak_mib": rank_memory["peak"],
        "rank_anon_mib": rank_memory["anon"],
        "worker_peak_mib": max((memory["peak"] for memory in worker_memory), default=0.0),
        "worker_anon_mib": max((memory["pss_anon"] for memory in worker_memory), default=0.0),
        "worker_file_mib": max((memory["pss_file"] for memory in worker_memory), default=0.0),
        "samples_per_s_per_worker": rate,
        "in_process_samples_per_s": in_process,
        "ratio_per_worker_to_in_process": rate / in_process,
    }


def _worker_pids() -> list[int]:
    import psutil

    return [child.pid for child in psutil.Process().children()]


# ---- the driver ----


def run_rank(args: argparse.Namespace, corpus_dir: Path, rank: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", str(corpus_dir), "--rank", str(rank)]
    command += ["--ranks", str(args.ranks), "--workers", str(args.workers), "--batches", str(args.batches)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"rank {rank} on {corpus_dir} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_size(args: argparse.Namespace, rows: int, shape: RowShape) -> list[dict[str, Any]]:
    """Write the corpus, run every rank ``--repeats`` times (interleaved), delete it; one medians dict per rank."""
    root = args.dir / f"corpus-{rows}-{shape.max_words}"
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    write_synthetic_corpus(root, rows, shape=shape)
    print(f"wrote {rows:,} rows of {shape.min_words}-{shape.max_words} words ({corpus_bytes(root) / 1e9:.2f} GB) "
          f"in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    try:
        runs: list[list[dict[str, float]]] = [[] for _ in range(args.ranks)]
        for _ in range(args.repeats):
            for rank in range(args.ranks):
                runs[rank].append(run_rank(args, root, rank))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return [
        {"rows": rows, "words": f"{shape.min_words}-{shape.max_words}", "rank": rank}
        | {name: statistics.median(run[name] for run in rank_runs) for name in rank_runs[0]}
        for rank, rank_runs in enumerate(runs)
    ]


def _label(result: dict[str, Any]) -> str:
    rows = result["rows"]
    size = f"{rows / 1e6:g}M" if rows >= 1e6 else f"{rows / 1e3:g}K"
    return f"{size} × {result['words']}"


def print_tables(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{args.ranks} ranks, {args.workers} workers each, medians of {args.repeats}; times in s, memory in MiB")
    header = "rows × words       rank  open  build  1st batch  start-up  order  rank peak  anon  worker peak  anon"
    print(header + "  file  samples/s/worker  in-process  ratio")
    for r in results:
        print(f"{_label(r):18s} {r['rank']:4d} {r['open_s']:5.2f} {r['build_s']:6.2f} {r['first_batch_s']:10.2f} "
              f"{r['startup_s']:9.2f} {r['order_s']:6.2f} {r['rank_peak_mib']:10.0f} {r['rank_anon_mib']:5.0f} "
              f"{r['worker_peak_mib']:12.0f} {r['worker_anon_mib']:5.0f} {r['worker_file_mib']:5.0f} "
              f"{r['samples_per_s_per_worker']:17.0f} {r['in_process_samples_per_s']:11.0f} "
              f"{r['ratio_per_worker_to_in_process']:6.2f}")  # fmt: skip
    worst = {}
    for r in results:
        key = (r["rows"], r["words"])
        worst[key] = {name: max(worst.get(key, {}).get(name, 0), r[name]) for name in (*TIMES, *MEMORY)} | {
            "rows": r["rows"],
            "words": r["words"],
            "rate": min(worst.get(key, {}).get("rate", float("inf")), r["samples_per_s_per_worker"]),
        }
    base = next(iter(worst.values()))
    print(f"\ngrowth against the first size ({_label(base)}, worst rank), measured in this run")
    print("rows × words       rows   start-up  1st batch  order  rank peak  worker anon  samples/s/worker")
    for w in worst.values():
        g = {name: w[name] / base[name] for name in ("rows", "rate", *TIMES, *MEMORY)}
        print(f"{_label(w):18s} {g['rows']:5.1f}× {g['startup_s']:9.2f}× {g['first_batch_s']:9.2f}× "
              f"{g['order_s']:5.2f}× {g['rank_peak_mib']:9.2f}× {g['worker_anon_mib']:11.2f}× "
              f"{g['rate']:15.2f}×")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.measure:
        print(json.dumps(measure_rank(args.measure, args.rank, args.ranks, args.workers, args.batches)))
        return
    sizes = [(rows, SHORT_ROWS) for rows in args.rows] + ([(args.luke_rows, LUKE_ROWS)] if args.luke_rows else [])
    results = [result for rows, shape in sizes for result in measure_size(args, rows, shape)]
    print_tables(results, args)
    if args.json:
        args.json.write_text(json.dumps({"arguments": sys.argv[1:], "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
