"""Byte-level BPE (RoBERTa's, GPT-2's) tokenization memoised per pre-tokenized word, with `tokenizers`' ids.

A byte-level BPE tokenizer without a normalizer splits a text with GPT-2's regex into words and encodes each
word on its own (no BPE dropout): a text's ids are its words' ids, one after the other. :class:`BPEWordMemo`
splits a sentence with the same regex (``re``, see :func:`_patterns`) and looks each word's ids up in a dict;
only a word it has not seen yet goes to `tokenizers`. `tokenizers` spends most of its time per sentence
allocating (alignments, offsets, encodings), so a remembered word costs ~3× less; a new one costs about the
same (its BPE merges are computed either way).

It answers only when the ids are sure to be `tokenizers`' own (:meth:`BPEWordMemo.encode` gives None
otherwise, and the caller asks `tokenizers`):

- the tokenizer must be exactly that pipeline (:meth:`BPEWordMemo.for_tokenizer`);
- every character of the sentence must be in the Basic Multilingual Plane and assigned in Unicode 3.2
  (2002): the regex engines (Oniguruma inside `tokenizers`; Python's ``unicodedata`` here) ship different
  Unicode versions and classify the characters assigned since differently; on every character the memo
  takes they agree (``tests/test_bpe_word_memo.py`` checks them all against `tokenizers`' own pre-tokenizer);
- the sentence must not contain an added token's text (``<s>``, ``<mask>``): `tokenizers` matches those
  before it pre-tokenizes;
- each of its words' tokens must spell the word's bytes (they do not when a byte is missing from the
  vocabulary).

For links it gives each link's token span with the rule of :func:`preprocessing.tokenization.mentions.token_span`:
the first token holding the link's first character must hold nothing but whitespace before it, the last
token holding its last character nothing but whitespace after it.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from itertools import accumulate, chain
from typing import NamedTuple

from tokenizers import Tokenizer

from preprocessing.records import Link

MEMO_CAPACITY = 250_000  # words; a word beyond it is still encoded, just not remembered

TokenSpan = tuple[int, int]  # [first token, last token + 1)


class BPEWordMemo:
    """Ids (and link spans) of sentences for one byte-level BPE tokenizer (one instance per worker)."""

    def __init__(self, tokenizer: Tokenizer, added_tokens: Sequence[str]) -> None:
        self._tokenizer = tokenizer
        self._added_tokens = tuple(token for token in added_tokens if token)
        self._patterns = _patterns()
        self._ids: dict[str, list[int]] = {}
        self._spans: dict[str, tuple[list[int], list[int]]] = {}

    @classmethod
    def for_tokenizer(cls, tokenizer: Tokenizer) -> BPEWordMemo | None:
        """A memo for ``tokenizer`` if it is a byte-level BPE without normalizer, BPE dropout, truncation or
        padding, whose pre-tokenizer is ``ByteLevel(add_prefix_space=False, use_regex=True)``; else None."""
        config = json.loads(tokenizer.to_str())
        pre_tokenizer = config.get("pre_tokenizer") or {}
        model = config.get("model") or {}
        supported = (
            config.get("normalizer") is None
            and config.get("truncation") is None
            and config.get("padding") is None
            and pre_tokenizer.get("type") == "ByteLevel"
            and pre_tokenizer.get("add_prefix_space") is False
            and pre_tokenizer.get("use_regex", True) is True
            and model.get("type") == "BPE"
            and not model.get("dropout")
        )
        if not supported:
            return None
        return cls(tokenizer, [token["content"] for token in config.get("added_tokens", [])])

    def encode(self, text: str, links: Sequence[Link] = ()) -> tuple[list[int], list[TokenSpan | None]] | None:
        """``text``'s ids and each link's token span (None: a boundary inside a token), or None when only
        `tokenizers` can tell (see the module's docstring)."""
        if self._patterns.outside.search(text) or any(map(text.__contains__, self._added_tokens)):
            return None
        pieces = self._patterns.words.findall(text)
        words = list(map(self._ids.get, pieces))
        if None in words:
            words = [ids if ids is not None else self._learn(piece) for piece, ids in zip(pieces, words, strict=True)]
            if None in words:
                return None
        ids = list(chain.from_iterable(words))
        if not links:
            return ids, []
        word_starts = list(accumulate(map(len, pieces), initial=0))
        first_tokens = list(accumulate(map(len, words), initial=0))
        return ids, [self._link_span(text, link, pieces, words, word_starts, first_tokens) for link in links]

    def _learn(self, piece: str) -> list[int] | None:
        """``piece``'s ids from `tokenizers` (remembered while the memo has room), or None when its tokens do
        not spell its bytes."""
        encoding = self._tokenizer.encode(piece, add_special_tokens=False)
        if not encoding.ids or sum(map(len, encoding.tokens)) != len(piece.encode("utf-8")):
            return None
        if len(self._ids) < MEMO_CAPACITY:
            self._ids[piece] = encoding.ids
        return encoding.ids

    def _link_span(
        self,
        text: str,
        link: Link,
        pieces: list[str],
        words: list[list[int]],
        word_starts: list[int],
        first_tokens: list[int],
    ) -> TokenSpan | None:
        first_word = bisect.bisect_right(word_starts, link.start) - 1
        starts, ends = self._char_spans(pieces[first_word], words[first_word])
        start_in_word = link.start - word_starts[first_word]
        first = next(index for index, end in enumerate(ends) if end > start_in_word)
        if text[word_starts[first_word] + starts[first] : link.start].strip():
            return None
        last_word = bisect.bisect_right(word_starts, link.end - 1) - 1
        starts, ends = self._char_spans(pieces[last_word], words[last_word])
        end_in_word = link.end - 1 - word_starts[last_word]
        last = max(index for index, start in enumerate(starts) if start <= end_in_word)
        if text[link.end : word_starts[last_word] + ends[last]].strip():
            return None
        return first_tokens[first_word] + first, first_tokens[last_word] + last + 1

    def _char_spans(self, piece: str, ids: list[int]) -> tuple[list[int], list[int]]:
        """Each token's first character and one past its last, in ``piece`` (a character split between two
        tokens is in both); remembered like the ids."""
        spans = self._spans.get(piece)
        if spans is None:
            spans = self._token_char_spans(piece, ids)
            if len(self._spans) < MEMO_CAPACITY:
                self._spans[piece] = spans
        return spans

    def _token_char_spans(self, piece: str, ids: list[int]) -> tuple[list[int], list[int]]:
        # a byte-level token has one character per byte
        if piece.isascii():
            char_of_byte: Sequence[int] = range(len(piece))
        else:
            char_of_byte = [index for index, character in enumerate(piece) for _ in character.encode("utf-8")]
        starts, ends, byte = [], [], 0
        for token in map(self._tokenizer.id_to_token, ids):
            starts.append(char_of_byte[byte])
            byte += len(token)
            ends.append(char_of_byte[byte - 1] + 1)
        return starts, ends


class _Patterns(NamedTuple):
    outside: re.Pattern  # a character the memo does not take
    words: re.Pattern  # GPT-2's pre-tokenizer, for the characters it takes


@functools.cache
def _patterns() -> _Patterns:
    r"""The patterns, built once per process for the standard library's ``re``.

    The memo takes the characters of the Basic Multilingual Plane assigned in Unicode 3.2. GPT-2's regex is
    ``'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+``; ``re`` has no ``\p{…}``,
    so the classes are spelt out for those characters: letters and numbers by their Unicode category, ``\s``
    as Unicode's White_Space. Classes within the BMP compile to bitmaps (~30 MB/s here, ~3× the ``regex``
    module's ``\p{L}``).
    """
    taken = [chr(code) for code in range(0x10000) if unicodedata.ucd_3_2_0.category(chr(code)) not in ("Cn", "Cs")]
    letters = _character_class(c for c in taken if unicodedata.category(c).startswith("L"))
    numbers = _character_class(c for c in taken if unicodedata.category(c).startswith("N"))
    blanks = _character_class(c for c in taken if c in _WHITE_SPACE_CONTROLS or unicodedata.category(c) in _SEPARATORS)
    words = (
        rf"'s|'t|'re|'ve|'m|'ll|'d| ?[{letters}]+| ?[{numbers}]+| ?[^{blanks}{letters}{numbers}]+"
        rf"|[{blanks}]+(?![^{blanks}])|[{blanks}]+"
    )
    return _Patterns(re.compile(f"[^{_character_class(taken)}]"), re.compile(words))


_WHITE_SPACE_CONTROLS = "\t\n\x0b\x0c\r\x85"
_SEPARATORS = ("Zs", "Zl", "Zp")


def _character_class(characters: Iterable[str]) -> str:
    """The inside of a ``re`` character class holding exactly ``characters`` (BMP), as ranges."""
    codes = sorted(map(ord, characters))
    ranges = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(f"\\u{first:04x}-\\u{last:04x}" for first, last in ranges)
