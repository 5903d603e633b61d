"""Enters: ``Article`` records, the entity vocabulary and the corpus tokenizer.
Leaves: the corpus directory (Arrow shards per split, ``metadata.json`` last) and ``Corpus``, its reader.
Read first: ``build`` (the job and its driver steps), then ``directory`` (layout, schema, reader).
"""

from preprocessing.corpus.directory import Corpus, CorpusError, CorpusSplit

__all__ = ["Corpus", "CorpusError", "CorpusSplit"]
