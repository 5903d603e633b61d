"""Enters: dump file patterns (local, gs://, s3://; split, multistream with its index, or the sample dump).
Leaves: ``WikiPage`` records (page id, namespace, title, redirect, wikitext) and the wiki's ``SiteInfo``.
Read first: ``reading`` (``ReadDumpPages``, ``read_site_info``).
"""
