"""Which vocabularies a run's weights belong to: checksums of its corpus's tokenizer and entity vocabulary.

Each run records them in ``run_info.json``; where a run's weights meet a corpus (stage 2's start, export) they
are compared with the corpus's, because embedding rows are only meaningful with the ids they were trained on:
a different vocabulary of the same size would load silently and mean something else. Mapping one vocabulary
onto another is not done here: a mismatch is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from preprocessing.corpus import Corpus
from pretraining.run_dir import RUN_INFO_FILE, VOCABULARY_CHECKSUMS, read_run_info

NAMES = {"tokenizer": "tokenizer", "entity_vocab": "entity vocabulary"}


class VocabularyMismatchError(ValueError):
    """A run's weights were trained with other vocabularies than the corpus's (the message names both)."""


def tokenizer_checksum(directory: Path) -> str:
    """``sha256:<hex>`` over the files of a tokenizer directory (relative names and contents, sorted by name)."""
    digest = hashlib.sha256()
    for path in sorted(path for path in directory.rglob("*") if path.is_file()):
        digest.update(str(path.relative_to(directory)).encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()


def corpus_checksums(corpus: Corpus) -> dict[str, str]:
    """The checksums of ``corpus``'s tokenizer and entity vocabulary (the latter as ``EntityVocab.checksum``,
    which ``luke build-entity-vocab`` prints and ``metadata.json`` records)."""
    from preprocessing.entities.vocab import EntityVocab

    return {
        "tokenizer": tokenizer_checksum(corpus.tokenizer_path),
        "entity_vocab": EntityVocab.load(str(corpus.entity_vocab_path)).checksum(),
    }


def check_same_vocabularies(
    run_dir: Path | None, corpus: Corpus, compared: tuple[str, ...] = tuple(NAMES)
) -> str | None:
    """Refuse (:class:`VocabularyMismatchError`) a corpus whose vocabularies (those named in ``compared``) differ
    from those the run in ``run_dir`` recorded; return a warning when there is nothing to compare (no run
    directory, or a run that recorded no checksums)."""
    info = read_run_info(run_dir) if run_dir is not None and (run_dir / RUN_INFO_FILE).is_file() else {}
    recorded = info.get(VOCABULARY_CHECKSUMS)
    if not recorded:
        source = f"run {run_dir}" if run_dir is not None else "the checkpoint (not inside a run directory)"
        return f"warning: {source} recorded no vocabulary checksums: cannot check that it was trained on {corpus.path}"
    current = corpus_checksums(corpus)
    paths = {"tokenizer": corpus.tokenizer_path, "entity_vocab": corpus.entity_vocab_path}
    differences = [
        f"{label} {recorded[key]} ({info.get(key, 'path not recorded')}) vs {current[key]} ({paths[key]})"
        for key, label in NAMES.items()
        if key in compared and recorded.get(key) != current[key]
    ]
    if differences:
        raise VocabularyMismatchError(
            f"run {run_dir} was trained with other vocabularies than corpus {corpus.path}: {'; '.join(differences)}; "
            "its embedding rows would be read with the wrong ids (use the corpus it was trained on)"
        )
    return None
