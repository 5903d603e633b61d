"""Every PCollection of the jobs has a declared element type, every grouping key a deterministic coder from its
type, and the jobs pass Beam's runtime type check on the sample: a wrong or missing hint fails here, not in a
user's job on the next Beam release (2.78 began to read annotations that 2.77 ignored)."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam import typehints
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pipeline import PipelineVisitor
from apache_beam.typehints.decorators import TypeCheckError
from corpus_builders import IN_PROCESS, build_sample_corpus

from preprocessing.beam.coders import RecordCoder, record_types
from preprocessing.beam.options import create_pipeline
from preprocessing.corpus.build import (
    CorpusBuildConfig,
    article_pass,
    document_units,
    packing_pass,
    shard_tasks,
    train_tokenizer_pipeline,
)
from preprocessing.entities.articles import DumpArticles, ExtractionOptions, ReadingOptions
from preprocessing.entities.title_job import table_pass, title_pass
from preprocessing.entities.vocab import EntityVocab
from preprocessing.entities.vocab_building import LinkCountRuns, VocabularyTarget, vocabulary_pass
from preprocessing.entities.vocab_job import EntityVocabJob
from preprocessing.sources.documents import DocumentArticles
from preprocessing.sources.reading import plan_reading

# Beam 2.77 ignores string annotations (``from __future__ import annotations``), so there every hint but the
# explicit ones is Any: the jobs run as before (the same corpus, byte for byte), untyped.
pytestmark = pytest.mark.skipif(
    tuple(map(int, beam.__version__.split(".")[:2])) < (2, 78), reason="Beam < 2.78 reads no string annotations"
)
OUR_MODULES = ("preprocessing.",)
UNTYPED = (typehints.Any, object)


def _is_ours(transform: beam.PTransform | None, modules: tuple[str, ...]) -> bool:
    return transform is not None and type(transform).__module__.startswith(modules)


def type_problems(pipeline: beam.Pipeline, modules: tuple[str, ...] = OUR_MODULES) -> list[str]:
    """What is untyped in ``pipeline``: each PCollection that our code makes (outputs of our composite transforms
    and of the transforms applied directly, at the top or inside them) whose element type is Any or object, or
    whose key is; each record-typed PCollection not coded by :class:`RecordCoder`; each ``GroupByKey`` anywhere
    (Beam's inside ours too) whose key coder is not deterministic by its type."""
    problems = []
    records = set(record_types())

    def check_named(node) -> None:
        parent = node.parent.transform if node.parent is not None else None
        if not (_is_ours(node.transform, modules) or parent is None or _is_ours(parent, modules)):
            return
        for output in node.outputs.values():
            if not isinstance(output, beam.PCollection):
                continue
            element = output.element_type
            if element in UNTYPED or isinstance(element, typehints.TypeVariable):
                problems.append(f"{node.full_label}: element type {element}")
            elif isinstance(element, typehints.typehints.TupleConstraint) and element.tuple_types[0] in UNTYPED:
                problems.append(f"{node.full_label}: key type {element.tuple_types[0]}")
            elif element in records and not isinstance(beam.coders.registry.get_coder(element), RecordCoder):
                problems.append(
                    f"{node.full_label}: {element.__name__} coded by {beam.coders.registry.get_coder(element)}"
                )

    def check_grouping(node) -> None:
        if not isinstance(node.transform, beam.GroupByKey):
            return
        (grouped,) = node.inputs
        key = typehints.trivial_inference.key_value_types(grouped.element_type)[0]
        coder = beam.coders.registry.get_coder(key)
        if key in (None, type(None)):  # CombineGlobally's single key, inside Beam
            return
        if key in UNTYPED or not coder.is_deterministic() or isinstance(coder, beam.coders.FastPrimitivesCoder):
            problems.append(f"{node.full_label}: grouping key {key} coded by {coder}")

    class Visitor(PipelineVisitor):
        def enter_composite_transform(self, node) -> None:
            check_named(node)

        def visit_transform(self, node) -> None:
            check_named(node)
            check_grouping(node)

    pipeline.visit(Visitor())
    return problems


def _pipeline() -> beam.Pipeline:
    return create_pipeline(PipelineOptions(list(IN_PROCESS)))


def _documents(tmp_path: Path) -> str:
    path = tmp_path / "documents.jsonl"
    document = {
        "id": "d1",
        "text": "Aspirin inhibits COX-1.",
        "entities": [{"start": 0, "end": 7, "entity": "Aspirin"}],
    }
    path.write_text(json.dumps(document) + "\n", encoding="utf-8")
    return str(path)


def test_the_entity_vocabulary_job_is_typed_everywhere(
    enwiki_dump: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plan = plan_reading([str(enwiki_dump)])
    reading, extraction = ReadingOptions(), ExtractionOptions(keep_missing_targets=True)
    pipelines = [_pipeline() for _ in range(4)]
    titles, table, counting, vocabulary = pipelines
    title_pass(titles, plan.units, reading, str(tmp_path), parts=2)
    table_pass(table, plan.units, str(tmp_path), parts=2, max_page_id=None)
    job = EntityVocabJob(plan, reading, extraction, 100, 1, str(tmp_path / "vocab.jsonl"), str(tmp_path))
    source = DumpArticles(plan.site, str(tmp_path), 2, extraction, reading)
    runs = LinkCountRuns(str(tmp_path / "runs"), 2)
    job._count_pass(counting, plan.units, source, runs, _Passes())
    vocabulary_pass(vocabulary, runs, [0], str(tmp_path), VocabularyTarget(str(tmp_path / "vocab.jsonl"), 100))
    for pipeline in pipelines:
        assert type_problems(pipeline) == []
    assert not [record.message for record in caplog.records if "type hint" in record.message]


class _Passes:
    def progress_dir(self, name: str) -> str:
        return name


@pytest.mark.parametrize("source", ["dump", "documents"])
@pytest.mark.parametrize("vocabulary", ["built", "given"])
def test_the_corpus_jobs_are_typed_everywhere(
    enwiki_dump: Path, tmp_path: Path, source: str, vocabulary: str, caplog: pytest.LogCaptureFixture
) -> None:
    dumps, documents = ((str(enwiki_dump),), ()) if source == "dump" else ((), (_documents(tmp_path),))
    config = CorpusBuildConfig(
        dumps,
        str(tmp_path / "corpus"),
        documents=documents,
        entity_vocab="given.jsonl" if vocabulary == "given" else None,
        max_pages=10 if dumps else None,
        abstract_only=bool(dumps),
        validation_fraction=0.1,
        train_tokenizer=True,
    )
    plan = plan_reading(list(dumps)) if dumps else None
    site = plan.site if plan is not None else None
    pipelines = [_pipeline() for _ in range(6)]
    titles, table, training, articles, vocabulary, packing = pipelines
    if plan is not None:
        title_pass(titles, plan.units, config.reading, str(tmp_path), parts=2)
        table_pass(table, plan.units, str(tmp_path), parts=2, max_page_id=100)
        units, source = plan.units, DumpArticles(site, str(tmp_path), 2, config.extraction, config.reading, 100)
    else:
        units, source = document_units(config), DocumentArticles()
    train_tokenizer_pipeline(training, config, site, plan, max_page_id=100)
    if vocabulary == "given":  # the packing pass reads it from the corpus directory
        (tmp_path / "corpus").mkdir()
        EntityVocab.from_counts([("Aspirin", 1)], size=4).save(str(tmp_path / "corpus" / "entity_vocab.jsonl"))
    runs = LinkCountRuns(str(tmp_path / "runs"), 2) if vocabulary == "built" else None
    article_pass(articles, config, units, source, "en", tokenizer_file="tokenizer.json", link_counts=runs)
    if runs is not None:
        vocabulary_pass(vocabulary, runs, [0], str(tmp_path), VocabularyTarget(str(tmp_path / "vocab.jsonl"), 100))
    packing_pass(packing, config, shard_tasks(config.plan, len(units), None), tokenizer_file="tokenizer.json")
    for pipeline in pipelines:
        assert type_problems(pipeline) == []
    assert not [record.message for record in caplog.records if "type hint" in record.message]


class _UntypedStep(beam.PTransform):
    def expand(self, pcollection: beam.PCollection) -> beam.PCollection:
        return (
            pcollection
            | "Untyped" >> beam.Map(lambda value: value).with_output_types(Any)
            | "KeyedByAnything" >> beam.Map(lambda value: (value, 1)).with_output_types(tuple[Any, int])
            | "Group" >> beam.GroupByKey()
        )


def test_the_check_finds_an_untyped_step_and_an_untyped_key() -> None:
    pipeline = _pipeline()
    _ = pipeline | beam.Create(["a"]) | "Step" >> _UntypedStep()
    problems = type_problems(pipeline, modules=(__name__,))
    assert any(problem.startswith("Step/Untyped: element type Any") for problem in problems), problems
    assert any(problem.startswith("Step/KeyedByAnything: key type Any") for problem in problems), problems
    assert any(problem.startswith("Step/Group: grouping key Any") for problem in problems), problems


def _wrong_hint(value: str) -> int:
    return value  # type: ignore[return-value]


def test_the_runtime_type_check_catches_a_wrong_hint_on_the_jobs_runner() -> None:
    pipeline = create_pipeline(PipelineOptions([*IN_PROCESS, "--runtime_type_check"]))
    _ = pipeline | beam.Create(["a"]) | "WrongHint" >> beam.Map(_wrong_hint)
    with pytest.raises(TypeCheckError, match="WrongHint"):
        pipeline.run().wait_until_finish()


@pytest.mark.slow
def test_both_jobs_pass_the_runtime_type_check_on_the_sample(
    enwiki_dump: Path, bpe_tokenizer_dir: Path, tmp_path: Path
) -> None:
    checked = [*IN_PROCESS, "--runtime_type_check"]
    trained = build_sample_corpus(
        enwiki_dump,
        tmp_path / "trained",
        checked,
        train_tokenizer=True,
        tokenizer_vocab_size=1000,
        tokenizer_sample_pages=20,
        max_pages=20,
        validation_fraction=0.1,
        num_shards=2,
    )
    metadata = json.loads((trained / "metadata.json").read_text())
    assert metadata["splits"]["validation"]["sequences"] > 0
    assert metadata["versions"]["apache-beam"] == version("apache-beam")  # recorded with the corpus
    given = build_sample_corpus(
        enwiki_dump,
        tmp_path / "given",
        checked,
        tokenizer=str(bpe_tokenizer_dir),
        entity_vocab=str(trained / "entity_vocab.jsonl"),
        max_pages=20,
        validation_fraction=0.1,
        num_shards=2,
    )
    assert json.loads((given / "metadata.json").read_text())["splits"]["train"]["sequences"] > 0
