"""Enters: sentences with link spans, and a tokenizer name or path (or a request to train one on the dump).
Leaves: the corpus tokenizer directory and, per sentence, token ids with mentions on whole tokens.
Read first: ``mentions`` (``MentionTokenizer``); ``tokenizer`` loads or trains the corpus tokenizer.
"""
