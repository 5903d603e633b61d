"""Run small Beam pipelines in tests and collect their output and counters."""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from preprocessing.beam.metrics import JobSummary, read_summary
from preprocessing.beam.options import create_pipeline

IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def run_and_collect(build, beam_args: list[str] = IN_MEMORY) -> tuple[list, JobSummary]:
    """Run ``build(pipeline) -> PCollection`` and return the collection's elements and the job's counters."""
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "elements.pickle"
        pipeline = create_pipeline(PipelineOptions(beam_args))  # the commands' runner
        (
            build(pipeline)
            | "CollectForTest" >> beam.combiners.ToList()
            | "DumpForTest" >> beam.Map(lambda elements: target.write_bytes(pickle.dumps(elements)))
        )
        result = pipeline.run()
        result.wait_until_finish()
        return pickle.loads(target.read_bytes()), read_summary(result)


def run_vocab_job(
    patterns: list[str],
    output: str,
    build_dir: str,
    keep_missing: bool = True,
    size: int = 2000,
    beam_args: list[str] = IN_MEMORY,
    keep_section_links: bool = False,
) -> tuple[dict, JobSummary]:
    """The entity vocabulary job (title pass, then link counting) on ``patterns``: its ledger and the article pass's
    counters. The title table stays in ``build_dir`` (see :func:`dump_articles`)."""
    from preprocessing.beam.passes import PassRunner
    from preprocessing.entities.articles import ExtractionOptions, ReadingOptions
    from preprocessing.entities.vocab_job import EntityVocabJob
    from preprocessing.sources.reading import plan_reading

    extraction = ExtractionOptions(keep_missing_targets=keep_missing, keep_section_links=keep_section_links)
    job = EntityVocabJob(plan_reading(patterns), ReadingOptions(), extraction, size, 1, output, build_dir)
    passes = PassRunner(PipelineOptions(beam_args), f"{build_dir}/progress", f"{output}.error.log", "test")
    ledger = job.run(passes, xml_bytes=0)
    for result in passes.results.values():
        if hasattr(result, "client"):  # the DaskRunner's own client: closed before its cluster goes
            result.client.close()
    return ledger, read_summary(passes.results["article"])


def dump_articles(
    patterns: list[str], build_dir: str, keep_missing: bool = True, keep_section_links: bool = False
) -> tuple[list, dict]:
    """The articles (links resolved) that the article pass makes of ``patterns``, made in this process from the
    title table that :func:`run_vocab_job` left in ``build_dir``, and their counts."""
    from collections import Counter

    from preprocessing.entities.articles import DumpArticles, ExtractionOptions, ReadingOptions
    from preprocessing.entities.title_job import TABLE_DIR
    from preprocessing.sources.reading import plan_reading

    plan = plan_reading(patterns)
    extraction = ExtractionOptions(keep_missing_targets=keep_missing, keep_section_links=keep_section_links)
    extractor = DumpArticles(plan.site, f"{build_dir}/{TABLE_DIR}", 1, extraction, ReadingOptions()).open()
    counts: Counter = Counter()
    articles = [article for unit in plan.units for article in extractor.articles(unit, counts)]
    return articles, dict(counts)
