"""Enters: the input's units and the title table, the entity vocabulary and the corpus tokenizer.
Leaves: the corpus directory (Arrow shards per split, ``metadata.json`` last) and ``Corpus``, its reader.
Read first: ``build`` (the passes and the driver steps), ``tokenizing`` (the article pass), ``shard_packing``
(the packing pass), then ``directory`` (layout, schema, reader).
"""

from preprocessing.corpus.directory import Corpus, CorpusError, CorpusSplit

__all__ = ["Corpus", "CorpusError", "CorpusSplit"]
