"""The entity vocabulary from link counts that travel through files, never through a shuffle.

Each unit of the article pass writes its link counts per entity title as a run (:class:`LinkCountRuns`, cut
into parts by title hash). The vocabulary pass (:class:`BuildEntityVocab`) then sums one part per work item over
every run (Arrow's group-by) and keeps that part's best K by (count desc, title) in a file; one work item merges
those sorted files, a batch at a time, and writes the K best of all as it merges them. Memory is one part's
titles, then a batch per part, whatever the size of the dump (English Wikipedia: ~15M distinct link targets)
or of K.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.atomic import atomic_create
from preprocessing.beam.metrics import counter
from preprocessing.beam.passes import PassRunner
from preprocessing.beam.progress import report_once
from preprocessing.beam.reports import WriteCounts, read_counts
from preprocessing.entities.title_table import title_hash
from preprocessing.entities.vocab import SPECIAL_ENTITIES, EntityVocab, rank_key
from preprocessing.part_runs import open_run, read_part, run_path, write_run

COUNT_SCHEMA = pa.schema([pa.field("title", pa.string(), nullable=False), pa.field("count", pa.int64())])
TOP_BATCH_ROWS = 8_192  # a part's best titles are merged a batch at a time: ~1 MB a part held
VOCAB_REPORT = "vocabulary_pass.json"
VOCAB_PARTS_DIR = "vocab_parts"
LINK_COUNTS_DIR = "link_counts"
TitleCount = tuple[str, int]  # an entity title and how many links lead to it


@dataclass(frozen=True)
class LinkCountRuns:
    """Where each unit's link counts per entity title go: a run per unit under ``directory``, in ``parts``."""

    directory: str
    parts: int

    @classmethod
    def in_build_dir(cls, build_dir: str, parts: int) -> LinkCountRuns:
        """The runs of a job whose scratch directory is ``build_dir``."""
        return cls(FileSystems.join(build_dir, LINK_COUNTS_DIR), parts)

    def write(self, unit_index: int, entities: Counter) -> None:
        titles = list(entities)
        rows = pa.table([pa.array(titles, pa.string()), pa.array(entities.values(), pa.int64())], schema=COUNT_SCHEMA)
        keys = np.array([title_hash(title)[0] for title in titles], dtype=np.uint64)
        write_run(run_path(self.directory, unit_index), rows, keys, self.parts)

    def paths(self, unit_indexes: Iterable[int]) -> list[str]:
        return [run_path(self.directory, index) for index in unit_indexes]


@dataclass(frozen=True)
class VocabularyTarget:
    """The vocabulary to write: its file (jsonl, or tsv for ``.tsv``), ``size`` entries at most (the special
    entries [PAD], [UNK], [MASK] included), titles linked at least ``min_count`` times, their ``language``."""

    output: str
    size: int
    min_count: int = 1
    language: str | None = None

    def __post_init__(self) -> None:
        if self.size < len(SPECIAL_ENTITIES):
            raise ValueError(f"the entity vocabulary size must be at least {len(SPECIAL_ENTITIES)}, got {self.size}")
        if self.min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {self.min_count}")


class BuildEntityVocab(beam.PTransform):
    """PCollection[int] (part indexes) → PCollection[dict]: the vocabulary of the link counts in ``runs`` written
    as ``target`` says; each part's best titles kept under ``scratch_dir`` on the way.

    The reports count, after the sum per title, ``entities.distinct``, ``entities.links_counted`` (the ledger
    compares it with the links kept) and ``entities.below_min_count``, and ``entities.in_vocab``.
    """

    def __init__(
        self, runs: list[str], scratch_dir: str, target: VocabularyTarget, progress_dir: str | None = None
    ) -> None:
        super().__init__()
        self._runs = runs
        self._scratch_dir = scratch_dir
        self._target = target
        self._progress_dir = progress_dir

    def expand(self, indexes: beam.PCollection[int]) -> beam.PCollection[dict]:
        target = self._target
        best = target.size - len(SPECIAL_ENTITIES)
        summed = indexes | "SumPart" >> beam.Map(
            _sum_part, self._runs, self._scratch_dir, target.min_count, best, self._progress_dir
        ).with_output_types(tuple[int, dict])
        written = (
            summed
            | "OneKey" >> beam.Map(_under_one_key).with_output_types(tuple[int, int])
            | "AllParts" >> beam.GroupByKey()
            | "WriteVocab"
            >> beam.Map(_write_vocab, self._scratch_dir, target.output, best, target.language).with_output_types(dict)
        )
        return (summed | "PartReports" >> beam.Values(), written) | "AllReports" >> beam.Flatten()


