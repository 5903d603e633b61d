"""How the two Beam jobs grow with the dump: synthetic dumps of sizes growing ×4, two runners, time and memory.

For each size (MB of XML) ``benchmarks/synthetic_dump.py`` writes a **synthetic** multistream dump with its index
(real sentences of the sample dumps recombined, Wikipedia's link and redirect proportions; see its docstring), then
``luke build-entity-vocab --entity-vocab-size 500000`` and ``luke build-corpus`` (byte-level BPE tokenizer of
50,000 tokens trained on the sample, 64 + 1 shards) run on it:

- ``direct``: the DirectRunner in multi-processing mode with ``--workers`` worker processes;
- ``dask``: Beam's DaskRunner on a fresh local dask.distributed cluster of ``--workers`` worker processes (one
  thread each) on 127.0.0.1, started for each run and closed after it; the stream ranges are partitioned as the
  runner does by default (128 a partition: one partition up to ~0.75 GB of synthetic XML) unless
  ``--dask-partition-size`` is given; the workers' statistical profiler is off, as ``launch/beam/README.md``
  advises (``--dask-worker-profile`` keeps Dask's default, on);
- ``single`` (smallest size only, entity vocabulary only; ``--no-single-process`` leaves it out): the
  DirectRunner in memory with one worker, the single-process count that the others' vocabularies must equal.

Per run: wall time, CPU seconds per MB of XML (the job's process tree, cluster workers included), peak RSS of the
whole process tree (the largest sum of one moment's processes), of the
driver (the ``luke`` process) and of the largest worker process (sampled from /proc every 0.1 s with psutil; the
JSON lists every process's), bytes written, the spread of the train shards' sizes (largest / mean), the entity
vocabulary's size. Then each figure's growth factor per ×4 of input and the marginal CPU seconds per MB between
sizes (the fixed start-up cost left out: what the projection to full Wikipedia uses), whether the vocabularies
equal the single-process one, and whether both runners wrote byte-identical outputs (every file but
``metadata.json``, whose timings differ). ``--json`` writes every row.

    python benchmarks/bench_scale.py [--sizes 16 64 256] [--runners direct dask] [--jobs ...] [--workers 2] \\
        [--dask-partition-size N] [--dask-worker-profile] [--dumps DIR] [--no-single-process] [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests")]

BPE_VOCAB_SIZE = 50_000
ENTITY_VOCAB_SIZE = 500_000
DUMP_NAME = "synwiki-{size}mb-seed{seed}-pages-articles-multistream.xml.bz2"
JOBS = ("build-entity-vocab", "build-corpus")
FIGURES = ("cpu_s_per_mb", "wall_s", "tree_peak_mib", "driver_peak_mib", "worker_peak_mib")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256], help="MB of XML (default 16 64 256)")
    parser.add_argument("--runners", nargs="+", choices=["direct", "dask"], default=["direct", "dask"])
    parser.add_argument("--workers", type=int, default=2, help="worker processes of each runner (default 2)")
    parser.add_argument("--jobs", nargs="+", choices=JOBS, default=list(JOBS), help="default: both")
    parser.add_argument(
        "--dask-partition-size",
        type=int,
        help="stream ranges per Dask partition (Beam's --dask_partition_size; default: the runner's, 128)",
    )
    parser.add_argument(
        "--dask-worker-profile",
        action="store_true",
        help="keep Dask's statistical profiler on in the workers (its default; off here, as launch/beam advises)",
    )
    parser.add_argument("--seed", type=int, default=0, help="of the synthetic dumps (default 0)")
    parser.add_argument(
        "--dumps", type=Path, help="keep the dumps here and reuse those already there (default: deleted)"
    )
    parser.add_argument(
        "--scratch", type=Path, help="where outputs and the jobs' logs go, kept (default: a temporary directory)"
    )
    parser.add_argument(
        "--no-single-process",
        dest="single_process",
        action="store_false",
        help="leave out the single-process vocabulary at the smallest size (one core: ~4 minutes a GB here)",
    )
    parser.add_argument("--json", type=Path, help="also write every row to this file")
    return parser.parse_args()


TREE = -1  # the key of the whole tree's peak (the sum of one sample's processes) among the peaks by pid


@contextmanager
def peak_rss_sampled(pids: Callable[[], list[int]], interval: float = 0.1) -> Iterator[dict[int, int]]:
    """While inside, poll the processes ``pids()`` returns, with their descendants, every ``interval`` seconds;
    yields the peak RSS seen of each, by pid, and of the whole tree at one moment (key :data:`TREE`)."""
    peaks: dict[int, int] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            total = 0
            for process in _process_trees(pids()):
                try:
                    rss = process.memory_info().rss
                except psutil.Error:  # exited meanwhile
                    continue
                total += rss
                peaks[process.pid] = max(rss, peaks.get(process.pid, 0))
            peaks[TREE] = max(total, peaks.get(TREE, 0))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peaks
    finally:
        stop.set()
        thread.join()


def _process_trees(pids: list[int]) -> Iterator[psutil.Process]:
    for pid in pids:
        try:
            root = psutil.Process(pid)
            yield root
            yield from root.children(recursive=True)
        except psutil.Error:
            continue


@contextmanager
def dask_cluster(workers: int, profile: bool) -> Iterator[tuple[str, list[int]]]:
    """A local dask.distributed cluster on 127.0.0.1, its workers' profiler on or off: its scheduler address and
    its worker processes' pids."""
    import dask
    from distributed import LocalCluster, default_client

    before = {child.pid for child in psutil.Process().children(recursive=True)}
    with dask.config.set({"distributed.worker.profile.enabled": profile}):  # the workers get it at their start
        cluster = LocalCluster(
            host="127.0.0.1", processes=True, n_workers=workers, threads_per_worker=1, dashboard_address=None
        )
    try:
        started = [child.pid for child in psutil.Process().children(recursive=True) if child.pid not in before]
        yield cluster.scheduler_address, started
    finally:
        while True:  # Beam's DaskRunner leaves its clients connected
            try:
                default_client().close()
            except ValueError:
                break
        cluster.close()


