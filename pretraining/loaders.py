"""The training and validation loaders of a run, from the data pipeline of ``pretraining.data``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from transformers import LukeConfig

from preprocessing.corpus import Corpus
from pretraining.config import ConfigError, TrainConfig
from pretraining.data.masking import MaskingConfig
from pretraining.distributed import ProcessPlacement


def build_loaders(
    config: TrainConfig, corpus: Corpus, tokenizer_info: Any, model_config: LukeConfig, placement: ProcessPlacement
) -> tuple[Any, Any | None]:
    """(train loader, validation loader or None): rank-sharded, masked on the fly from ``config.seed``."""
    from pretraining.data import (
        DistributedEpochSampler,
        DistributedEvalSampler,
        LukePretrainingCollator,
        PretrainingDataset,
        build_dataloader,
    )

    def collator(masking: MaskingConfig) -> LukePretrainingCollator:
        return LukePretrainingCollator(
            tokenizer_info,
            entity_vocab_size=model_config.entity_vocab_size,
            max_seq_length=corpus.max_seq_length,
            max_entity_length=corpus.max_entity_length,
            max_mention_length=corpus.max_mention_length,
            masking=masking,
            seed=config.seed,
        )

    train = PretrainingDataset(corpus, "train")
    if len(train) < placement.world_size:
        raise ConfigError(
            f"data.corpus: the train split has {len(train)} rows, fewer than the {placement.world_size} ranks"
        )
    sampler = DistributedEpochSampler(len(train), placement.rank, placement.world_size, seed=config.seed)
    train_loader = build_dataloader(
        train,
        sampler,
        collator(config.data.masking),
        config.batch.micro_batch_size,
        num_workers=config.data.num_workers,
    )
    validation_loader = None
    if config.eval.every_steps and "validation" in corpus.split_names:
        validation = PretrainingDataset(corpus, "validation")
        if len(validation) >= placement.world_size:
            eval_sampler = DistributedEvalSampler(len(validation), placement.rank, placement.world_size)
            validation_loader = build_dataloader(
                validation,
                eval_sampler,
                collator(validation_masking(config.data.masking)),
                config.batch.micro_batch_size,
                num_workers=min(config.data.num_workers, 1),
                persistent_workers=False,
            )
    return train_loader, validation_loader


def validation_masking(masking: MaskingConfig) -> MaskingConfig:
    """Validation's masking: words and entities chosen as in training, each of them masked (no random or
    unchanged share), so the model cannot lower its loss by copying the input: the loss the references of
    ``pretraining.references`` are measured on, like with like. LUKE's 80/10/10 stays in training."""
    return replace(
        masking, random_word_prob=0.0, unmasked_word_prob=0.0, random_entity_prob=0.0, unmasked_entity_prob=0.0
    )
