"""Wikipedia dump → corpus directory (Arrow shards, entity vocabulary, tokenizer), as Apache Beam jobs.

The subpackages follow the data: ``sources`` (dump files → pages) → ``wikitext`` (page → paragraphs with
link spans, sentences) → ``entities`` (links resolved to entities, the entity vocabulary) → ``tokenization``
(sentences → token ids with mentions) → ``corpus`` (packed sequences → Arrow shards, and their reader).
``beam`` holds the Beam plumbing they share, ``commands`` the ``luke`` sub-commands, ``records`` the records
that flow between the transforms and ``defaults`` the jobs' default settings.
"""
