"""The corpus tokenizer as a transformers LUKE tokenizer that carries the entity vocabulary.

A corpus ``tokenizer/`` directory holds a fast tokenizer whose ``tokenizer.json`` model is either a
byte-level BPE (``roberta-large``'s family: exported as ``LukeTokenizer``) or a SentencePiece unigram model
(``xlm-roberta-large``'s family and the tokenizers ``build-corpus`` trains: exported as ``MLukeTokenizer``).

In transformers 5.x both LUKE tokenizers must be built from the vocabulary itself (``vocab=``, ``merges=``)
— given file paths they silently build an empty vocabulary — and a LUKE tokenizer loaded back from disk
rebuilds its normalizer and pre-tokenizer from its own code, not from ``tokenizer.json``. So construction
proves nothing: :func:`verify_luke_tokenizer` reloads the saved directory and checks, on real text, that its
word ids are the corpus tokenizer's and that every entity title maps to its id in ``entity_vocab.jsonl``; and
(:func:`verify_span_tokenization`) that given a corpus row's text with its mentions as ``entity_spans`` it gives
the row's own word ids and mention positions: the corpus cuts each linked sentence at its links as these
tokenizers cut a text at its entity spans (``preprocessing.tokenization.mentions``), so fine-tuning inputs are
tokenized as the pretraining rows were.

What transformers' LUKE tokenizers expect on top of the corpus: the ``[MASK2]`` entity (for entity-pair
tasks; added after the last entity id) and the ``<ent>``/``<ent2>`` word tokens (added after the corpus
vocabulary). The model's embeddings grow to match (:mod:`pretraining.export.weights`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preprocessing.entities.vocab import SPECIAL_ENTITIES, EntityVocab

MASK2 = "[MASK2]"
ENTITY_SPECIAL_TOKENS = (*SPECIAL_ENTITIES, MASK2)  # [PAD], [UNK], [MASK], [MASK2]
LUKE_TOKENIZER = "LukeTokenizer"
MLUKE_TOKENIZER = "MLukeTokenizer"
WORD_SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "cls_token", "pad_token", "mask_token")


class TokenizerConversionError(ValueError):
    """The corpus tokenizer cannot be turned into a LUKE tokenizer with the same ids (message says why)."""


@dataclass(frozen=True)
class EntityVocabMapping:
    """The exported entity vocabulary: tokenizer keys → ids, and where each exported id comes from.

    ``source_ids[i]`` is the corpus entity id whose weights the exported id ``i`` takes (``[MASK2]`` takes
    ``[MASK]``'s, as in the official converters).
    """

    keys: dict[str, int]
    source_ids: list[int]

    @property
    def size(self) -> int:
        return len(self.source_ids)


def entity_vocab_mapping(vocab: EntityVocab, multilingual: bool, lite: bool = False) -> EntityVocabMapping:
    """Tokenizer keys of ``vocab``: special entries by name, entities as ``"language:title"`` for
    ``MLukeTokenizer`` (``multilingual``; several titles may share an id) or as the plain title for
    ``LukeTokenizer``. ``[MASK2]`` is appended. ``lite`` keeps the special entities only (the official
    ``--remove-entity-embeddings``)."""
    keys: dict[str, int] = {}
    source_ids: list[int] = []
    for entity_id, entry in enumerate(vocab.entries):
        if lite and entry.title not in SPECIAL_ENTITIES:
            continue
        for title, language in entry.entities:
            key = title if title in SPECIAL_ENTITIES or not (multilingual and language) else f"{language}:{title}"
            if keys.setdefault(key, len(source_ids)) != len(source_ids):
                raise TokenizerConversionError(
                    f"entity {key!r} appears under two ids of the entity vocabulary; a monolingual LukeTokenizer "
                    "needs one id per title (a multilingual vocabulary needs a SentencePiece tokenizer)"
                )
        source_ids.append(entity_id)
    keys[MASK2] = len(source_ids)
    source_ids.append(vocab[SPECIAL_ENTITIES[2]])
    return EntityVocabMapping(keys, source_ids)


def tokenizer_kind(tokenizer_json: dict[str, Any], where: str) -> str:
    """``LukeTokenizer`` for a byte-level BPE, ``MLukeTokenizer`` for a unigram model; otherwise an error."""
    model_type = tokenizer_json.get("model", {}).get("type")
    if model_type == "Unigram":
        return MLUKE_TOKENIZER
    if model_type == "BPE" and "ByteLevel" in json.dumps(tokenizer_json.get("pre_tokenizer")):
        return LUKE_TOKENIZER
    raise TokenizerConversionError(
        f"the tokenizer in {where} is a {model_type} model without byte-level pre-tokenization; transformers' "
        "LUKE tokenizers support byte-level BPE (LukeTokenizer, as roberta) and SentencePiece unigram "
        "(MLukeTokenizer, as xlm-roberta) only"
    )


def build_luke_tokenizer(corpus_tokenizer, mapping: EntityVocabMapping, max_mention_length: int, where: str):
    """A ``LukeTokenizer`` / ``MLukeTokenizer`` with ``corpus_tokenizer``'s vocabulary and special tokens and
    the entity vocabulary ``mapping.keys``. Not yet verified: see :func:`verify_luke_tokenizer`."""
    from transformers import LukeTokenizer, MLukeTokenizer

    spec = json.loads(corpus_tokenizer.backend_tokenizer.to_str())
    kind = tokenizer_kind(spec, where)
    special = {name: getattr(corpus_tokenizer, name) for name in WORD_SPECIAL_TOKENS}
    missing = [name for name, token in special.items() if token is None]
    if missing:
        raise TokenizerConversionError(f"the tokenizer in {where} defines no {', '.join(missing)}")
    common = dict(special, entity_vocab=dict(mapping.keys), max_mention_length=max_mention_length)
    if kind == MLUKE_TOKENIZER:
        return MLukeTokenizer(vocab=[(piece, float(score)) for piece, score in spec["model"]["vocab"]], **common)
    merges = [tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in spec["model"]["merges"]]
    return LukeTokenizer(vocab=dict(spec["model"]["vocab"]), merges=merges, **common)


def verify_luke_tokenizer(
    directory: Path,
    corpus_tokenizer,
    built,
    mapping: EntityVocabMapping,
    texts: Sequence[str],
    span_rows: Sequence[SpanRow] = (),
    strict_spans: bool = True,
) -> dict[str, Any]:
    """Reload ``directory`` with ``AutoTokenizer`` (offline) and check it against the corpus tokenizer and the
    LUKE tokenizer ``built`` before saving: the word vocabulary ``built`` has (``<ent>``/``<ent2>`` at their
    ids), equal word ids on every text (no special tokens), equal special-token ids, the id of every entity
    key, and the corpus's ids on ``span_rows`` given their mentions as ``entity_spans``
    (:func:`verify_span_tokenization`; ``strict_spans=False`` counts the rows that differ instead). Returns a
    summary; raises :class:`TokenizerConversionError` naming the first disagreement."""
    from transformers import AutoTokenizer

    exported = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    expected_class = tokenizer_kind(json.loads(corpus_tokenizer.backend_tokenizer.to_str()), str(directory))
    if type(exported).__name__ != expected_class:
        raise TokenizerConversionError(f"{directory} loads as {type(exported).__name__}, not {expected_class}")
    differing = sorted(set(exported.get_vocab().items()) ^ set(built.get_vocab().items()), key=str)
    if differing:
        raise TokenizerConversionError(
            f"{directory} reloads with another word vocabulary ({len(exported)} ids) than it was built with "
            f"({len(built)} ids), e.g. {differing[:4]}"
        )
    for name in WORD_SPECIAL_TOKENS:
        ours, theirs = getattr(exported, f"{name}_id"), getattr(corpus_tokenizer, f"{name}_id")
        if ours != theirs:
            raise TokenizerConversionError(f"{directory}: {name} has id {ours}, the corpus tokenizer's is {theirs}")
    if not texts:
        raise TokenizerConversionError(f"no text to verify the tokenizer in {directory} on")
    expected = corpus_tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    actual = exported(list(texts), add_special_tokens=False)["input_ids"]
    for text, want, got in zip(texts, expected, actual, strict=True):
        if want != got:
            at = next((i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), min(len(want), len(got)))
            raise TokenizerConversionError(
                f"the exported {expected_class} in {directory} tokenizes {text[:120]!r} differently from the corpus "
                f"tokenizer from token {at} on: corpus {corpus_tokenizer.convert_ids_to_tokens(want)[at : at + 8]}, "
                f"exported {exported.convert_ids_to_tokens(got)[at : at + 8]}"
            )
    wrong = [key for key, entity_id in mapping.keys.items() if exported.entity_vocab.get(key) != entity_id]
    if wrong:
        raise TokenizerConversionError(
            f"{directory}: {len(wrong)} entities have other ids than in the entity vocabulary, e.g. {wrong[:5]}"
        )
    return {
        "class": expected_class,
        "word_vocab_size": len(exported),
        "entity_vocab_size": len(exported.entity_vocab),
        "verified_texts": len(texts),
        "verified_tokens": sum(len(ids) for ids in expected),
        **verify_span_tokenization(exported, corpus_tokenizer, span_rows, str(directory), strict_spans),
    }


@dataclass(frozen=True)
class SpanRow:
    """A corpus row to check span tokenization on: its word ids, its mentions' token spans ``[start, end)`` and
    the exported tokenizer's keys of their entities (None where the export has no key for one: ``--lite``)."""

    name: str  # where it is, for the message: "validation row 12 (page 345)"
    word_ids: list[int]
    mentions: list[tuple[int, int]]
    entities: list[str] | None


def row_text_and_spans(corpus_tokenizer, row: SpanRow) -> tuple[str, list[tuple[int, int]]]:
    """The row's text (its ids decoded by the corpus tokenizer's own decoder, nothing cleaned up) and each
    mention's character span in it, leading whitespace aside (as a user writes ``entity_spans``)."""
    backend = corpus_tokenizer.backend_tokenizer

    def decoded(ids: list[int]) -> str:
        return backend.decode(ids, skip_special_tokens=False)

    text = decoded(row.word_ids)
    spans = []
    for start, end in row.mentions:
        char_start, char_end = len(decoded(row.word_ids[:start])), len(decoded(row.word_ids[:end]))
        while char_start < char_end and text[char_start].isspace():
            char_start += 1
        spans.append((char_start, char_end))
    return text, spans


def verify_span_tokenization(
    exported, corpus_tokenizer, rows: Sequence[SpanRow], where: str, strict: bool = True
) -> dict[str, int]:
    """Check that ``exported`` (a LUKE tokenizer loaded from ``where``), given each row's text with its mentions
    as ``entity_spans`` (and their ``entities``), gives the row's word ids, mention positions and entity ids.
    ``strict``: raise :class:`TokenizerConversionError` naming the first row and position that differ; else
    count the rows that differ (``span_rows_differing``: a corpus of a format before the spans' one)."""
    differing = 0
    for row in rows:
        problem = _span_problem(exported, corpus_tokenizer, row, where)
        if problem is not None and strict:
            raise TokenizerConversionError(problem)
        differing += problem is not None
    mentions = sum(len(row.mentions) for row in rows)
    return {"span_rows": len(rows), "span_mentions": mentions, "span_rows_differing": differing}


def _span_problem(exported, corpus_tokenizer, row: SpanRow, where: str) -> str | None:
    """What differs (one line) between ``row`` and what ``exported`` makes of its text and mentions, or None."""
    text, spans = row_text_and_spans(corpus_tokenizer, row)
    encoding = exported(
        text, entity_spans=spans, entities=row.entities, add_special_tokens=False, max_entity_length=len(spans)
    )
    got = encoding["input_ids"]
    if got != row.word_ids:
        at = next((i for i, (a, b) in enumerate(zip(row.word_ids, got, strict=False)) if a != b), len(got))
        at = min(at, len(row.word_ids))
        return (
            f"the exported tokenizer in {where}, given {row.name}'s text with its mentions as entity_spans, gives "
            f"other word ids than the corpus from token {at} on: corpus "
            f"{corpus_tokenizer.convert_ids_to_tokens(row.word_ids[at : at + 6])}, exported "
            f"{exported.convert_ids_to_tokens(got[at : at + 6])}"
        )
    if len(encoding["entity_position_ids"]) != len(row.mentions):
        count = len(encoding["entity_position_ids"])
        return (
            f"the exported tokenizer in {where} gives {count} entities for {len(row.mentions)} mentions of {row.name}"
        )
    length = exported.max_mention_length
    for index, (start, end) in enumerate(row.mentions):
        positions = encoding["entity_position_ids"][index]
        if positions != (list(range(start, end)) + [-1] * length)[:length]:
            theirs = [position for position in positions if position >= 0] or [-1]
            return (
                f"the exported tokenizer in {where} places mention {index} of {row.name} (characters "
                f"{spans[index][0]}–{spans[index][1]}) at tokens {theirs[0]}–{theirs[-1]}, the corpus at "
                f"{start}–{end - 1}"
            )
    if row.entities is not None and encoding["entity_ids"] != [exported.entity_vocab[key] for key in row.entities]:
        return f"the exported tokenizer in {where} gives {row.name} other entity ids than its entities' keys"
    return None


def added_word_tokens(corpus_tokenizer, luke_tokenizer) -> dict[int, str]:
    """Ids the LUKE tokenizer has beyond the corpus tokenizer (``<ent>``, ``<ent2>``, …) → token."""
    return {
        index: luke_tokenizer.convert_ids_to_tokens(index)
        for index in range(len(corpus_tokenizer), len(luke_tokenizer))
    }
