"""What the masking collator needs to know about a tokenizer, derived once from its directory."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# A token that decodes to one lower-case letter and is not itself a word start in any of the usual schemes
# (byte-level BPE "Ġ", SentencePiece "▁", WordPiece "##"): prefixing every token with it shows whether the
# decoder puts a space before that token.
_ANCHOR_CANDIDATES = ("a", "e", "o", "i", "s", "t", "n")


class TokenizerInfoError(ValueError):
    """A tokenizer directory the collator cannot use."""


def _is_punctuation(char: str) -> bool:
    """ASCII symbols and Unicode punctuation, as in BERT's and LUKE's whole-word masking."""
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def word_start_table(tokenizer) -> np.ndarray:
    """A boolean per token id: does a token with this id begin a new word?

    The decoder of the tokenizer decides, so byte-level BPE (``Ġ``), SentencePiece (``▁``) and WordPiece
    (``##``) are handled alike: every id is decoded after an anchor letter, and the id starts a word when the
    decoded text puts whitespace before it or begins with punctuation (punctuation is a word of its own, as in
    LUKE's whole-word masking). Special tokens count as word starts.
    """
    backend = tokenizer.backend_tokenizer
    vocab = backend.get_vocab(with_added_tokens=True)
    anchor = next((vocab[token] for token in _ANCHOR_CANDIDATES if token in vocab), None)
    if anchor is None:
        raise TokenizerInfoError(
            f"cannot derive word starts: the vocabulary of {tokenizer.name_or_path} has none of the single-letter "
            f"tokens {_ANCHOR_CANDIDATES}; disable whole-word masking"
        )
    size = len(tokenizer)
    anchor_text = backend.decode([anchor], skip_special_tokens=False)
    texts = backend.decode_batch([[anchor, index] for index in range(size)], skip_special_tokens=False)
    table = np.zeros(size, dtype=bool)
    for index, text in enumerate(texts):
        rest = text[len(anchor_text) :] if text.startswith(anchor_text) else text
        table[index] = not rest or rest[0].isspace() or _is_punctuation(rest[0])
    table[tokenizer.all_special_ids] = True
    return table


@dataclass(frozen=True, eq=False)
class TokenizerInfo:
    """Special-token ids, vocabulary size and per-id tables of a word tokenizer.

    ``word_start[i]``: id ``i`` begins a word (whole-word masking); ``special[i]``: id ``i`` is a special or
    added token (never masked, never drawn as a random replacement); ``random_word_ids``: the ids a masked
    word may be replaced with (every id that is not special).
    """

    path: str
    pad_id: int
    mask_id: int
    cls_id: int
    sep_id: int
    vocab_size: int
    word_start: np.ndarray
    special: np.ndarray

    @property
    def random_word_ids(self) -> np.ndarray:
        return np.flatnonzero(~self.special)

    @property
    def model_config_ids(self) -> dict[str, int]:
        """The ``LukeConfig`` fields this tokenizer decides: ``pad_token_id`` (the embedding's padding row and
        the position-id offset), ``bos_token_id`` and ``eos_token_id`` (the ids the collator frames rows with)."""
        return {"pad_token_id": self.pad_id, "bos_token_id": self.cls_id, "eos_token_id": self.sep_id}

    @classmethod
    def from_pretrained(cls, path: str | Path) -> TokenizerInfo:
        """Load the tokenizer in directory ``path`` (``AutoTokenizer``) and derive the tables."""
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path))
        except (OSError, ValueError) as error:
            raise TokenizerInfoError(f"cannot load the tokenizer in {path}: {error}") from error
        return cls.from_tokenizer(tokenizer, str(path))

    @classmethod
    def from_tokenizer(cls, tokenizer, path: str = "") -> TokenizerInfo:
        """Derive the tables from a loaded (fast) Hugging Face tokenizer."""
        if not getattr(tokenizer, "is_fast", False):
            raise TokenizerInfoError(f"the tokenizer in {path} is not a fast (tokenizers-backed) tokenizer")
        ids = {
            "pad_id": tokenizer.pad_token_id,
            "mask_id": tokenizer.mask_token_id,
            "cls_id": tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id,
            "sep_id": tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id,
        }
        missing = [name for name, value in ids.items() if value is None]
        if missing:
            raise TokenizerInfoError(f"the tokenizer in {path} defines no {', '.join(missing)} token")
        size = len(tokenizer)
        special = np.zeros(size, dtype=bool)
        special[tokenizer.all_special_ids] = True
        special[[index for index in tokenizer.added_tokens_decoder if index < size]] = True
        return cls(
            path=path,
            vocab_size=size,
            word_start=word_start_table(tokenizer),
            special=special,
            **ids,
        )
