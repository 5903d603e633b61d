"""Where the entity markers `<ent>`/`<ent2>` start from: LUKE's `@`/`#`, else stated, distinct symbol pieces."""

from __future__ import annotations

import pytest

from pretraining.export.markers import MarkerInitError, marker_sources

SPECIAL = {"<unk>": 0, "<s>": 1, "</s>": 2, "<pad>": 3, "<mask>": 4}


def _sources(pieces: list[str], markers=("<ent>", "<ent2>")):
    vocab = SPECIAL | {piece: 5 + index for index, piece in enumerate(pieces)}
    return [(source.piece, source.row, source.fallback) for source in marker_sources(vocab, markers, {0, 1, 2, 3, 4})]


def test_luke_symbols_where_the_vocabulary_has_them():
    assert _sources(["the", "#", "@", "*"]) == [("@", 7, False), ("#", 6, False)]
    # a SentencePiece vocabulary may hold them only as word starts
    assert _sources(["▁@", "▁#", "%"]) == [("▁@", 5, False), ("▁#", 6, False)]


def test_other_rare_symbols_then_any_punctuation_else_an_error():
    assert _sources(["a", "%", "*", "$", "&"]) == [("*", 7, True), ("%", 6, True)]
    assert _sources(["a", ".", "b", ","]) == [(".", 6, True), (",", 8, True)]  # by id, never the same piece
    with pytest.raises(MarkerInitError, match="no symbol piece left to start <ent2>"):
        _sources(["a", ".", "b"])
    with pytest.raises(MarkerInitError, match="<ent>"):
        _sources(["a", "b"])  # never <unk> nor any other special token


def test_a_marker_without_luke_symbols_takes_a_free_symbol():
    assert _sources(["@", "#", "!"], markers=("<ent>", "<ent2>", "<other>")) == [
        ("@", 5, False),
        ("#", 6, False),
        ("!", 7, True),
    ]
