"""Which word row each entity marker the LUKE tokenizer adds (``<ent>``, ``<ent2>``) starts from.

LUKE's converters copy ``@`` into ``<ent>`` and ``#`` into ``<ent2>``. A vocabulary without those pieces (a
small SentencePiece model) falls back to the first of a few other rare symbols it holds (``*``, ``$``, ``^``
for ``<ent>``; ``%``, ``&``, ``~`` for ``<ent2>``), then to any single-character punctuation piece, each
marker a different one: never to the unknown token, and the two markers never start alike.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MARKER_SYMBOLS = {"<ent>": ("@", "*", "$", "^"), "<ent2>": ("#", "%", "&", "~")}  # LUKE's first
WORD_START_PREFIXES = ("", "▁", "Ġ")  # a symbol as a bare piece, or as a SentencePiece / byte-level word start


class MarkerInitError(ValueError):
    """The vocabulary holds no distinct pieces to start the entity markers from."""


@dataclass(frozen=True)
class MarkerSource:
    """The piece (and its id) whose row a marker starts from; ``fallback`` when it is not LUKE's."""

    marker: str
    piece: str
    row: int
    fallback: bool

    def describe(self) -> str:
        return f"{self.marker} from {self.piece!r}" + (" (the vocabulary has no LUKE symbol)" if self.fallback else "")


def _is_symbol(piece: str) -> bool:
    character = piece.lstrip("".join(WORD_START_PREFIXES))
    return len(character) == 1 and unicodedata.category(character)[0] in "PS"


def _pieces(symbols: Sequence[str]) -> list[str]:
    return [prefix + symbol for symbol in symbols for prefix in WORD_START_PREFIXES]


def marker_sources(vocab: Mapping[str, int], markers: Sequence[str], special_ids: set[int]) -> list[MarkerSource]:
    """A :class:`MarkerSource` for each of ``markers`` (one not in :data:`MARKER_SYMBOLS` takes a symbol
    piece), each from a distinct ordinary piece of ``vocab`` (ids in ``special_ids`` are never taken)."""
    symbol_pieces = sorted((piece for piece in vocab if _is_symbol(piece)), key=vocab.__getitem__)
    taken = set(special_ids)
    sources = []
    for marker in markers:
        symbols = MARKER_SYMBOLS.get(marker, ())
        candidates = [piece for piece in (*_pieces(symbols), *symbol_pieces) if piece in vocab]
        candidates = [piece for piece in candidates if vocab[piece] not in taken]
        if not candidates:
            raise MarkerInitError(
                f"the word vocabulary has no symbol piece left to start {marker} from (tried {list(symbols)} and "
                "every single-character punctuation piece)"
            )
        piece = candidates[0]
        taken.add(vocab[piece])
        sources.append(MarkerSource(marker, piece, vocab[piece], fallback=piece not in _pieces(symbols[:1])))
    return sources
