"""Reference losses for validation, on the very positions the model is scored on.

Validation masks every chosen word with the mask token and every chosen entity with [MASK] (``loaders``), so the
model cannot copy its answer from the input. Next to its losses go those of two models that cannot read the
sequence: the *unigram* (add-one frequencies of the train split's words and linked entities) and, for words, the
*bigram* (the train split's word pairs, Witten-Bell-interpolated with the unigram), which sees the input token just
before each masked position — a mask token there, or ``<s>``, leaves it with the unigram. A model under the unigram
has learned more than frequencies; under the bigram, more than neighbouring-word statistics. Counts come from the
first :data:`REFERENCE_TOKENS` words of the train split, so start-up stays bounded at any corpus size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from preprocessing.corpus import Corpus
from pretraining.data.collator import IGNORE_INDEX
from pretraining.data.masking import FIRST_ENTITY_ID

REFERENCE_TOKENS = 20_000_000  # train words counted (English Wikipedia's first ~0.5 %): a few seconds per rank


@dataclass(frozen=True)
class ReferenceModels:
    """Unigram and bigram word models and a unigram entity model of a train split (see the module doc)."""

    word_log_probs: np.ndarray  # [word vocabulary] add-one unigram log-probabilities
    pair_keys: np.ndarray  # sorted previous * vocabulary + next, of the pairs seen
    pair_counts: np.ndarray  # how often each pair was seen
    previous_counts: np.ndarray  # [word vocabulary] pairs starting with each word
    previous_types: np.ndarray  # [word vocabulary] distinct words seen after each word
    entity_log_probs: np.ndarray  # [entity vocabulary] add-one unigram log-probabilities of linked entities

    @classmethod
    def from_corpus(
        cls, corpus: Corpus, word_vocab_size: int, entity_vocab_size: int, max_tokens: int = REFERENCE_TOKENS
    ) -> ReferenceModels:
        """Count the first ``max_tokens`` words of ``corpus``'s train split (and their rows' entities)."""
        words, row_starts, entities = _train_rows(corpus, max_tokens)
        size = max(word_vocab_size, int(words.max(initial=-1)) + 1)
        same_row = np.ones(max(words.size - 1, 0), dtype=bool)
        same_row[row_starts[1:-1] - 1] = False  # no pair across two rows
        previous, following = words[:-1][same_row].astype(np.int64), words[1:][same_row].astype(np.int64)
        pair_keys, pair_counts = np.unique(previous * size + following, return_counts=True)
        linked = entities[entities >= FIRST_ENTITY_ID]
        return cls(
            word_log_probs=_add_one_log_probs(words, size),
            pair_keys=pair_keys,
            pair_counts=pair_counts,
            previous_counts=np.bincount(previous, minlength=size).astype(np.float64),
            previous_types=np.bincount(pair_keys // size, minlength=size).astype(np.float64),
            entity_log_probs=_add_one_log_probs(linked, max(entity_vocab_size, int(linked.max(initial=-1)) + 1)),
        )

    @property
    def word_vocab_size(self) -> int:
        return self.word_log_probs.size

    def word_losses(self, word_ids: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
        """Summed unigram and bigram negative log-likelihoods (nats) of the labelled words of a batch."""
        labels_np = labels.cpu().numpy()
        rows, columns = np.nonzero(labels_np != IGNORE_INDEX)
        if rows.size == 0:
            return 0.0, 0.0
        following = labels_np[rows, columns].astype(np.int64)
        previous = word_ids.cpu().numpy()[rows, columns - 1].astype(np.int64)  # position 0 is <s>, never labelled
        unigram = np.exp(self.word_log_probs[following])
        keys = previous * self.word_vocab_size + following
        found = np.minimum(np.searchsorted(self.pair_keys, keys), max(self.pair_keys.size - 1, 0))
        pair = np.where(self.pair_keys[found] == keys, self.pair_counts[found], 0) if self.pair_keys.size else 0.0
        seen, types = self.previous_counts[previous], self.previous_types[previous]
        weight = np.divide(seen, seen + types, out=np.zeros_like(seen), where=seen > 0)
        bigram = weight * np.divide(pair, seen, out=np.zeros_like(seen), where=seen > 0) + (1 - weight) * unigram
        return float(-np.log(unigram).sum()), float(-np.log(bigram).sum())

    def entity_loss(self, labels: torch.Tensor) -> float:
        """Summed unigram negative log-likelihood (nats) of the labelled entities of a batch."""
        labels_np = labels.cpu().numpy()
        return float(-self.entity_log_probs[labels_np[labels_np != IGNORE_INDEX]].sum())


def _add_one_log_probs(ids: np.ndarray, size: int) -> np.ndarray:
    counts = np.bincount(ids, minlength=size)[:size] + 1.0
    return np.log(counts / counts.sum())


def _train_rows(corpus: Corpus, max_tokens: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first rows of the train split holding at most ``max_tokens`` words (at least one row), read record
    batch by record batch from the mapped shards: their words concatenated, the offsets where each row starts
    (and the end), and their entity ids."""
    words, starts, entities = [], [0], []
    for path in corpus.split("train").shard_files:
        reader = pa.ipc.open_file(pa.memory_map(str(path)))
        for index in range(reader.num_record_batches):
            batch = reader.get_batch(index)
            lengths = np.diff(batch.column("word_ids").offsets.to_numpy())
            keep = int(np.searchsorted(np.cumsum(lengths), max_tokens - starts[-1], side="right"))
            keep = max(keep, 1) if len(starts) == 1 else keep  # the first row counts whatever its length
            if keep:
                words.append(batch.column("word_ids").slice(0, keep).flatten().to_numpy())
                entities.append(batch.column("entity_ids").slice(0, keep).flatten().to_numpy())
                starts.extend((starts[-1] + np.cumsum(lengths[:keep])).tolist())
            if keep < lengths.size:
                return np.concatenate(words), np.asarray(starts), np.concatenate(entities)
    return np.concatenate(words), np.asarray(starts), np.concatenate(entities)
