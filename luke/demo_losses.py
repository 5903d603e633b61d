"""What a demo stage's losses mean: the model's losses at its start and end next to two references.

*unigram*: the loss of always predicting the training split's frequencies (of words, of linked entities),
measured on the validation split's words and mentions: a model below it learned more than frequencies.
*uniform*: the loss of a guess among all ids of the vocabulary, ``ln(size)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pretraining.metrics_log import read_metrics

FIRST_ENTITY_ID = 3  # ids 0, 1, 2: [PAD], [UNK], [MASK]


@dataclass(frozen=True)
class Reference:
    unigram: float
    uniform: float


@dataclass(frozen=True)
class References:
    words: Reference
    entities: Reference


def column_values(split, column: str) -> np.ndarray:
    """Every value of a list column of a corpus split, flattened."""
    import pyarrow as pa

    arrays = [
        pa.ipc.open_file(pa.memory_map(str(path))).read_all().column(column).combine_chunks().flatten().to_numpy()
        for path in split.shard_files
    ]
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)


def unigram_loss(train_ids: np.ndarray, validation_ids: np.ndarray, size: int) -> float:
    """Mean negative log-likelihood (nats) of ``validation_ids`` under the add-one frequencies of ``train_ids``."""
    counts = np.bincount(train_ids, minlength=size)[:size] + 1.0
    return float(-np.log(counts[validation_ids] / counts.sum()).mean())


def corpus_references(corpus_dir: Path) -> References:
    """The references of the corpus in ``corpus_dir`` (its validation split must not be empty)."""
    from preprocessing.corpus import Corpus

    corpus = Corpus.open(corpus_dir)
    train, validation = corpus.split("train"), corpus.split("validation")
    word_size = corpus.metadata["tokenizer"]["vocab_size"]
    entity_size = corpus.metadata["entity_vocab"]["entries"]
    train_entities, validation_entities = (column_values(split, "entity_ids") for split in (train, validation))
    return References(
        Reference(
            unigram_loss(column_values(train, "word_ids"), column_values(validation, "word_ids"), word_size),
            math.log(word_size),
        ),
        Reference(
            unigram_loss(
                train_entities[train_entities >= FIRST_ENTITY_ID],
                validation_entities[validation_entities >= FIRST_ENTITY_ID],
                entity_size,
            ),
            math.log(entity_size),
        ),
    )


def stage_losses(run_dir: Path, references: References) -> str:
    """A small table: validation masked-word and masked-entity losses at the stage's start and end, the
    masked-entity loss on training batches (first and last logged), and the references."""
    validation, train = read_metrics(run_dir, "validation"), read_metrics(run_dir, "train")
    rows = [
        ("validation masked words", validation[0]["mlm_loss"], validation[-1]["mlm_loss"], references.words),
        ("validation masked entities", validation[0]["mep_loss"], validation[-1]["mep_loss"], references.entities),
        ("training masked entities", train[0]["mep_loss"], train[-1]["mep_loss"], references.entities),
    ]
    lines = [f"  {'loss (nats)':<28}{'start':>7}{'end':>7}{'unigram':>9}{'uniform':>9}"]
    lines += [
        f"  {name:<28}{start:>7.2f}{end:>7.2f}{reference.unigram:>9.2f}{reference.uniform:>9.2f}"
        for name, start, end, reference in rows
    ]
    if references.entities.unigram > references.entities.uniform:
        lines.append(
            "  (the training split's entity frequencies predict validation mentions worse than a uniform guess: "
            "its entities rarely recur across pages)"
        )
    return "\n".join(lines)
