"""Byte-level BPE (RoBERTa's, GPT-2's) tokenization memoised per pre-tokenized word, with `tokenizers`' ids.

A byte-level BPE tokenizer without a normalizer splits a text with GPT-2's regex into words and encodes each
word on its own (no BPE dropout): a text's ids are its words' ids, one after the other. :class:`BPEWordMemo`
splits a text with the same regex (``re``, see :func:`_patterns`) and looks each word's ids up in a dict;
only a word it has not seen yet goes to `tokenizers`. `tokenizers` spends most of its time per text
allocating (alignments, offsets, encodings), so a remembered word costs ~3× less; a new one costs about the
same (its BPE merges are computed either way).

It answers only when the ids are sure to be `tokenizers`' own (:meth:`BPEWordMemo.encode` gives None
otherwise, and the caller asks `tokenizers`):

- the tokenizer must be exactly that pipeline (:meth:`BPEWordMemo.for_tokenizer`);
- every character of the text must be in the Basic Multilingual Plane and assigned in Unicode 3.2
  (2002): the regex engines (Oniguruma inside `tokenizers`; Python's ``unicodedata`` here) ship different
  Unicode versions and classify the characters assigned since differently; on every character the memo
  takes they agree (``tests/test_bpe_word_memo.py`` checks them all against `tokenizers`' own pre-tokenizer);
- the text must not contain an added token's text (``<s>``, ``<mask>``): `tokenizers` matches those
  before it pre-tokenizes;
- each of its words' tokens must spell the word's bytes (they do not when a byte is missing from the
  vocabulary).

A sentence with links reaches it piece by piece (``mentions.pieces_at_links``): each piece is a text of its
own, as `tokenizers` sees it when transformers' LUKE tokenizers encode the pieces apart, so the memo needs no
offsets and gives no spans: a link's tokens are those of its pieces.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import NamedTuple

from tokenizers import Tokenizer

MEMO_CAPACITY = 250_000  # words; a word beyond it is still encoded, just not remembered


class BPEWordMemo:
    """Ids of texts for one byte-level BPE tokenizer (one instance per worker)."""

    def __init__(self, tokenizer: Tokenizer, added_tokens: Sequence[str]) -> None:
        self._tokenizer = tokenizer
        self._added_tokens = tuple(token for token in added_tokens if token)
        self._patterns = _patterns()
        self._ids: dict[str, list[int]] = {}

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

    def encode(self, text: str) -> list[int] | None:
        """``text``'s ids, or None when only `tokenizers` can tell (see the module's docstring)."""
        if self._patterns.outside.search(text) or any(map(text.__contains__, self._added_tokens)):
            return None
        pieces = self._patterns.words.findall(text)
        words = list(map(self._ids.get, pieces))
        if None in words:
            words = [ids if ids is not None else self._learn(piece) for piece, ids in zip(pieces, words, strict=True)]
            if None in words:
                return None
        return list(chain.from_iterable(words))

    def _learn(self, piece: str) -> list[int] | None:
        """``piece``'s ids from `tokenizers` (remembered while the memo has room), or None when its tokens do
        not spell its bytes."""
        encoding = self._tokenizer.encode(piece, add_special_tokens=False)
        if not encoding.ids or sum(map(len, encoding.tokens)) != len(piece.encode("utf-8")):
            return None
        if len(self._ids) < MEMO_CAPACITY:
            self._ids[piece] = encoding.ids
        return encoding.ids


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
