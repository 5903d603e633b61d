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
