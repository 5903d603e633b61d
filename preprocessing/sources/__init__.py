"""Enters: dump file patterns (local, gs://, s3://; split, multistream with its index, or the sample dump).
Leaves: ``WikiPage`` records and the wiki's ``SiteInfo``; ``documents`` turns JSON Lines into ``Article``s.
Read first: ``reading`` (``plan_reading``: the units; ``PageReader``: a unit's pages; ``read_site_info``).
"""
