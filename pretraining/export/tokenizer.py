"""The corpus tokenizer as a transformers LUKE tokenizer that carries the entity vocabulary.

A corpus ``tokenizer/`` directory holds a fast tokenizer whose ``tokenizer.json`` model is either a
byte-level BPE (``roberta-large``'s family: exported as ``LukeTokenizer``) or a SentencePiece unigram model
(``xlm-roberta-large``'s family and the tokenizers ``build-corpus`` trains: exported as ``MLukeTokenizer``).

In transformers 5.x both LUKE tokenizers must be built from the vocabulary itself (``vocab=``, ``merges=``)
— given file paths they silently build an empty vocabulary — and a LUKE tokenizer loaded back from disk
rebuilds its normalizer and pre-tokenizer from its own code, not from ``tokenizer.json``. So construction
proves nothing: :func:`verify_luke_tokenizer` reloads the saved directory and checks, on real text, that its
word ids are the corpus tokenizer's and that every entity title maps to its id in ``entity_vocab.jsonl``.

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
    directory: Path, corpus_tokenizer, built, mapping: EntityVocabMapping, texts: Sequence[str]
) -> dict[str, Any]:
    """Reload ``directory`` with ``AutoTokenizer`` (offline) and check it against the corpus tokenizer and the
    LUKE tokenizer ``built`` before saving: the word vocabulary ``built`` has (``<ent>``/``<ent2>`` at their
    ids), equal word ids on every text (no special tokens), equal special-token ids, and the id of every entity
    key. Returns a summary; raises :class:`TokenizerConversionError` naming the first disagreement."""
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
    }


def added_word_tokens(corpus_tokenizer, luke_tokenizer) -> dict[int, str]:
    """Ids the LUKE tokenizer has beyond the corpus tokenizer (``<ent>``, ``<ent2>``, …) → token."""
    return {
        index: luke_tokenizer.convert_ids_to_tokens(index)
        for index in range(len(corpus_tokenizer), len(luke_tokenizer))
    }
