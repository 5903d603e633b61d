"""The exported tokenizer laid out as the hub's LUKE repositories are, next to what transformers 5.x saves.

studio-ousia/luke-large holds ``vocab.json``, ``merges.txt``, ``entity_vocab.json``, ``tokenizer_config.json``
and ``special_tokens_map.json``: what transformers 4.x's ``LukeTokenizer`` reads (5.x reads the same files,
and ``tokenizer.json``, kept). The entity vocabulary lives in ``entity_vocab.json`` only, never inlined in
``tokenizer_config.json``, whose keys are those both versions accept.

A SentencePiece export gets ``entity_vocab.json`` and the same ``tokenizer_config.json`` keys, but no
``sentencepiece.bpe.model``: transformers 4.x's ``MLukeTokenizer`` hard-codes fairseq's ids (``<s>`` 0,
``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, pieces at SentencePiece's id + 1, ``<mask>`` last), which the
tokenizers ``build-corpus`` trains (``<unk>`` 0, ``<s>`` 1, ``</s>`` 2, ``<pad>`` 3, ``<mask>`` 4) do not
have, so it would load with other ids: such an export loads with transformers 5.x only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pretraining.export.tokenizer import LUKE_TOKENIZER

ENTITY_VOCAB_FILE = "entity_vocab.json"
SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "sep_token", "cls_token", "pad_token", "mask_token")
# tokenizer_config.json: the keys of the hub's LUKE repositories, which both versions read (5.x renamed two)
CONFIG_KEYS = (
    "tokenizer_class",
    *SPECIAL_TOKEN_KEYS,
    "add_prefix_space",
    "errors",
    "task",
    "max_entity_length",
    "max_mention_length",
    "entity_unk_token",
    "entity_pad_token",
    "entity_mask_token",
    "entity_mask2_token",
)
HUB_NAMES = {"entity_1_token": "entity_token_1", "entity_2_token": "entity_token_2"}  # 5.x name → hub's


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_hub_layout(directory: Path, kind: str, corpus_tokenizer, entity_vocab: dict[str, int]) -> None:
    """Rewrite the tokenizer files transformers 5.x saved in ``directory`` into the hub's layout (module doc).
    ``corpus_tokenizer`` gives the word vocabulary (every id it has, added tokens included) and merges."""
    saved = json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8"))
    config = {key: saved[key] for key in CONFIG_KEYS if key in saved}
    config |= {hub_name: saved[name].removeprefix("▁") for name, hub_name in HUB_NAMES.items()}  # 5.x's MLuke adds it
    _write_json(directory / "tokenizer_config.json", config)
    special = {key: config[key] for key in SPECIAL_TOKEN_KEYS if key in config}
    markers = [saved[name] for name in HUB_NAMES]  # as the tokenizer holds them (5.x's MLuke: ▁<ent>)
    _write_json(directory / "special_tokens_map.json", special | {"additional_special_tokens": markers})
    _write_json(directory / ENTITY_VOCAB_FILE, entity_vocab)
    if kind == LUKE_TOKENIZER:
        vocab = corpus_tokenizer.get_vocab()
        _write_json(directory / "vocab.json", dict(sorted(vocab.items(), key=lambda item: item[1])))
        merges = json.loads(corpus_tokenizer.backend_tokenizer.to_str())["model"]["merges"]
        lines = [merge if isinstance(merge, str) else " ".join(merge) for merge in merges]
        (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(lines) + "\n", encoding="utf-8")
