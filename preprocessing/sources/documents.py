"""``ReadDocuments``: JSON Lines files of your own annotated documents → ``Article`` records, read in parallel.

One document per line (the file may be ``.gz`` or ``.bz2`` compressed, on any Beam filesystem)::

    {"id": "pmid-1", "text": "Aspirin inhibits COX-1.", "entities": [{"start": 0, "end": 7, "entity": "Aspirin"}]}

``start``/``end`` are character offsets into ``text`` (end exclusive); ``entity`` is the entity's title as the
vocabulary will hold it (taken as given: no redirects, no normalisation beyond trimming blanks). ``title`` is
optional; other fields (e.g. ``language``: the job's ``--language`` applies to every document) are ignored.
A document becomes one ``Article`` whose page id is a 63-bit hash of its ``id`` (the corpus's ``page_id``
column), so its split and shard are a function of its id, as a page's are of its page id; its text is one
paragraph, split into sentences like a Wikipedia paragraph.

A bad line fails alone: it is counted as ``documents_failed.<reason>`` with its ``file:line`` among the
samples. A file without one valid document fails the job, naming the file.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import pairwise

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from preprocessing.beam.metrics import FailureRecorder, record_counts
from preprocessing.beam.setup_state import SetUpDoFn
from preprocessing.records import Article, Link, Paragraph


class DocumentFileError(ValueError):
    """A documents pattern that matches no file, or a file without one valid document."""


class BadDocument(ValueError):
    """A line that is no valid document; ``reason`` names the counter."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def document_page_id(document_id: str) -> int:
    """The corpus page id of a document: the first 63 bits of the blake2b hash of its id."""
    digest = hashlib.blake2b(document_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _decoded(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadDocument("invalid_encoding", str(error)) from error


def parse_document(line: str) -> Article:
    """One JSON line → an ``Article``; raises :class:`BadDocument` naming what is wrong."""
    try:
        document = json.loads(line)
    except ValueError as error:
        raise BadDocument("not_json", str(error)) from error
    if not isinstance(document, dict):
        raise BadDocument("not_an_object", f"a JSON {type(document).__name__}")
    document_id, text, entities = document.get("id"), document.get("text"), document.get("entities", [])
    if not isinstance(document_id, str | int) or isinstance(document_id, bool) or str(document_id) == "":
        raise BadDocument("bad_id", "'id' must be a non-empty string or an integer")
    if not isinstance(text, str) or not text.strip():
        raise BadDocument("bad_text", "'text' must be a non-blank string")
    title = document.get("title", str(document_id))
    if not isinstance(title, str):
        raise BadDocument("bad_title", "'title' must be a string")
    links = _links(entities, text)
    return Article(document_page_id(str(document_id)), title, (Paragraph(text, links),))


def _links(entities: object, text: str) -> tuple[Link, ...]:
    if not isinstance(entities, list):
        raise BadDocument("bad_entities", "'entities' must be a list")
    links = []
    for entity in entities:
        if not isinstance(entity, dict):
            raise BadDocument("bad_entities", "each entity must be an object")
        start, end, title = entity.get("start"), entity.get("end"), entity.get("entity")
        if not all(isinstance(offset, int) and not isinstance(offset, bool) for offset in (start, end)):
            raise BadDocument("bad_entities", "'start' and 'end' must be integers")
        if not isinstance(title, str) or not title.strip():
            raise BadDocument("empty_entity", f"entity at {start}-{end} has no title")
        if not 0 <= start <= end <= len(text):
            raise BadDocument("span_outside_text", f"{start}-{end} outside a text of {len(text)} characters")
        if not text[start:end].strip():
            raise BadDocument("empty_span", f"{start}-{end} holds no text")
        links.append(Link(start, end, title.strip()))
    links.sort(key=lambda link: (link.start, link.end))
    for previous, link in pairwise(links):
        if link.start < previous.end:
            raise BadDocument("overlapping_spans", f"{previous.start}-{previous.end} and {link.start}-{link.end}")
    return tuple(links)


def expand_document_patterns(patterns: Sequence[str]) -> list[tuple[str, int]]:
    """``(path, bytes)`` of every file matching ``patterns`` (globs, any Beam filesystem); raises
    :class:`DocumentFileError` naming a pattern that matches none."""
    files = []
    for pattern in patterns:
        try:
            matched = FileSystems.match([pattern])[0].metadata_list
        except OSError as error:  # Beam raises for a pattern without any match
            raise DocumentFileError(f"--documents {pattern}: no such file") from error
        if not matched:
            raise DocumentFileError(f"--documents {pattern}: no such file")
        files.extend(sorted((metadata.path, metadata.size_in_bytes) for metadata in matched))
    return files


class ReadDocuments(beam.PTransform):
    """PBegin → PCollection[Article]: every valid document of the files matching ``patterns``, one reader per
    file (``document_articles``; counters there)."""

    def __init__(self, patterns: Sequence[str]) -> None:
        super().__init__()
        self._files = [path for path, _ in expand_document_patterns(patterns)]  # on the driver: fails early

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[Article]:
        return (
            pbegin
            | "DocumentFiles" >> beam.Create(self._files, reshuffle=True)
            | "ReadDocumentFiles" >> beam.ParDo(_ReadDocumentFileFn())
        )


class _ReadDocumentFileFn(SetUpDoFn):
    STATE = ("_failures",)

    def build_state(self) -> None:
        self._failures = FailureRecorder("documents_failed")

    def process(self, path: str) -> Iterator[Article]:
        counts: Counter = Counter()
        yield from document_articles(path, counts, self._failures)
        record_counts(counts)


class DocumentArticles:
    """The articles of documents files (``SourceUnit`` tasks are their paths): the article pass's
    ``ArticleSource`` for ``--documents``."""

    def open(self) -> DocumentArticles:
        self._failures = FailureRecorder("documents_failed")
        return self

    def articles(self, unit, counts: Counter) -> Iterator[Article]:
        """The unit's documents; counts them as ``articles.parsed`` and their entities as ``links.kept`` too."""
        for article in document_articles(unit.task, counts, self._failures):
            counts["articles.parsed"] += 1
            counts["links.kept"] += sum(len(paragraph.links) for paragraph in article.paragraphs)
            yield article

    def __getstate__(self) -> dict:
        return {}


def document_articles(path: str, counts: Counter, failures: FailureRecorder) -> Iterator[Article]:
    """The valid documents of the file ``path``, as articles; raises :class:`DocumentFileError` for a file without
    one. Counts ``documents.read`` and ``documents_failed.<reason>`` (invalid_encoding, not_json, not_an_object,
    bad_id, bad_text, bad_title, bad_entities, empty_entity, span_outside_text, empty_span, overlapping_spans) in
    ``counts``, and records ``file:line`` samples of the failures in ``failures``."""
    valid = bad = 0
    with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as stream:
        for number, raw in enumerate(iter(stream.readline, b""), start=1):
            if not raw.strip():
                continue
            try:
                article = parse_document(_decoded(raw))
            except BadDocument as error:
                bad += 1
                counts[f"documents_failed.{error.reason}"] += 1
                failures.sample(error.reason, f"{path}:{number}")
                continue
            valid += 1
            counts["documents.read"] += 1
            yield article
    if not valid:
        raise DocumentFileError(f"{path}: no valid document ({bad} bad lines)")
