"""Beam pipeline options from the command line's pass-through arguments, and the pipeline they make."""

from __future__ import annotations

import os
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions, WorkerOptions
from apache_beam.runners.runner import PipelineRunner

# --runner values, as _runner_name gives them: those create_pipeline runs as the FnApiRunner, and those that get
# pipeline_options_from_args' local defaults (one process per core)
_SWITCHING_DIRECT = frozenset({"direct", "switchingdirect", "fnapi"})
_DIRECT = _SWITCHING_DIRECT | {"bundlebaseddirect"}
# partitions of each pass's work items (stream ranges, parts, shards) on Beam's DaskRunner unless told: so many a
# worker thread of the cluster, and at least DASK_PARTITIONS. Its default (128 items a partition) ran most passes of
# a few-GB dump as one or two partitions on one worker; and a worker keeps each partition's task until the pass
# ends, so a count that does not grow with the dump bounds its memory
DASK_PARTITIONS = 16
DASK_PARTITIONS_PER_THREAD = 4


def pipeline_options_from_args(beam_args: Sequence[str]) -> PipelineOptions:
    """Turn the CLI's extra arguments (``--runner=...``, ``--project=...``, ...) into ``PipelineOptions``.

    Without ``--runner`` the job runs on the DirectRunner in multi-processing mode with one worker per
    core (``--direct_num_workers`` and ``--direct_running_mode`` still override that). On the DaskRunner each
    pass's work items go in :data:`DASK_PARTITIONS_PER_THREAD` partitions a worker thread of the cluster (at
    least :data:`DASK_PARTITIONS`) unless ``--dask_npartitions`` or ``--dask_partition_size`` is given. Every
    other Beam option passes through unchanged, so the same command runs on Dataflow, Flink, Spark or Dask.

    Raises ``ValueError`` naming the DaskRunner's scheduler when it cannot be reached.
    """
    options = PipelineOptions(list(beam_args))
    partitioned = any(arg.startswith(("--dask_partition_size", "--dask_npartitions")) for arg in beam_args)
    if _runs_on_dask(options) and not partitioned:
        partitions = max(DASK_PARTITIONS, DASK_PARTITIONS_PER_THREAD * dask_cluster_threads(options))
        options = PipelineOptions([*beam_args, f"--dask_npartitions={partitions}"])
    if _runs_on_direct(options):
        direct = options.view_as(DirectOptions)
        if not any(arg.startswith("--direct_running_mode") for arg in beam_args):
            direct.direct_running_mode = "multi_processing"
        if not any(arg.startswith("--direct_num_workers") for arg in beam_args):
            direct.direct_num_workers = os.cpu_count() or 1
        if not any(arg.startswith("--default_sdk_harness_log_level") for arg in beam_args):
            # worker processes otherwise log every channel they open at INFO level
            options.view_as(WorkerOptions).default_sdk_harness_log_level = "WARNING"
    return options


def dask_cluster_threads(options: PipelineOptions) -> int:
    """The worker threads of the Dask cluster the DaskRunner of ``options`` runs on, as its scheduler
    (``--dask_client_address`` or ``--dask_scheduler_file``) counts them now; without either, the runner starts a
    local cluster of a thread a core. Raises ``ValueError`` naming the scheduler when none answers in
    ``--dask_connection_timeout`` seconds (Dask's connect timeout unless given); waits, as Dask's client does, for
    a scheduler file that does not exist yet."""
    from apache_beam.runners.dask.dask_runner import DaskOptions

    try:
        import distributed
    except ImportError as error:
        raise ValueError('the DaskRunner needs dask.distributed: pip install -e ".[dask]"') from error
    dask = options.view_as(DaskOptions)
    if dask.address is None and dask.scheduler_file is None:
        return os.cpu_count() or 1
    timeout = {"timeout": dask.timeout} if dask.timeout is not None else {}
    try:
        with distributed.Client(dask.address, scheduler_file=dask.scheduler_file, **timeout) as client:
            return sum(client.nthreads().values())
    except (OSError, TimeoutError) as error:
        raise ValueError(f"no Dask scheduler answers at {dask.address or dask.scheduler_file}: {error}") from error


def create_pipeline(options: PipelineOptions) -> beam.Pipeline:
    """A pipeline on the runner ``options`` name, the DirectRunner (the default) being Beam's FnApiRunner.

    Beam's DirectRunner first tries Prism, a Go runner it downloads from GitHub at run time, and falls back to
    the FnApiRunner when that fails, as it always does offline (leaving an empty ``beam-temp*`` directory behind).
    Running the FnApiRunner directly keeps the runner the one tested and measured here wherever the job runs,
    and fetches nothing; ``--runner=PrismRunner`` still picks Prism. The records' coders are registered first
    (``preprocessing.beam.coders``), so that the pipeline encodes them as we chose.
    """
    from preprocessing.beam.coders import register_record_coders

    register_record_coders()
    runner = options.view_as(StandardOptions).runner
    if runner is None or _runner_name(runner) in _SWITCHING_DIRECT:
        return beam.Pipeline(runner=_fn_api_runner(options), options=options)
    return beam.Pipeline(options=options)


def _fn_api_runner(options: PipelineOptions) -> PipelineRunner:
    """The FnApiRunner as the DirectRunner makes it: its worker processes get the pipeline's options."""
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    provision = beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(provision))


def _runner_name(runner: object) -> str:
    """``--runner``'s value as Beam matches it: the class name, any case, "Runner" optional."""
    name = runner if isinstance(runner, str) else type(runner).__name__
    return name.rsplit(".", 1)[-1].lower().removesuffix("runner")


def _runs_on_direct(options: PipelineOptions) -> bool:
    """Whether ``options`` run on a DirectRunner (no ``--runner`` means the DirectRunner)."""
    runner = options.view_as(StandardOptions).runner
    return runner is None or _runner_name(runner) in _DIRECT


def _runs_on_dask(options: PipelineOptions) -> bool:
    runner = options.view_as(StandardOptions).runner
    return runner is not None and _runner_name(runner) == "dask"