def _top_path(scratch_dir: str, index: int) -> str:
    return FileSystems.join(scratch_dir, f"best-{index:05d}.arrow")


def _sum_part(
    index: int, runs: list[str], scratch_dir: str, min_count: int, best: int, progress_dir: str | None
) -> tuple[int, dict]:
    """Sum part ``index`` of the runs per title; write its ``best`` titles of at least ``min_count`` links, ranked."""
    # one thread: the runner already runs a worker per core, and Arrow's threads each build a hash table (on 775K
    # rows, 666K titles: ~40 MB more and 1.6x the CPU with 2 threads)
    grouped = read_part(runs, index, COUNT_SCHEMA).group_by("title", use_threads=False).aggregate([("count", "sum")])
    totals = pa.table({"title": grouped["title"], "count": grouped["count_sum"]}).cast(COUNT_SCHEMA)
    kept = totals.filter(pc.greater_equal(totals["count"], min_count))
    ranked = kept.sort_by([("count", "descending"), ("title", "ascending")]).slice(0, best)
    with atomic_create(_top_path(scratch_dir, index)) as stream, pa.ipc.new_file(stream, COUNT_SCHEMA) as writer:
        writer.write_table(ranked, max_chunksize=TOP_BATCH_ROWS)
    report = {
        "entities.distinct": totals.num_rows,
        "entities.links_counted": pc.sum(totals["count"]).as_py() or 0,
        "entities.below_min_count": totals.num_rows - kept.num_rows,
    }
    report_once(progress_dir, {"parts": 1})
    return index, report


def _under_one_key(part: tuple[int, dict]) -> tuple[int, int]:
    return 0, part[0]


def _ranked(path: str) -> Iterator[TitleCount]:
    """A part's best titles, in rank order, a batch at a time."""
    with open_run(path) as run:
        for batch in range(run.num_record_batches):
            columns = run.get_batch(batch).to_pydict()
            yield from zip(columns["title"], columns["count"], strict=True)


def _write_vocab(grouped: tuple[int, Iterable[int]], scratch_dir: str, output: str, best: int, language: str | None):
    parts = sorted(grouped[1])
    ranked = heapq.merge(*(_ranked(_top_path(scratch_dir, index)) for index in parts), key=rank_key)
    in_vocab = EntityVocab.write_ranked(output, itertools.islice(ranked, best), language) - len(SPECIAL_ENTITIES)
    counter("entities.in_vocab").inc(in_vocab)
    return {"entities.in_vocab": in_vocab}


def vocabulary_pass(
    pipeline: beam.Pipeline,
    runs: LinkCountRuns,
    unit_indexes: Iterable[int],
    build_dir: str,
    target: VocabularyTarget,
    progress_dir: str | None = None,
) -> None:
    """Build the vocabulary pass into ``pipeline``: the vocabulary of the article pass's ``runs`` written as
    ``target`` says, the parts' best titles under ``build_dir/vocab_parts``, the counts in
    ``build_dir/vocabulary_pass.json``."""
    scratch_dir = FileSystems.join(build_dir, VOCAB_PARTS_DIR)
    _ = (
        pipeline
        | "Parts" >> beam.Create(range(runs.parts), reshuffle=True).with_output_types(int)
        | "BuildEntityVocab" >> BuildEntityVocab(runs.paths(unit_indexes), scratch_dir, target, progress_dir)
        | "WriteCounts" >> WriteCounts(FileSystems.join(build_dir, VOCAB_REPORT))
    )


def build_entity_vocab(
    passes: PassRunner,
    runs: LinkCountRuns,
    unit_indexes: list[int],
    build_dir: str,
    target: VocabularyTarget,
) -> dict[str, int]:
    """Run the vocabulary pass with ``passes``; return its counts (the runs and the parts' files removed)."""
    progress_dir = passes.progress_dir("vocabulary")
    passes.run(
        lambda pipeline: vocabulary_pass(pipeline, runs, unit_indexes, build_dir, target, progress_dir),
        "vocabulary",
        ("parts",),
    )
    FileSystems.delete([runs.directory, FileSystems.join(build_dir, VOCAB_PARTS_DIR)])
    return read_counts(FileSystems.join(build_dir, VOCAB_REPORT))
