"""``luke build-entity-vocab``'s job: the title and table passes, an article pass that counts links by entity title
(each unit's counts written as a run), then the vocabulary pass that writes the top-K vocabulary; its ledger
checked before the command reports success."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.metrics import record_counts
from preprocessing.beam.passes import PassRunner
from preprocessing.beam.progress import ProgressReporter
from preprocessing.beam.reports import WriteCounts, read_counts
from preprocessing.beam.setup_state import SetUpDoFn
from preprocessing.entities.articles import (
    ArticleSource,
    DumpArticles,
    ExtractionOptions,
    ReadingOptions,
    entity_link_counts,
)
from preprocessing.entities.title_job import build_title_table
from preprocessing.entities.vocab_building import LinkCountRuns, VocabularyTarget, build_entity_vocab
from preprocessing.ledger import (
    LedgerError,
    check_ledger,
    dump_article_balances,
    prefixed,
    title_balances,
    vocabulary_balances,
)
from preprocessing.sources.reading import ReadingPlan, SourceUnit

COUNT_REPORT = "article_pass.json"


@dataclass(frozen=True)
class EntityVocabJob:
    """The vocabulary of the dumps of ``plan`` written to ``output``; scratch files under ``build_dir``."""

    plan: ReadingPlan
    reading: ReadingOptions
    extraction: ExtractionOptions
    size: int
    min_count: int
    output: str
    build_dir: str

    def run(self, passes: PassRunner, xml_bytes: int) -> dict:
        """Run the passes; return the ledger, or raise ``failures.JobError`` (one line) if a pass fails or the
        counts do not balance."""
        from preprocessing.beam.failures import JobError

        units = self.plan.units
        table = build_title_table(units, self.reading, self.build_dir, xml_bytes, passes)
        source = DumpArticles(self.plan.site, table.directory, table.parts, self.extraction, self.reading)
        runs = LinkCountRuns.in_build_dir(self.build_dir, table.parts)
        passes.run(
            lambda pipeline: self._count_pass(pipeline, units, source, runs, passes), "article", ("pages", "articles")
        )
        vocabulary = build_entity_vocab(
            passes,
            runs,
            [unit.index for unit in units],
            self.build_dir,
            VocabularyTarget(self.output, self.size, self.min_count, self.plan.site.language),
        )
        counts = {
            **prefixed("titles", table.counts),
            **prefixed("articles", read_counts(self._report_path)),
            **prefixed("vocabulary", vocabulary),
        }
        balances = title_balances() + dump_article_balances() + vocabulary_balances()
        try:
            checked = check_ledger(balances, counts)
        except LedgerError as error:
            raise JobError(f"{error}; the vocabulary at {self.output} cannot be trusted") from error
        return {"balances": checked, "counts": dict(sorted(counts.items()))}

    @property
    def _report_path(self) -> str:
        return FileSystems.join(self.build_dir, COUNT_REPORT)

    def _count_pass(
        self,
        pipeline: beam.Pipeline,
        units: list[SourceUnit],
        source: DumpArticles,
        runs: LinkCountRuns,
        passes: PassRunner,
    ) -> None:
        _ = (
            pipeline
            | "Units" >> beam.Create(units, reshuffle=True).with_output_types(SourceUnit)
            | "CountUnitLinks" >> CountUnitLinks(source, runs, passes.progress_dir("article"))
            | "WriteCounts" >> WriteCounts(self._report_path)
        )


class CountUnitLinks(beam.PTransform):
    """PCollection[SourceUnit] → PCollection[dict] (each unit's counts): the vocabulary job's article pass, which
    parses and resolves the links of each unit's articles and writes their counts by entity title to ``runs``
    (no sentences, no tokens)."""

    def __init__(self, source: ArticleSource, runs: LinkCountRuns, progress_dir: str | None = None) -> None:
        super().__init__()
        self._fn = _CountUnitLinksFn(source, runs, progress_dir)

    def expand(self, units: beam.PCollection[SourceUnit]) -> beam.PCollection[dict]:
        return units | "CountUnitLinks" >> beam.ParDo(self._fn).with_output_types(dict)


class _CountUnitLinksFn(SetUpDoFn):
    STATE = ("_articles", "_progress")

    def __init__(self, source: ArticleSource, runs: LinkCountRuns, progress_dir: str | None) -> None:
        super().__init__()
        self._source = source
        self._runs = runs
        self._progress_dir = progress_dir

    def build_state(self) -> None:
        self._articles = self._source.open()
        self._progress = ProgressReporter(self._progress_dir) if self._progress_dir else None

    def process(self, unit: SourceUnit) -> Iterator[dict]:
        counts: Counter = Counter()
        entities: Counter = Counter()
        for article in self._articles.articles(unit, counts):
            entity_link_counts(article, entities)
        self._runs.write(unit.index, entities)
        if self._progress is not None:
            self._progress.add({"pages": counts["pages.read"], "articles": counts["articles.parsed"]})
        record_counts(counts)
        yield dict(counts)

    def finish_bundle(self) -> None:
        if self._progress is not None:
            self._progress.flush()
