"""Enters: a page's wikitext and title, with the wiki's ``SiteInfo``.
Leaves: paragraphs of plain text whose ``Link`` spans carry normalised target titles, then sentences.
Read first: ``parser`` (``WikitextParser``); ``titles`` normalises titles, ``sentences`` splits paragraphs.
"""
