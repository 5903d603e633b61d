"""The model of a stage: its config checked against the corpus, its initial weights, what is frozen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import LukeConfig

from preprocessing.corpus import Corpus
from pretraining.config import ConfigError, TrainConfig
from pretraining.data.tokenizer_info import TokenizerInfo
from pretraining.pretrained import (
    EntityRowMapping,
    EntitySource,
    PretrainedLuke,
    check_word_vocabulary,
    map_entities_by_title,
    mapped_state_dict,
    pretrained_model_config,
    run_entity_source,
    write_mapping_report,
)

SPECIAL_ID_FIELDS = ("pad_token_id", "bos_token_id", "eos_token_id")  # decided by the corpus tokenizer
TIED_TO_EMBEDDINGS = ("lm_head.decoder.weight", "entity_predictions.decoder.weight")  # saved once, as embeddings


def count_entity_vocab(corpus: Corpus) -> int:
    """Entries of the corpus's entity vocabulary (ids 0..n-1, [PAD]/[UNK]/[MASK] included)."""
    with corpus.entity_vocab_path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def resolve_model_config(config: TrainConfig, corpus: Corpus, tokenizer: TokenizerInfo) -> LukeConfig:
    """The ``LukeConfig`` named by ``model.config`` (or ``model.init_from``'s, for ``init: pretrained``),
    checked against the corpus, with the corpus tokenizer's special ids (``TokenizerInfo.model_config_ids``).

    The word vocabulary must hold every id the corpus tokenizer produces and the entity vocabulary must be
    the corpus's, unless ``model.vocab_sizes_from_corpus`` takes both sizes from the corpus; the corpus
    sequences must fit the position embeddings.
    """
    from luke.configs import load_model_config

    entity_vocab_size = count_entity_vocab(corpus)
    if config.model.init == "pretrained":
        model_config = pretrained_model_config(read_pretrained(config, corpus), tokenizer.vocab_size, entity_vocab_size)
        model_config.update(tokenizer.model_config_ids)
        _check_positions(model_config, corpus, config.model.init_from)
        return model_config
    overrides = dict(tokenizer.model_config_ids)
    if config.model.vocab_sizes_from_corpus:
        overrides |= {"vocab_size": tokenizer.vocab_size, "entity_vocab_size": entity_vocab_size}
    try:
        model_config = load_model_config(config.model.config, **overrides)
    except ValueError as error:
        raise ConfigError(f"model.config: {error}") from error
    if model_config.vocab_size < tokenizer.vocab_size:
        raise ConfigError(
            f"model.config {config.model.config}: vocab_size {model_config.vocab_size} is smaller than the "
            f"{tokenizer.vocab_size} tokens of the corpus tokenizer {corpus.tokenizer_path} "
            "(use the corpus's tokenizer size, or model.vocab_sizes_from_corpus=true)"
        )
    if model_config.entity_vocab_size != entity_vocab_size:
        raise ConfigError(
            f"model.config {config.model.config}: entity_vocab_size {model_config.entity_vocab_size} differs from "
            f"the {entity_vocab_size} entries of {corpus.entity_vocab_path} "
            "(set it to the corpus's size, or model.vocab_sizes_from_corpus=true)"
        )
    _check_positions(model_config, corpus, f"model.config {config.model.config}")
    return model_config


def _check_positions(model_config: LukeConfig, corpus: Corpus, where: str) -> None:
    """RoBERTa's position ids run from ``pad_token_id + 1`` to ``pad_token_id + max_seq_length``."""
    offset = model_config.pad_token_id + 1
    if model_config.max_position_embeddings - offset < corpus.max_seq_length:
        raise ConfigError(
            f"{where}: max_position_embeddings {model_config.max_position_embeddings} "
            f"cannot hold the corpus's max_seq_length {corpus.max_seq_length} (+{offset}: position ids start after "
            f"the corpus tokenizer's pad id {model_config.pad_token_id})"
        )


def keep_recorded_special_ids(model_config: LukeConfig, recorded: dict[str, Any]) -> str | None:
    """Resuming: the special ids the run's checkpoint was trained with (its recorded model config) replace the
    corpus tokenizer's in ``model_config``, so the padding row and the position ids stay the run's; returns a
    note when they differ (a run started before the ids came from the tokenizer)."""
    recorded_ids = {name: recorded.get(name) for name in SPECIAL_ID_FIELDS}
    current_ids = {name: getattr(model_config, name) for name in SPECIAL_ID_FIELDS}
    if recorded_ids == current_ids:
        return None
    model_config.update(recorded_ids)
    listing = ", ".join(f"{name} {recorded_ids[name]} (tokenizer: {current_ids[name]})" for name in SPECIAL_ID_FIELDS)
    return (
        f"resuming with the special ids this run was trained with: {listing}; a new run takes the tokenizer's, "
        "and `luke export` keeps the trained ones"
    )


def read_pretrained(config: TrainConfig, corpus: Corpus) -> PretrainedLuke:
    """``model.init_from`` as a Hugging Face LUKE directory whose tokenizer agrees with the corpus's."""
    from transformers import AutoTokenizer

    pretrained = PretrainedLuke.read(config.model.init_from)
    corpus_vocab = AutoTokenizer.from_pretrained(corpus.tokenizer_path).get_vocab()
    check_word_vocabulary(pretrained, corpus_vocab, corpus.tokenizer_path)
    return pretrained


