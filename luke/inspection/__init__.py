"""``luke inspect``: look inside a corpus directory and training run directories, as one self-contained HTML
report (plots embedded as PNG, no network) and a short terminal summary.

Read first: ``command`` (the click commands), then ``corpus_report`` (what the corpus report computes) and
``run_report`` (what the run report reads). ``shards`` reads list offsets and sampled rows of memory-mapped
shards with numpy; ``checks`` holds what flags a broken corpus; ``rows`` decodes rows with their mentions;
``plots`` draws the figures; ``page``, ``corpus_page``, ``run_page`` and ``terminal`` render. Nothing here
imports torch or Beam.
"""
