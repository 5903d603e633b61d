"""Beam pipeline options from the command line's pass-through arguments."""

from __future__ import annotations

import os
from collections.abc import Sequence

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions, WorkerOptions


def pipeline_options_from_args(beam_args: Sequence[str]) -> PipelineOptions:
    """Turn the CLI's extra arguments (``--runner=...``, ``--project=...``, ...) into ``PipelineOptions``.

    Without ``--runner`` the job runs on the DirectRunner in multi-processing mode with one worker per
    core (``--direct_num_workers`` and ``--direct_running_mode`` still override that). Every other Beam
    option passes through unchanged, so the same command runs on Dataflow, Flink, Spark or Dask.
    """
    options = PipelineOptions(list(beam_args))
    standard = options.view_as(StandardOptions)
    if standard.runner is None or _is_direct(standard.runner):
        direct = options.view_as(DirectOptions)
        if not any(arg.startswith("--direct_running_mode") for arg in beam_args):
            direct.direct_running_mode = "multi_processing"
        if not any(arg.startswith("--direct_num_workers") for arg in beam_args):
            direct.direct_num_workers = os.cpu_count() or 1
        if not any(arg.startswith("--default_sdk_harness_log_level") for arg in beam_args):
            # worker processes otherwise log every channel they open at INFO level
            options.view_as(WorkerOptions).default_sdk_harness_log_level = "WARNING"
    return options


def _is_direct(runner: object) -> bool:
    name = runner if isinstance(runner, str) else type(runner).__name__
    return name.rsplit(".", 1)[-1] in {"DirectRunner", "BundleBasedDirectRunner", "FnApiRunner", "direct"}
