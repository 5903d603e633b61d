"""The corpus tokenizer for decoding, loaded from its ``tokenizer.json`` with ``tokenizers`` (instant), or
through transformers' ``AutoTokenizer`` for a directory without one; and its checksum as runs record it."""

from __future__ import annotations

import hashlib
from pathlib import Path

TOKENIZER_JSON = "tokenizer.json"


class CorpusTokenizer:
    """``decode(ids)`` without skipping special tokens or cleaning spaces, ``size``, ``token_id(token)``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        if (directory / TOKENIZER_JSON).is_file():
            from tokenizers import Tokenizer

            self._backend = Tokenizer.from_file(str(directory / TOKENIZER_JSON))
            self._auto = None
            self.size = self._backend.get_vocab_size(with_added_tokens=True)
        else:
            from transformers import AutoTokenizer

            self._backend = None
            self._auto = AutoTokenizer.from_pretrained(str(directory))
            self.size = len(self._auto)

    def decode(self, ids: list[int]) -> str:
        if self._backend is not None:
            return self._backend.decode(ids, skip_special_tokens=False)
        return self._auto.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def token_id(self, token: str) -> int | None:
        if self._backend is not None:
            return self._backend.token_to_id(token)
        return self._auto.convert_tokens_to_ids(token)


def tokenizer_checksum(directory: Path) -> str:
    """``sha256:<hex>`` over the files of a tokenizer directory (relative names and contents, sorted by name):
    the checksum ``luke train`` records in ``run_info.json`` (``pretraining.vocabularies.tokenizer_checksum``,
    which imports transformers; a test keeps the two equal)."""
    digest = hashlib.sha256()
    for path in sorted(path for path in directory.rglob("*") if path.is_file()):
        digest.update(str(path.relative_to(directory)).encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()
