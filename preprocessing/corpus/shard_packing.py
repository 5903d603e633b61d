"""The packing pass: each shard reads the article files of its run of units and packs them into rows, with the
entity vocabulary's ids, written where they are made (no sequence crosses a shuffle).

``PackShards``: one work item per shard (``ShardTask``, planned on the driver from ``SplitPlan.shard_units``).
Articles are packed (``packing``) in the order of the input, the page moved to validation (if any) is skipped in
its train shard and packed after its unit's validation articles, and the rows are written a record batch at a time
(``shard_writing``). The vocabulary (title → id) is read from the corpus directory once per worker process, as
sorted title hashes (``entity_ids``); a sentence that loses some of its mentions here is cut again at the others
with the corpus tokenizer (``packing``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.metrics import record_counts
from preprocessing.beam.progress import ProgressReporter
from preprocessing.beam.setup_state import SetUpDoFn
from preprocessing.corpus.article_files import TokenizedArticle, read_article_file
from preprocessing.corpus.directory import shard_path
from preprocessing.corpus.entity_ids import EntityIds
from preprocessing.corpus.packing import PackedSequence, PackingOptions, pack_sentences
from preprocessing.corpus.shard_writing import rows_in_shard, write_shard
from preprocessing.corpus.splits import TRAIN
from preprocessing.corpus.tokenizing import load_mention_tokenizer
from preprocessing.entities.vocab import SPECIAL_ENTITIES

FIRST_ENTITY_ID = len(SPECIAL_ENTITIES)  # after [PAD], [UNK], [MASK]


@dataclass(frozen=True)
class ShardTask:
    """Shard ``index`` of ``count`` of ``split``: the article files of ``units`` it packs, the page it skips
    (moved to validation) and the ``(unit, page id)`` of the train page it packs as well (moved here)."""

    split: str
    index: int
    count: int
    units: tuple[int, ...]
    skip_page: int | None = None
    moved_in: tuple[int, int] | None = None

    @property
    def path(self) -> str:
        return shard_path(self.split, self.index, self.count)


class PackShards(beam.PTransform):
    """PCollection[ShardTask] → PCollection[dict]: each shard written under ``output_dir``; per shard, its
    statistics as ``split.<split>.<name>`` (sequences, word_tokens, mentions, unk_mentions, pages, shards,
    rows_written: read back from the file) and what packing kept and dropped (``packing``'s counts,
    ``articles.packed``, ``sentences.in``, ``mentions.in``)."""

    def __init__(
        self,
        output_dir: str,
        build_dir: str,
        vocab_path: str,
        options: PackingOptions,
        tokenizer_file: str,
        progress_dir: str | None = None,
    ):
        super().__init__()
        self._fn = _PackShardFn(output_dir, build_dir, vocab_path, options, tokenizer_file, progress_dir)

    def expand(self, tasks: beam.PCollection[ShardTask]) -> beam.PCollection[dict]:
        return tasks | "PackShard" >> beam.ParDo(self._fn)


class _PackShardFn(SetUpDoFn):
    STATE = ("_ids", "_tokenizer", "_progress")

    def __init__(
        self,
        output_dir: str,
        build_dir: str,
        vocab_path: str,
        options: PackingOptions,
        tokenizer_file: str,
        progress_dir: str | None,
    ) -> None:
        super().__init__()
        self._output_dir = output_dir
        self._build_dir = build_dir
        self._vocab_path = vocab_path
        self._options = options
        self._tokenizer_file = tokenizer_file
        self._progress_dir = progress_dir

    def build_state(self) -> None:
        self._ids = EntityIds(self._vocab_path, FIRST_ENTITY_ID)
        self._tokenizer = load_mention_tokenizer(self._tokenizer_file)
        self._progress = ProgressReporter(self._progress_dir) if self._progress_dir else None

    def process(self, task: ShardTask) -> Iterator[dict]:
        counts: Counter = Counter()
        path = FileSystems.join(self._output_dir, task.path)
        pages: set[int] = set()
        stats = write_shard(path, self._rows(task, counts, pages))
        record_counts(counts)
        stats.update(shards=1, pages=len(pages), rows_written=rows_in_shard(path))
        yield {**counts, **{f"split.{task.split}.{name}": value for name, value in stats.items()}}

    def _articles(self, task: ShardTask) -> Iterator[TokenizedArticle]:
        for unit in task.units:
            for article in read_article_file(self._build_dir, task.split, unit):
                if article.page_id != task.skip_page:
                    yield article
            if task.moved_in is not None and task.moved_in[0] == unit:
                train = read_article_file(self._build_dir, TRAIN, unit)
                yield from (article for article in train if article.page_id == task.moved_in[1])

    def _rows(self, task: ShardTask, counts: Counter, pages: set[int]) -> Iterator[PackedSequence]:
        for article in self._articles(task):
            counts["articles.packed"] += 1
            counts["sentences.in"] += article.num_sentences
            counts["mentions.in"] += article.num_mentions
            rows = list(
                pack_sentences(
                    article.page_id, article.sentences, self._options, self._ids.get, counts, self._tokenizer.cut_at
                )
            )
            counts["sequences"] += len(rows)
            if rows:
                pages.add(article.page_id)
            else:
                counts["articles_without_sequences"] += 1
            yield from rows
            if self._progress is not None:
                self._progress.add({"articles": 1, "sequences": len(rows)})

    def finish_bundle(self) -> None:
        if self._progress is not None:
            self._progress.flush()
