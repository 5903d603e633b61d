"""Pipeline options pass-through, the counter summary, and reading multistream ranges."""

from __future__ import annotations

import bz2
import os

import pytest
from apache_beam.options.pipeline_options import DirectOptions, StandardOptions, WorkerOptions

from preprocessing.beam.atomic import atomic_create, write_bytes
from preprocessing.beam.failures import describe_failure
from preprocessing.beam.metrics import JobSummary
from preprocessing.beam.options import (
    DASK_PARTITIONS,
    DASK_PARTITIONS_PER_THREAD,
    create_pipeline,
    pipeline_options_from_args,
)
from preprocessing.commands.options import split_beam_args
from preprocessing.sources.files import DamagedDumpError
from preprocessing.sources.multistream import StreamRange, iter_range_blocks, stream_ranges


def test_default_is_the_multiprocessing_direct_runner_on_every_core():
    options = pipeline_options_from_args([])
    direct = options.view_as(DirectOptions)
    assert direct.direct_running_mode == "multi_processing"
    assert direct.direct_num_workers == (os.cpu_count() or 1)
    assert options.view_as(WorkerOptions).default_sdk_harness_log_level == "WARNING"


def test_beam_options_pass_through_unchanged():
    options = pipeline_options_from_args(["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    assert options.view_as(DirectOptions).direct_running_mode == "in_memory"
    assert options.view_as(DirectOptions).direct_num_workers == 1
    dataflow = pipeline_options_from_args(["--runner=DataflowRunner", "--project=p", "--region=r"])
    assert dataflow.view_as(StandardOptions).runner == "DataflowRunner"
    assert dataflow.get_all_options()["project"] == "p"
    assert dataflow.view_as(DirectOptions).direct_running_mode != "multi_processing"  # not touched


DASK = "--runner=apache_beam.runners.dask.dask_runner.DaskRunner"


def dask_bag_options(*args: str) -> dict:
    """The partitioning the DaskRunner gets from ``pipeline_options_from_args``."""
    from apache_beam.runners.dask.dask_runner import DaskOptions

    options = pipeline_options_from_args([DASK, *args]).view_as(DaskOptions)
    return DaskOptions._extract_bag_kwargs(options.get_all_options(drop_default=True, current_only=True))


def test_the_dask_runner_gets_partitions_a_worker_thread_unless_told():
    # without a scheduler the DaskRunner starts a local cluster of a thread a core
    cores = os.cpu_count() or 1
    assert dask_bag_options() == {"npartitions": max(DASK_PARTITIONS, DASK_PARTITIONS_PER_THREAD * cores)}
    assert dask_bag_options("--dask_partition_size=1") == {"partition_size": 1}
    assert dask_bag_options("--dask_npartitions=8") == {"npartitions": 8}
    assert "dask_partition_size" not in pipeline_options_from_args(["--runner=FlinkRunner"]).get_all_options()


@pytest.mark.parametrize(("workers", "threads", "partitions"), [(3, 4, 48), (1, 1, DASK_PARTITIONS)])
def test_the_dask_partitions_follow_the_threads_of_the_cluster_the_scheduler_has(workers, threads, partitions):
    """4 a worker thread (3 × 4 threads: 48), and never fewer than the fixed least count."""
    from distributed import LocalCluster

    with LocalCluster(
        host="127.0.0.1",
        protocol="tcp",
        processes=False,
        n_workers=workers,
        threads_per_worker=threads,
        dashboard_address=None,
    ) as cluster:
        address = f"--dask_client_address={cluster.scheduler_address}"
        assert dask_bag_options(address) == {"npartitions": partitions}
        assert dask_bag_options(address, "--dask_npartitions=5") == {"npartitions": 5}


def test_a_dask_scheduler_that_does_not_answer_is_named():
    address = "tcp://127.0.0.1:9"  # discard: nothing listens
    with pytest.raises(ValueError, match=f"^no Dask scheduler answers at {address}: "):
        pipeline_options_from_args([DASK, f"--dask_client_address={address}", "--dask_connection_timeout=2"])


@pytest.mark.parametrize("runner", [None, "DirectRunner", "direct", "SwitchingDirectRunner", "FnApiRunner"])
def test_the_direct_runner_is_the_fn_api_runner_without_trying_prism_first(runner):
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    pipeline = create_pipeline(pipeline_options_from_args([f"--runner={runner}"] if runner else []))
    assert type(pipeline.runner) is FnApiRunner
    # as the DirectRunner does, the worker processes get the options (their log level among them)
    worker_options = pipeline.runner._provision_info.provision_info.pipeline_options
    assert worker_options["beam:option:default_sdk_harness_log_level:v1"] == "WARNING"


@pytest.mark.parametrize("runner", ["PrismRunner", "BundleBasedDirectRunner"])
def test_other_local_runners_are_left_to_beam(runner):
    assert type(create_pipeline(pipeline_options_from_args([f"--runner={runner}"])).runner).__name__ == runner


def test_cli_arguments_split_into_dumps_and_beam_options():
    assert split_beam_args(["a.xml.bz2", "--runner=FlinkRunner", "b.xml"]) == (
        ["--runner=FlinkRunner"],
        ["a.xml.bz2", "b.xml"],
    )


def test_summary_table_lists_counters_and_failed_page_ids():
    summary = JobSummary(
        {"pages.read": 1200, "pages_failed.malformed_xml": 2}, {"pages_failed.malformed_xml": ["7", "9"]}
    )
    table = summary.format_table()
    assert "pages.read" in table and "1,200" in table and "page ids: 7, 9" in table
    assert summary.total("pages_failed") == 2
    assert "does not report" in JobSummary(metrics_supported=False).format_table()


def test_summary_table_lists_damaged_files_first():
    summary = JobSummary(
        {"pages.read": 99, "files_damaged.truncated_file": 1},
        {"files_damaged.truncated_file": ["/d/cut.xml.bz2@847935"]},
    )
    assert summary.format_table().splitlines()[:2] == [
        "DAMAGED DUMP FILES, read only up to the damage (--allow-damaged-dumps):",
        "  truncated_file: /d/cut.xml.bz2@847935",
    ]


def test_an_atomic_file_appears_whole_or_not_at_all(tmp_path):
    path = tmp_path / "shard.arrow"
    with pytest.raises(OSError, match="No space left"), atomic_create(str(path)) as stream:
        stream.write(b"half a shard")
        raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []
    write_bytes(str(path), b"old")
    write_bytes(str(path), b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["shard.arrow"] and path.read_bytes() == b"new"


DAMAGE = "damaged dump file /d/x.bz2: compressed data ends early; reading stopped at compressed byte 9 of 9"
WORKER_TRACEBACK = (
    'Traceback (most recent call last):\n  File "apache_beam/runners/common.py", line 1512, in process\n'
    "preprocessing.sources.files.DamagedDumpError: {} [while running 'ReadDumpPages/ReadWholeFiles']\n"
)


@pytest.mark.parametrize(
    ("error", "kind", "message", "step"),
    [  # as the in-memory DirectRunner, the multi-processing DirectRunner and the DaskRunner raise them
        (
            DamagedDumpError(DAMAGE + " [while running 'Read']", "truncated_file", "/d/x.bz2@9"),
            "DamagedDumpError",
            DAMAGE,
            "Read",
        ),
        (RuntimeError(WORKER_TRACEBACK.format(DAMAGE)), "DamagedDumpError", DAMAGE, "ReadDumpPages/ReadWholeFiles"),
        (DamagedDumpError(DAMAGE, "truncated_file", "/d/x.bz2@9"), "DamagedDumpError", DAMAGE, None),
        (
            RuntimeError("OSError: [Errno 28] No space left on device: '/c/x' [while running 'Write']"),
            "OSError",
            "[Errno 28] No space left on device: '/c/x'",
            "Write",
        ),
        (ValueError("bad value"), "ValueError", "bad value", None),
    ],
)
def test_a_runner_failure_is_read_back_to_the_worker_exception(error, kind, message, step):
    failure = describe_failure(error)
    assert (failure.kind, failure.message, failure.step) == (kind, message, step)
    assert failure.damaged_dump == (kind == "DamagedDumpError")


def test_stream_ranges_cover_whole_streams(tmp_path):
    streams = [bz2.compress(f"<page>{i}</page>".encode()) for i in range(5)]
    path = tmp_path / "x-multistream.xml.bz2"
    path.write_bytes(b"".join(streams))
    offsets = [sum(len(s) for s in streams[:i]) for i in range(5)]
    ranges = stream_ranges(str(path), offsets, path.stat().st_size, streams_per_range=2)
    assert [(r.start, r.end) for r in ranges] == [
        (offsets[0], offsets[2]),
        (offsets[2], offsets[4]),
        (offsets[4], path.stat().st_size),
    ]
    assert b"".join(b"".join(iter_range_blocks(r)) for r in ranges) == b"".join(
        f"<page>{i}</page>".encode() for i in range(5)
    )
    cut = StreamRange(str(path), offsets[1], offsets[2] - 3)  # ends inside a stream: an index that lies
    with pytest.raises(DamagedDumpError, match=f"ends early; reading stopped at the bz2 stream at byte {offsets[1]}"):
        list(iter_range_blocks(cut))
