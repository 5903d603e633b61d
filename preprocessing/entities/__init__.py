"""Enters: the input's units (``sources.reading.SourceUnit``): their pages, articles and redirects.
Leaves: the title table (files), ``Article``s with redirect-resolved links (made where read), the ``EntityVocab``.
Read first: ``title_job`` (the title pass), ``articles``, ``resolution``, ``vocab_building``, ``vocab_job``.
"""
