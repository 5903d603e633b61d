"""The corpus tokenization of linked sentences before they were cut at their links, for tests and measurements.

Each sentence was tokenized whole after a space, and a link kept as a mention only when its anchor started and
ended on the tokens' boundaries (offsets, whitespace aside); so a corpus tokenized this way gives other ids
than transformers' LUKE tokenizers given its mentions as ``entity_spans`` (the export's check must see it).
:func:`sentences_tokenized_whole` puts this rule in place of ``MentionTokenizer.tokenize`` in this process
(an in-process Beam run then builds such a corpus).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from preprocessing.tokenization.mentions import Mention, MentionTokenizer, TokenizedSentence
from preprocessing.wikitext.sentences import Sentence

DROPPED = "mentions_dropped.no_tokens"  # a link cutting a token (its own name then; the ledger knows this one)


def tokenize_whole(
    tokenizer: MentionTokenizer, sentences: Sequence[Sentence], counts: Counter
) -> list[TokenizedSentence]:
    texts = [" " + sentence.text for sentence in sentences]
    encodings = tokenizer.tokenizer.encode_batch(texts, add_special_tokens=False)
    tokenized = []
    for sentence, text, encoding in zip(sentences, texts, encodings, strict=True):
        offsets, mentions = encoding.offsets, []
        for link in sentence.links:
            span = _token_span(text, encoding, offsets, link.start + 1, link.end + 1)
            if span is None:
                counts[DROPPED] += 1
            elif tokenizer.unk_id is not None and tokenizer.unk_id in encoding.ids[span[0] : span[1]]:
                counts["mentions_dropped.unknown_token"] += 1
            else:
                mentions.append(Mention(link.target, *span))
        tokenized.append(TokenizedSentence(np.asarray(encoding.ids, dtype=np.int32), tuple(mentions)))
    return tokenized


def _token_span(text: str, encoding, offsets, start: int, end: int) -> tuple[int, int] | None:
    first, last = encoding.char_to_token(start), encoding.char_to_token(end - 1)
    if first is None or last is None:
        return None
    while first > 0 and offsets[first - 1][1] > start:  # byte-level pieces of one character
        first -= 1
    while last + 1 < len(offsets) and offsets[last + 1][0] < end:
        last += 1
    token_start, token_end = offsets[first][0], offsets[last][1]
    if token_start > start or text[token_start:start].strip() or text[end:token_end].strip():
        return None
    return first, last + 1


@contextmanager
def sentences_tokenized_whole() -> Iterator[None]:
    original = MentionTokenizer.tokenize
    MentionTokenizer.tokenize = tokenize_whole
    try:
        yield
    finally:
        MentionTokenizer.tokenize = original