def entity_source(config: TrainConfig, corpus: Corpus) -> EntitySource | None:
    """Where entity rows are mapped from by title: ``init: pretrained``'s directory, or ``init: checkpoint``'s run
    with ``model.entity_vocab_mapping: by_title``; None when the rows are taken as they are."""
    from pretraining.weights import locate_checkpoint

    if config.model.init == "pretrained":
        return read_pretrained(config, corpus).entity_source()
    if config.model.init == "checkpoint" and config.model.entity_vocab_mapping == "by_title":
        run_dir = locate_checkpoint(config.model.init_from).run_dir
        if run_dir is None:
            raise ConfigError(
                f"model.init_from {config.model.init_from}: not inside a run directory, whose "
                "run_info.json names the entity vocabulary to map from (by_title)"
            )
        return run_entity_source(run_dir)
    return None


def entity_mapping(source: EntitySource, corpus: Corpus) -> EntityRowMapping:
    """The corpus's entities mapped by title onto ``source``'s rows."""
    from preprocessing.entities.vocab import EntityVocab

    return map_entities_by_title(source.rows, EntityVocab.load(str(corpus.entity_vocab_path)))


def check_init_source(config: TrainConfig, corpus: Corpus) -> str | None:
    """Before anything is built: ``model.init_from`` must be a checkpoint whose run was trained with the corpus's
    vocabularies — its tokenizer only, with ``entity_vocab_mapping: by_title`` (:class:`ConfigError`
    otherwise); returns a warning when the run recorded no checksums."""
    from pretraining.vocabularies import VocabularyMismatchError, check_same_vocabularies
    from pretraining.weights import locate_checkpoint

    compared = ("tokenizer",) if config.model.entity_vocab_mapping == "by_title" else ("tokenizer", "entity_vocab")
    try:
        return check_same_vocabularies(locate_checkpoint(config.model.init_from).run_dir, corpus, compared)
    except VocabularyMismatchError as error:
        raise ConfigError(f"model.init_from: {error}") from error


def report_entity_mapping(config: TrainConfig, corpus: Corpus, run_dir: Path) -> str | None:
    """Write the entity mapping of this start, if any, to the run directory; return its summary line."""
    source = entity_source(config, corpus)
    if source is None:
        return None
    mapping = entity_mapping(source, corpus)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_mapping_report(run_dir, mapping, source, config.model.new_entity_init)
    return f"initialising from {source.name}: {mapping.summary()} (new: {config.model.new_entity_init})"


def build_model(config: TrainConfig, model_config: LukeConfig, corpus: Corpus) -> torch.nn.Module:
    """``LukeForPretraining`` initialised as ``model.init`` says, frozen for stage 1 when asked."""
    from luke.model import LukeForPretraining

    init = config.model.init
    if init == "roberta":
        model, report = LukeForPretraining.from_roberta(config.model.init_from, model_config)
        print(f"initialised from {config.model.init_from}: {report}", flush=True)
    else:
        model = LukeForPretraining(model_config)
        if init == "checkpoint":
            remap = remap_entities(entity_source(config, corpus), config, corpus, model)
            load_checkpoint_weights(model, config.model.init_from, remap)
        elif init == "pretrained":
            load_pretrained_weights(model, config, corpus)
    if config.model.train_only_entity_weights:
        model.freeze_all_but_entity_weights()
    if config.model.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    if config.model.compile:
        model.compile_layers()
    return model


def remap_entities(
    source: EntitySource | None, config: TrainConfig, corpus: Corpus, model: torch.nn.Module
) -> Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None:
    """What turns ``source``'s state dict into the model's, entity rows mapped by title; None (no source) when
    the rows are taken as they are."""
    if source is None:
        return None
    mapping = entity_mapping(source, corpus)
    rule, model_init, word_rows = config.model.new_entity_init, model.state_dict(), model.config.vocab_size
    return lambda state_dict: mapped_state_dict(state_dict, word_rows, mapping, source.mask_row, rule, model_init)


def load_pretrained_weights(model: torch.nn.Module, config: TrainConfig, corpus: Corpus) -> None:
    """Load ``model.init_from``'s weights (a Hugging Face LUKE directory), its entity rows mapped by title."""
    pretrained = read_pretrained(config, corpus)  # the directory read once for its rows and its weights
    remap = remap_entities(pretrained.entity_source(), config, corpus, model)
    state_dict = remap(pretrained.state_dict())
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    missing = [name for name in missing if not name.endswith(TIED_TO_EMBEDDINGS)]
    if missing or unexpected:
        raise ConfigError(
            f"model.init_from {pretrained.directory}: its weights do not fit its config.json "
            f"(missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]})"
        )


def load_checkpoint_weights(
    model: torch.nn.Module,
    path: str | Path,
    remap: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
) -> None:
    """Load the fp32 weights of a run's latest checkpoint (or of one checkpoint directory) into ``model``,
    through ``remap`` when given (entities mapped by title).

    The weights are consolidated from the ZeRO partitions (any stage, any number of ranks), so stage 2 can
    start from stage 1 on another ZeRO stage or world size; optimizer and schedule start fresh.
    """
    from pretraining.weights import consolidate, locate_checkpoint

    state_dict = consolidate(locate_checkpoint(path))
    if remap is not None:
        state_dict = remap(state_dict)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        raise ConfigError(
            f"model.init_from {path}: its weights do not fit model.config "
            f"(missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]})"
        )
