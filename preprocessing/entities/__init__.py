"""Enters: the input's units (``sources.reading.SourceUnit``): their pages, articles and redirects.
Leaves: the title table (files), ``Article`` records whose links name redirect-resolved entities (made where a
unit is read), and the top-K ``EntityVocab``.
Read first: ``title_job`` (the title pass), ``articles`` (``ArticleExtractor``), ``resolution``, then
``vocab_building`` and ``vocab`` (the file format); ``vocab_job`` is ``luke build-entity-vocab``.
"""
