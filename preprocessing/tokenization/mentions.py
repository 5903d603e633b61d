"""Tokenization of sentences with a Hugging Face fast tokenizer, mapping each link to whole tokens.

A sentence is tokenized as one text preceded by a space, as LUKE tokenized every sentence (with RoBERTa's
``add_prefix_space``): its first word then has the form it has in running text (``ĠHe``, not ``He``, with a
byte-level BPE; SentencePiece's ``▁He`` either way), and a decoded row reads as prose (``Semitic. He``). Its
ids are exactly what ``AutoTokenizer.from_pretrained(corpus/tokenizer)(" " + text, add_special_tokens=False)``
gives, and a row's ids are those of its decoded text. A link becomes
a mention when its anchor starts and ends on token boundaries (the tokens' offsets, whitespace aside);
then decoding the mention's tokens gives the anchor text back. A link whose boundary falls inside a token
(``[[cat]]fish`` tokenized as ``▁catfish``), or whose tokens include the unknown token, is dropped and
counted: the ids of the text never depend on where the links are.

A byte-level BPE tokenizer (RoBERTa's kind) tokenizes most sentences through :class:`BPEWordMemo`, a
memo of each pre-tokenized word's ids that gives exactly `tokenizers`' ids and spans, faster (2.8× once its
words are known, 1.3× on a first pass: ``benchmarks/bench_tokenization.py``); the sentences it cannot vouch
for, and every sentence of other tokenizers (SentencePiece, WordPiece), go to `tokenizers` itself.

For those other tokenizers the model's word cache (BPE, Unigram) holds :data:`WORD_CACHE_CAPACITY` words
instead of `tokenizers`' 10,000: a cache only memoises, so the ids stay the same, and a wiki's vocabulary
overflows 10,000 words at once (the enwiki sample alone has ~39,000 distinct pre-tokenized words). It fills
with the first words seen and is never evicted; ~400 bytes a word, i.e. ~100 MB per worker when full (the
memo holds as many words, in about half that).

A worker tokenizes on its own thread: a runner already runs one worker per core, and `tokenizers`' thread
pool would oversubscribe them and costs more CPU per sentence (measured: 4–8 % on per-article batches,
~25 % on large ones).
:class:`MentionTokenizer` sets ``TOKENIZERS_PARALLELISM=false`` in its process unless the variable is set
(the only switch `tokenizers` has; it is read at every batch call): ``TOKENIZERS_PARALLELISM=true`` keeps
the pool, e.g. for a one-worker in-memory run on an otherwise idle laptop.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Encoding, Tokenizer

from preprocessing.records import Link
from preprocessing.tokenization.bpe_word_memo import BPEWordMemo
from preprocessing.wikitext.sentences import Sentence

WORD_CACHE_CAPACITY = 250_000


@dataclass(frozen=True)
class Mention:
    """A link mapped to tokens: ``word_ids[start:end]`` of its sentence spell the anchor text."""

    target: str
    start: int
    end: int  # exclusive


@dataclass(frozen=True, eq=False)
class TokenizedSentence:
    word_ids: np.ndarray  # int32
    mentions: tuple[Mention, ...]


class MentionTokenizer:
    """Tokenizes sentences and maps their links to token spans (one instance per worker)."""

    def __init__(self, tokenizer_json: str, word_memo: bool = True) -> None:
        """``word_memo=False`` sends every sentence to `tokenizers` (the memo's baseline in tests and
        benchmarks)."""
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self._memo = BPEWordMemo.for_tokenizer(self.tokenizer) if word_memo else None
        resize_cache = getattr(self.tokenizer.model, "_resize_cache", None)  # BPE and Unigram have a cache
        if self._memo is None and resize_cache is not None:
            resize_cache(WORD_CACHE_CAPACITY)
        unk = self._unk_token(tokenizer_json)
        self.unk_id = self.tokenizer.token_to_id(unk) if unk is not None else None

    @staticmethod
    def _unk_token(tokenizer_json: str) -> str | None:
        model = json.loads(tokenizer_json).get("model", {})
        if "unk_token" in model:
            return model["unk_token"]
        if model.get("type") == "Unigram" and model.get("unk_id") is not None:
            return model["vocab"][model["unk_id"]][0]
        return None

    def tokenize(self, sentences: Sequence[Sentence], counts: Counter) -> list[TokenizedSentence]:
        """Tokenize ``sentences``, each preceded by a space; dropped links are counted in ``counts``.

        A byte-level BPE tokenizer's word memo (:class:`BPEWordMemo`) takes the sentences it can; the others
        go to `tokenizers` in two batches: only the sentences with links need the tokens' offsets, the
        others take its faster path without them (same ids).
        """
        sentences = [_after_a_space(sentence) for sentence in sentences]
        memoised = [self._memo.encode(sentence.text, sentence.links) if self._memo else None for sentence in sentences]
        left = [sentence for sentence, encoded in zip(sentences, memoised, strict=True) if encoded is None]
        from_tokenizers = iter(self._encode_with_tokenizers(left))
        return [
            self._tokenized(sentence, *(encoded if encoded is not None else next(from_tokenizers)), counts)
            for sentence, encoded in zip(sentences, memoised, strict=True)
        ]

    def _encode_with_tokenizers(self, sentences: Sequence[Sentence]) -> list[tuple[list[int], list]]:
        linked = [sentence for sentence in sentences if sentence.links]
        plain = [sentence.text for sentence in sentences if not sentence.links]
        encodings = self.tokenizer.encode_batch([sentence.text for sentence in linked], add_special_tokens=False)
        with_links = iter(
            [
                (encoding.ids, _link_spans(sentence, encoding))
                for sentence, encoding in zip(linked, encodings, strict=True)
            ]
        )
        without_links = iter(
            [(encoding.ids, []) for encoding in self.tokenizer.encode_batch_fast(plain, add_special_tokens=False)]
        )
        return [next(with_links) if sentence.links else next(without_links) for sentence in sentences]

    def _tokenized(
        self, sentence: Sentence, ids: list[int], spans: Sequence[tuple[int, int] | None], counts: Counter
    ) -> TokenizedSentence:
        mentions = []
        for link, span in zip(sentence.links, spans, strict=True):
            if span is None:
                counts["mentions_dropped.boundary_inside_token"] += 1
            elif self.unk_id is not None and self.unk_id in ids[span[0] : span[1]]:
                counts["mentions_dropped.unknown_token"] += 1
            else:
                mentions.append(Mention(link.target, span[0], span[1]))
        return TokenizedSentence(np.asarray(ids, dtype=np.int32), tuple(mentions))


def _after_a_space(sentence: Sentence) -> Sentence:
    """``sentence`` as it reads after the text before it: with one space in front."""
    links = tuple(Link(link.start + 1, link.end + 1, link.target) for link in sentence.links)
    return Sentence(" " + sentence.text, links)


def _link_spans(sentence: Sentence, encoding: Encoding) -> list[tuple[int, int] | None]:
    offsets = encoding.offsets  # each read builds the whole list
    return [token_span(sentence.text, encoding, offsets, link.start, link.end) for link in sentence.links]


def token_span(
    text: str, encoding: Encoding, offsets: Sequence[tuple[int, int]], start: int, end: int
) -> tuple[int, int] | None:
    """The tokens ``[first, last)`` that cover exactly ``text[start:end]`` (whitespace at the edges of the
    tokens aside), or None when a boundary falls inside a token or the text has no token. ``offsets`` are
    ``encoding.offsets``, fetched once per sentence (each read builds the whole list)."""
    first = encoding.char_to_token(start)
    last = encoding.char_to_token(end - 1)
    if first is None or last is None:
        return None
    # several tokens can share a character (byte-level pieces of one character): take them all
    while first > 0 and offsets[first - 1][1] > start:
        first -= 1
    while last + 1 < len(offsets) and offsets[last + 1][0] < end:
        last += 1
    token_start, token_end = offsets[first][0], offsets[last][1]
    if token_start > start or text[token_start:start].strip() or text[end:token_end].strip():
        return None
    return first, last + 1
