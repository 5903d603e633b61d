"""Benchmark: the entity-vocabulary Beam job vs wikiextractor's own extraction of the same pages.

The enwiki sample dump is replicated (fresh page ids and titles per copy) to at least ``--target-mb`` MB of
XML and bz2-compressed, as Wikimedia ships it. In the same run, each measured ``--repeats`` times in a
fresh process (medians reported):

- baseline: wikiextractor's own single-process path (``collect_pages`` + ``Extractor.extract`` with links,
  what ``WikiExtractor.py --no-templates --links`` does per page);
- job: ``luke build-entity-vocab``'s passes (the title pass, then the article pass counting links into
  ``BuildEntityVocab``) on the DirectRunner, in-memory with one worker, i.e. one core;
- job on the multi-processing DirectRunner with ``--workers`` processes (once): wall time and the peak
  RSS of the largest worker process.

Prints pages/s and uncompressed MB/s per core (per CPU second, so that a shared machine does not skew
them), the ratio job/baseline, and peak RSS.

    python benchmarks/bench_entity_vocab.py [--target-mb 50] [--repeats 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import bz2
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build_replicated_dump(target_mb: float, directory: Path) -> tuple[Path, int, int]:
    """Write the replicated dump; return its path, page count and uncompressed size in bytes."""
    from preprocessing.sources.sample import fetch_sample_dump

    xml = bz2.decompress(fetch_sample_dump("en").read_bytes())
    first, last = xml.index(b"  <page>"), xml.rindex(b"</page>") + len(b"</page>\n")
    header, body, footer = xml[:first], xml[first:last], xml[last:]
    pages = re.findall(rb"  <page>.*?</page>\n", body, re.DOTALL)
    copies = max(1, int(target_mb * 1e6 // len(body)) + 1)
    parts = [header]
    for copy in range(copies):
        for page in pages:
            page_id = int(re.search(rb"<id>(\d+)</id>", page).group(1)) + copy * 10_000_000
            page = re.sub(rb"<id>\d+</id>", b"<id>%d</id>" % page_id, page, count=1)
            if copy:
                page = re.sub(rb"<title>(.*?)</title>", rb"<title>\1 (copy %d)</title>" % copy, page, count=1)
            parts.append(page)
    parts.append(footer)
    data = b"".join(parts)
    path = directory / "enwiki-replicated-pages-articles.xml.bz2"
    path.write_bytes(bz2.compress(data, 6))
    return path, copies * len(pages), len(data)


def run_baseline(path: str) -> dict:
    import io

    from wikiextractor import WikiExtractor
    from wikiextractor.extract import Extractor

    # process_dump() sets this from <siteinfo> before collect_pages() runs; left empty, every page is skipped
    WikiExtractor.templateNamespace = "Template"
    start = time.perf_counter()
    articles = 0
    with WikiExtractor.decode_open(path) as stream:
        for page_id, revid, title, page in WikiExtractor.collect_pages(stream):
            Extractor(page_id, revid, "", title, page, keepLinks=True).extract(io.StringIO())
            articles += 1
    return {"seconds": time.perf_counter() - start, "articles": articles}


def run_job(path: str, beam_args: list[str]) -> dict:
    from apache_beam.options.pipeline_options import PipelineOptions

    from preprocessing.beam.metrics import read_summary
    from preprocessing.beam.passes import PassRunner
    from preprocessing.defaults import DEFAULT_VOCAB_SIZE
    from preprocessing.entities.articles import ExtractionOptions, ReadingOptions
    from preprocessing.entities.vocab_job import EntityVocabJob
    from preprocessing.sources.reading import plan_reading

    start = time.perf_counter()
    plan = plan_reading([path])
    with tempfile.TemporaryDirectory() as directory:
        extraction = ExtractionOptions(keep_missing_targets=True)
        output, build_dir = str(Path(directory) / "entity_vocab.jsonl"), str(Path(directory) / "build")
        job = EntityVocabJob(plan, ReadingOptions(), extraction, DEFAULT_VOCAB_SIZE, 1, output, build_dir)
        passes = PassRunner(PipelineOptions(beam_args), f"{build_dir}/progress", f"{output}.error.log")
        job.run(passes, xml_bytes=Path(path).stat().st_size)
    summary = read_summary(passes.results["article"])
    return {
        "seconds": time.perf_counter() - start,
        "articles": summary.get("pages.articles"),
        "pages": summary.get("pages.read"),
        "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def measure(mode: str, path: str, extra: list[str]) -> dict:
    """Run one measurement in a fresh interpreter; add its peak RSS."""
    command = [sys.executable, __file__, "--run", mode, "--dump", path, *extra]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target-mb", type=float, default=50.0, help="uncompressed XML to benchmark on")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each single-core measurement")
    parser.add_argument("--workers", type=int, default=2, help="processes of the multi-processing run")
    parser.add_argument("--run", choices=["baseline", "job-1", "job-n"], help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run:
        if args.run == "baseline":
            record = run_baseline(args.dump)
        elif args.run == "job-1":
            record = run_job(args.dump, ["--direct_running_mode=in_memory", "--direct_num_workers=1"])
        else:
            record = run_job(
                args.dump, ["--direct_running_mode=multi_processing", f"--direct_num_workers={args.workers}"]
            )
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        record["peak_rss_mb"] = own.ru_maxrss / 1024
        record["cpu_seconds"] = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
        print(json.dumps(record))
        return

    with tempfile.TemporaryDirectory() as directory:
        path, pages, size = build_replicated_dump(args.target_mb, Path(directory))
        megabytes = size / 1e6
        print(f"dump: {pages:,} pages, {megabytes:.1f} MB of XML ({path.stat().st_size / 1e6:.1f} MB bz2)")
        baseline = [measure("baseline", str(path), []) for _ in range(args.repeats)]
        single = [measure("job-1", str(path), []) for _ in range(args.repeats)]
        parallel = measure("job-n", str(path), ["--workers", str(args.workers)])

    assert single[0]["pages"] == pages, (single[0]["pages"], pages)
    rows = [("wikiextractor alone (1 core)", baseline), ("entity-vocab job, in-memory (1 core)", single)]
    print(f"{'':38} {'wall s':>7} {'CPU s':>7} {'pages/s':>8} {'MB/s':>6} {'peak RSS MB':>12}")
    cpu = {}
    for name, runs in rows:
        wall = statistics.median(run["seconds"] for run in runs)
        cpu[name] = statistics.median(run["cpu_seconds"] for run in runs)
        rss = max(run["peak_rss_mb"] for run in runs)
        print(
            f"{name:38} {wall:7.1f} {cpu[name]:7.1f} {pages / cpu[name]:8.0f} {megabytes / cpu[name]:6.2f} {rss:12.0f}"
        )
    ratio = cpu[rows[0][0]] / cpu[rows[1][0]]
    print(f"throughput per core, job / wikiextractor: {ratio:.2f} (CPU-time medians of {args.repeats} runs each)")
    print("(pages/s and MB/s are per CPU second: the machine may be shared, so wall time is shown but not used)")
    wall = parallel["seconds"]
    print(
        f"multi-processing DirectRunner, {args.workers} workers: {wall:.1f} s wall, {pages / wall:.0f} pages/s, "
        f"{megabytes / wall:.2f} MB/s; peak RSS per worker {parallel['worker_peak_rss_mb']:.0f} MB, "
        f"driver {parallel['peak_rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
