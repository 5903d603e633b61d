"""Default settings of the preprocessing jobs, in a module free of heavy imports so that the command
line can show them in ``--help`` without loading Beam."""

DEFAULT_VOCAB_SIZE = 500_000  # entries of the entity vocabulary, special ones included, as LUKE-large
DEFAULT_MAX_REDIRECT_HOPS = 4  # MediaWiki itself follows one; longer chains are rare and fixed by bots
DEFAULT_MAX_PAGE_BYTES = 8 << 20  # the largest real Wikipedia pages hold ~2-3 MB of XML
DEFAULT_STREAMS_PER_RANGE = 20  # multistream work item: ~2,000 pages
DEFAULT_TOKENIZER_VOCAB_SIZE = 32_000  # pieces of a tokenizer trained by build-corpus --train-tokenizer
DEFAULT_TOKENIZER_SAMPLE_PAGES = 5_000  # articles it is trained on (~250,000 sentences)
