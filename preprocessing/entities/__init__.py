"""Enters: ``WikiPage`` records (articles and redirects).
Leaves: ``Article`` records whose links name redirect-resolved entities, and the top-K ``EntityVocab``.
Read first: ``articles`` (``ExtractArticles``), then ``vocab_building`` and ``vocab`` (the file format).
"""
