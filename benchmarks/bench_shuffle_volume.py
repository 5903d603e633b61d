"""How much each shuffle of the two Beam jobs moves, per MB of XML: the input of every GroupByKey, measured.

Runs ``luke build-entity-vocab`` and ``luke build-corpus`` in this process on the in-memory DirectRunner, whose
runner reports, for every PCollection, its element count and the mean encoded size of sampled elements. For each
``GroupByKey`` of each job (``CoGroupByKey`` and ``CombinePerKey`` expand into one) it prints the bytes of its
input: element count × mean sampled size, before combiner lifting (so an upper bound of what a runner that
pre-combines on each worker shuffles). Per MB of XML, these are what docs/ARCHITECTURE.md ("Scale") scales to
full Wikipedia.

    python benchmarks/bench_shuffle_volume.py DUMP --tokenizer DIR [--top 12]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from unittest import mock

import apache_beam as beam
from apache_beam.metrics import monitoring_infos
from bench_scale import xml_megabytes  # this folder is sys.path[0] when run as a script
from click.testing import CliRunner

from luke.cli import main as luke

IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
GROUP_BY_KEY = "beam:transform:group_by_key:v1"
COMBINE_PER_KEY = "beam:transform:combine_per_key:v1"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dump", type=Path, help="a dump (e.g. benchmarks/synthetic_dump.py's)")
    parser.add_argument("--tokenizer", type=Path, required=True, help="tokenizer directory for build-corpus")
    parser.add_argument("--top", type=int, default=12, help="shuffles to print per job (default 12)")
    return parser.parse_args()


def run_capturing(argv: list[str]) -> list[tuple[beam.Pipeline, object]]:
    """Run one ``luke`` command in this process; every pipeline it ran, with its result."""
    runs = []
    original = beam.Pipeline.run

    def run(pipeline, *args, **kwargs):
        result = original(pipeline, *args, **kwargs)
        runs.append((pipeline, result))
        return result

    with mock.patch.object(beam.Pipeline, "run", run):
        outcome = CliRunner().invoke(luke, [*argv, *IN_MEMORY], catch_exceptions=False)
    if outcome.exit_code != 0:
        raise SystemExit(f"luke {argv[0]} failed:\n{outcome.output[-3000:]}")
    return runs


def shuffle_inputs(pipeline: beam.Pipeline, result) -> list[tuple[float, int, str]]:
    """(bytes, elements, grouping transform) for the input of each GroupByKey, largest first; the name of one
    inside a CombinePerKey ends with " (combined)": runners combine on each worker before shuffling it."""
    proto = pipeline.to_runner_api()
    transforms = proto.components.transforms
    combined = {
        part
        for transform in transforms.values()
        if transform.spec.urn == COMBINE_PER_KEY
        for part in transform.subtransforms
    }
    counts: dict[str, int] = {}
    mean_sizes: dict[str, float] = {}
    for info in result.monitoring_infos():
        pcollection = info.labels.get(monitoring_infos.PCOLLECTION_LABEL)
        if info.urn == monitoring_infos.ELEMENT_COUNT_URN:
            counts[pcollection] = max(counts.get(pcollection, 0), monitoring_infos.extract_counter_value(info))
        elif info.urn == monitoring_infos.SAMPLED_BYTE_SIZE_URN:
            sampled, total, _, _ = monitoring_infos.extract_distribution(info)
            if sampled:
                mean_sizes[pcollection] = total / sampled
    rows = []
    for transform_id, transform in transforms.items():
        if transform.spec.urn != GROUP_BY_KEY:
            continue
        (source,) = transform.inputs.values()
        if source in counts and source in mean_sizes:
            name = transform.unique_name.removesuffix("/GroupByKey").removesuffix("/CoGroupByKeyImpl")
            name += " (combined)" if transform_id in combined else ""
            rows.append((counts[source] * mean_sizes[source], counts[source], name))
    return sorted(rows, reverse=True)


def main() -> None:
    args = parse_args()
    megabytes = xml_megabytes(args.dump)
    with tempfile.TemporaryDirectory() as scratch:
        jobs = {
            "build-entity-vocab": ["build-entity-vocab", str(args.dump), "--output", f"{scratch}/vocab.jsonl"],
            "build-corpus": [
                *("build-corpus", str(args.dump), "--output", f"{scratch}/corpus"),
                *("--tokenizer", str(args.tokenizer)),
            ],
        }
        print(f"{args.dump.name}: {megabytes:.1f} MB of XML; bytes into each GroupByKey (before combiner lifting)")
        for job, argv in jobs.items():
            for pipeline, result in run_capturing(argv):
                rows = shuffle_inputs(pipeline, result)
                total = sum(row[0] for row in rows)
                print(f"\n{job}: {total / 1e6:.2f} MB in all, {total / 1e6 / megabytes:.3f} MB per MB of XML")
                for size, elements, name in rows[: args.top]:
                    print(f"{size / 1e6:10.2f} MB {size / 1e6 / megabytes:7.3f}/MB {elements:10,d} elements  {name}")


if __name__ == "__main__":
    main()
