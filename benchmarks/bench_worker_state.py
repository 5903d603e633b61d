"""Benchmark: the article pass's worker state on the DaskRunner's schedule, reused from copy to copy vs rebuilt.

Beam's DaskRunner sets up a copy of a DoFn for every partition and tears it down at the partition's end. This runs
the article pass's DoFn (``corpus.tokenizing``: parse, look links up in the title table, split, tokenize, write)
in one process the way a Dask worker does — for each partition a copy unpickled, set up, run over
``--units-per-partition`` units, torn down — over the units of a **synthetic** dump (``synthetic_dump.py``; the
title table made by the title and table passes first, in memory), two ways, each in a fresh process:

- ``rebuilt`` (the baseline: before ``SetUpDoFn`` kept state, every copy built its own): the kept state
  released before each setup;
- ``reused``: as the code runs (``preprocessing/beam/setup_state.py``).

Printed per way: the process's anonymous memory after the first partition and at the end, its growth per
partition over the second half (when the word memo has filled), CPU seconds per unit; then the ratios.

    python benchmarks/bench_worker_state.py [--size 256] [--streams-per-range 4] [--units-per-partition 5] \\
        [--units 200] [--dumps DIR] [--tokenizer DIR]
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

WAYS = ("rebuilt", "reused")


def anonymous_mib() -> float:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no Anonymous: line in /proc/self/smaps_rollup")


def run_partitions(setting: dict) -> dict:
    """In this process: the article pass's DoFn over the units, a copy set up and torn down per partition."""
    from preprocessing.beam.setup_state import release_worker_state
    from preprocessing.corpus.splits import SplitPlan
    from preprocessing.corpus.tokenizing import _TokenizeUnitFn
    from preprocessing.entities.articles import DumpArticles, ExtractionOptions, ReadingOptions
    from preprocessing.entities.vocab_building import LinkCountRuns
    from preprocessing.sources.reading import plan_reading

    plan = plan_reading([setting["dump"]], setting["streams_per_range"])
    build = setting["build_dir"]
    source = DumpArticles(
        plan.site, setting["table_dir"], setting["table_parts"], ExtractionOptions(), ReadingOptions()
    )
    fn = _TokenizeUnitFn(
        source,
        "en",
        setting["tokenizer"],
        build,
        SplitPlan(),
        LinkCountRuns(f"{build}/link_counts", setting["table_parts"]),
        None,
    )
    pickled = pickle.dumps(fn)
    units = plan.units[: setting["units"]]
    per_partition = setting["units_per_partition"]
    after_partition = []
    start = time.process_time()
    for first in range(0, len(units), per_partition):
        if setting["way"] == "rebuilt":
            release_worker_state()
        copy = pickle.loads(pickled)
        copy.setup()
        for unit in units[first : first + per_partition]:
            for _ in copy.process(unit):
                pass
        copy.teardown()
        after_partition.append(anonymous_mib())
    return {"cpu_s": time.process_time() - start, "units": len(units), "anon_mib": after_partition}


def summary(way: str, result: dict) -> dict:
    anon = result["anon_mib"]
    half = len(anon) // 2
    return {
        "way": way,
        "partitions": len(anon),
        "first_mib": anon[0],
        "last_mib": anon[-1],
        "growth_mib_per_partition": (anon[-1] - anon[half]) / max(1, len(anon) - 1 - half),
        "cpu_ms_per_unit": 1000 * result["cpu_s"] / result["units"],
    }


def prepare(args: argparse.Namespace, scratch: Path) -> dict:
    """The dump, the tokenizer and the title table (title and table passes, in-memory runner)."""
    from bench_scale import make_dump, make_tokenizer
    from corpus_builders import IN_PROCESS

    from preprocessing.beam.options import pipeline_options_from_args
    from preprocessing.beam.output_checks import xml_bytes
    from preprocessing.beam.passes import PassRunner
    from preprocessing.entities.articles import ReadingOptions
    from preprocessing.entities.title_job import build_title_table
    from preprocessing.sources.reading import plan_reading

    dumps = Path(args.dumps) if args.dumps else scratch
    dump = make_dump(args.size, 0, 2, dumps)
    tokenizer = Path(args.tokenizer) if args.tokenizer else make_tokenizer(scratch)
    plan = plan_reading([str(dump)], args.streams_per_range)
    passes = PassRunner(pipeline_options_from_args(list(IN_PROCESS)), str(scratch / "progress"), str(scratch / "log"))
    table = build_title_table(
        plan.units, ReadingOptions(), str(scratch), xml_bytes([(file.path, file.size) for file in plan.files]), passes
    )
    return {
        "dump": str(dump),
        "streams_per_range": args.streams_per_range,
        "table_dir": table.directory,
        "table_parts": table.parts,
        "tokenizer": str(tokenizer / "tokenizer.json"),
        "units": min(args.units, len(plan.units)),
        "units_per_partition": args.units_per_partition,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="MB of XML of the synthetic dump")
    parser.add_argument("--streams-per-range", type=int, default=4, help="bz2 streams (100 pages) a unit")
    parser.add_argument("--units-per-partition", type=int, default=5)
    parser.add_argument("--units", type=int, default=200, help="units run (at most the dump's)")
    parser.add_argument("--dumps", help="folder of synthetic dumps (made there if missing; default: a temporary one)")
    parser.add_argument("--tokenizer", help="a byte-level BPE tokenizer directory (default: trained on the sample)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        setting = json.loads(args.child)
        print(json.dumps(run_partitions(setting)))
        return

    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        setting = prepare(args, scratch)
        rows = []
        for way in WAYS:
            child = json.dumps({**setting, "way": way, "build_dir": str(scratch / way)})
            out = subprocess.run(
                [sys.executable, __file__, "--child", child], capture_output=True, text=True, check=True
            )
            rows.append(summary(way, json.loads(out.stdout.splitlines()[-1])))
    print(f"{setting['units']} units of {Path(setting['dump']).name}, {setting['units_per_partition']} a partition")
    for row in rows:
        print(
            f"{row['way']:>8}: {row['partitions']} partitions, anonymous memory {row['first_mib']:.0f} -> "
            f"{row['last_mib']:.0f} MiB, +{row['growth_mib_per_partition']:.2f} MiB a partition (second half), "
            f"{row['cpu_ms_per_unit']:.0f} CPU ms a unit"
        )
    rebuilt, reused = rows
    print(
        f"reused / rebuilt: end memory {reused['last_mib'] / rebuilt['last_mib']:.2f}, "
        f"CPU a unit {reused['cpu_ms_per_unit'] / rebuilt['cpu_ms_per_unit']:.2f}"
    )


if __name__ == "__main__":
    main()
