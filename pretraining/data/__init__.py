"""The data pipeline of pretraining: corpus rows → shuffled, rank-sharded, masked, padded batches.

The public names load lazily (PEP 562), so that importing one light module of the package — the training
config imports ``pretraining.data.masking`` — does not import torch, and ``luke --help`` stays instant.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "BATCH_FIELDS": "collator",
    "IGNORE_INDEX": "collator",
    "LukePretrainingCollator": "collator",
    "PretrainingDataset": "dataset",
    "SampleKey": "dataset",
    "PretrainingDataLoader": "loader",
    "build_dataloader": "loader",
    "ENTITY_MASK_ID": "masking",
    "ENTITY_PAD_ID": "masking",
    "ENTITY_UNK_ID": "masking",
    "MaskingConfig": "masking",
    "DistributedEpochSampler": "sampler",
    "DistributedEvalSampler": "sampler",
    "TokenizerInfo": "tokenizer_info",
    "TokenizerInfoError": "tokenizer_info",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)


def __dir__() -> list[str]:
    return __all__
