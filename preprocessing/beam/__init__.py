"""Enters: nothing of the data; this is the Beam plumbing that every job shares.
Leaves: pipeline options, counters and their summary, combiners, ``SplitByKind`` and live progress.
Read first: ``metrics`` (every transform counts what it keeps and drops through it).
"""
