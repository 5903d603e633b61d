"""Enters: the command line of ``luke build-entity-vocab`` and ``luke build-corpus`` (Beam options pass through).
Leaves: a finished job, its summary table, and one-line errors naming the file or option.
Read first: ``build_corpus``; ``options`` holds what both commands share.
"""