def runner_options(runner: str, workers: int, scheduler: str | None, dask_partition_size: int | None) -> list[str]:
    if runner == "dask":
        options = ["--runner=apache_beam.runners.dask.dask_runner.DaskRunner", f"--dask_client_address={scheduler}"]
        return options + ([f"--dask_partition_size={dask_partition_size}"] if dask_partition_size else [])
    if runner == "single":
        return ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    return ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]


def run_job(argv: list[str], runner: str, args: argparse.Namespace, log: Path) -> dict:
    """Run one ``luke`` job with ``runner``; its wall time, CPU seconds and peak RSS of the driver, of the largest
    worker and of every other process of the run (largest first; for the JSON).

    CPU seconds are those of this process's children once reaped: the job's process tree and, for Dask, the
    cluster's worker processes (closed with the run); the scheduler, a thread of this process, is left out."""
    cpu_before = _children_cpu_seconds()
    cluster = dask_cluster(args.workers, args.dask_worker_profile) if runner == "dask" else _no_cluster()
    with cluster as (scheduler, cluster_pids):
        options = runner_options(runner, args.workers, scheduler, args.dask_partition_size)
        command = [sys.executable, "-m", "luke.cli", *argv, *options]
        start = time.perf_counter()
        with log.open("w") as output:
            process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
            with peak_rss_sampled(lambda: [process.pid, *cluster_pids]) as peaks:
                returncode = process.wait()
        wall = time.perf_counter() - start
        if returncode != 0:
            raise SystemExit(f"{' '.join(argv[:2])} failed ({returncode}); see {log}")
    workers_mib = sorted((rss / 2**20 for pid, rss in peaks.items() if pid not in (process.pid, TREE)), reverse=True)
    return {
        "wall_s": wall,
        "cpu_s": _children_cpu_seconds() - cpu_before,
        "tree_peak_mib": peaks.get(TREE, 0) / 2**20,
        "driver_peak_mib": peaks.get(process.pid, 0) / 2**20,
        "worker_peak_mib": workers_mib[0] if workers_mib else 0.0,
        "process_peaks_mib": workers_mib,
    }


