"""The data pipeline of pretraining: corpus rows → shuffled, rank-sharded, masked, padded batches."""

from pretraining.data.collator import BATCH_FIELDS, IGNORE_INDEX, LukePretrainingCollator
from pretraining.data.dataset import PretrainingDataset, SampleKey
from pretraining.data.loader import PretrainingDataLoader, build_dataloader
from pretraining.data.masking import ENTITY_MASK_ID, ENTITY_PAD_ID, ENTITY_UNK_ID, MaskingConfig
from pretraining.data.sampler import DistributedEpochSampler, DistributedEvalSampler
from pretraining.data.tokenizer_info import TokenizerInfo, TokenizerInfoError

__all__ = [
    "BATCH_FIELDS",
    "ENTITY_MASK_ID",
    "ENTITY_PAD_ID",
    "ENTITY_UNK_ID",
    "IGNORE_INDEX",
    "DistributedEpochSampler",
    "DistributedEvalSampler",
    "LukePretrainingCollator",
    "MaskingConfig",
    "PretrainingDataLoader",
    "PretrainingDataset",
    "SampleKey",
    "TokenizerInfo",
    "TokenizerInfoError",
    "build_dataloader",
]