@contextmanager
def _no_cluster() -> Iterator[tuple[None, list[int]]]:
    yield None, []


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def digests(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under ``directory`` but metadata.json and logs, by relative path."""
    files = (path for path in sorted(directory.rglob("*")) if path.is_file())
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in files
        if path.name != "metadata.json" and path.suffix != ".log"
    }


def output_figures(output: Path) -> dict[str, float]:
    """Bytes written, the train shards' spread (largest / mean) and the vocabulary's size."""
    files = [path for path in output.rglob("*") if path.is_file()] if output.is_dir() else [output]
    shards = [path.stat().st_size for path in output.glob("train/*.arrow")] if output.is_dir() else []
    vocab = output / "entity_vocab.jsonl" if output.is_dir() else output
    return {
        "bytes_written": sum(path.stat().st_size for path in files),
        "shard_spread": max(shards) / statistics.mean(shards) if shards else float("nan"),
        "entity_vocab_size": sum(1 for _ in vocab.open(encoding="utf-8")),
    }


def make_dump(size: int, seed: int, workers: int, directory: Path) -> Path:
    dump = directory / DUMP_NAME.format(size=size, seed=seed)
    if dump.exists():
        return dump
    script = HERE / "synthetic_dump.py"
    argv = [sys.executable, str(script), str(size), "--output", str(dump), "--seed", str(seed)]
    with (directory / f"synthetic-dump-{size}.log").open("w") as log:  # its statistics table
        subprocess.run([*argv, "--workers", str(workers)], stdout=log, stderr=subprocess.STDOUT, check=True)
    return dump


def make_tokenizer(directory: Path) -> Path:
    from corpus_builders import train_bpe_tokenizer

    from preprocessing.sources.sample import fetch_sample_dump

    tokenizer = directory / "tokenizer"
    if not tokenizer.exists():
        train_bpe_tokenizer(fetch_sample_dump("en"), tokenizer, vocab_size=BPE_VOCAB_SIZE)
    return tokenizer


def measure(args: argparse.Namespace, scratch: Path) -> list[dict]:
    tokenizer = make_tokenizer(scratch)
    rows: list[dict] = []
    smallest = min(args.sizes)
    for size in sorted(args.sizes):
        dump = make_dump(size, args.seed, args.workers, args.dumps or scratch)
        dump_mb = xml_megabytes(dump)
        runners = [*args.runners, "single"] if size == smallest and args.single_process else args.runners
        for runner in runners:
            jobs = {"build-entity-vocab": scratch / f"vocab-{size}-{runner}.jsonl"}
            if runner != "single":
                jobs["build-corpus"] = scratch / f"corpus-{size}-{runner}"
            jobs = {job: output for job, output in jobs.items() if job in args.jobs}
            for job, output in jobs.items():
                argv = [job, str(dump), "--output", str(output), "--entity-vocab-size", str(ENTITY_VOCAB_SIZE)]
                argv += ["--overwrite"]  # a kept --scratch holds the last run's outputs
                if job == "build-corpus":
                    argv += ["--tokenizer", str(tokenizer)]
                row = {"size_mb": size, "xml_mb": dump_mb, "runner": runner, "job": job}
                if runner == "dask":
                    row["dask_worker_profile"] = args.dask_worker_profile
                row |= run_job(argv, runner, args, scratch / f"{job}-{size}-{runner}.log")
                row["cpu_s_per_mb"] = row["cpu_s"] / dump_mb
                row |= output_figures(output)
                rows.append(row)
                print(_row_line(row), flush=True)
        compare_outputs(scratch, size, runners, rows)
    return rows


def compare_outputs(scratch: Path, size: int, runners: list[str], rows: list[dict]) -> None:
    """Record, on this size's rows, whether vocabularies equal the single-process one and corpora match."""
    vocabularies = {runner: (scratch / f"vocab-{size}-{runner}.jsonl") for runner in runners}
    vocabularies = {runner: path.read_bytes() for runner, path in vocabularies.items() if path.exists()}
    corpora = {runner: scratch / f"corpus-{size}-{runner}" for runner in runners if runner != "single"}
    corpora = {runner: digests(path) for runner, path in corpora.items() if path.exists()}
    reference = vocabularies.get("single")
    for row in rows:
        if row["size_mb"] != size:
            continue
        if row["job"] == "build-entity-vocab" and reference is not None:
            row["vocab_equals_single_process"] = vocabularies[row["runner"]] == reference
        if row["job"] == "build-corpus" and len(corpora) > 1:
            row["identical_across_runners"] = len({json.dumps(files) for files in corpora.values()}) == 1


def xml_megabytes(dump: Path) -> float:
    """MB of XML in a dump file, compressed or not (read through)."""
    from preprocessing.sources.files import iter_blocks, open_decompressed

    with open_decompressed(str(dump)) as stream:
        return sum(len(block) for block in iter_blocks(stream)) / 1e6


def _row_line(row: dict) -> str:
    return (
        f"{row['size_mb']:>6} MB {row['runner']:7s} {row['job']:19s} {row['wall_s']:8.1f} s wall "
        f"{row['cpu_s_per_mb']:6.2f} CPU s/MB  tree {row['tree_peak_mib']:7.0f} MiB  "
        f"driver {row['driver_peak_mib']:7.0f} MiB  "
        f"worker {row['worker_peak_mib']:7.0f} MiB  {row['bytes_written'] / 1e6:8.1f} MB written  "
        f"spread {row['shard_spread']:.2f}  vocab {row['entity_vocab_size']:,}"
    )


def print_growth(rows: list[dict]) -> None:
    """Each figure's factor from one size to the next (×4 of input), per runner and job."""
    print("\ngrowth per step of input size (goal: the tree's peak RSS ≤ 1.3× per ×4, CPU s/MB within ±15 %)")
    for runner in sorted({row["runner"] for row in rows}):
        for job in JOBS:
            series = sorted((row for row in rows if row["runner"] == runner and row["job"] == job), key=_size)
            for smaller, larger in itertools.pairwise(series):
                factors = ", ".join(f"{name} ×{larger[name] / smaller[name]:.2f}" for name in FIGURES if smaller[name])
                marginal = (larger["cpu_s"] - smaller["cpu_s"]) / (larger["xml_mb"] - smaller["xml_mb"])
                print(
                    f"{runner:7s} {job:19s} {smaller['size_mb']} → {larger['size_mb']} MB: {factors}; "
                    f"marginal {marginal:.2f} CPU s/MB"
                )
    for row in rows:
        for check in ("vocab_equals_single_process", "identical_across_runners"):
            if check in row:
                print(f"{row['size_mb']} MB {row['runner']} {row['job']}: {check} = {row[check]}")


def _size(row: dict) -> int:
    return row["size_mb"]


def main() -> None:
    args = parse_args()
    if args.scratch:  # kept, with the jobs' logs: a failed job's log is where its error is
        args.scratch.mkdir(parents=True, exist_ok=True)
        rows = measure(args, args.scratch)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
            rows = measure(args, Path(scratch))
    print_growth(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
