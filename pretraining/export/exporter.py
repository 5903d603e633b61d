"""A training checkpoint → a Hugging Face model directory, written atomically and verified.

The directory holds ``config.json`` (``LukeConfig``, ``architectures: [LukeForMaskedLM]``),
``model.safetensors``, the tokenizer (``LukeTokenizer`` / ``MLukeTokenizer``, laid out as the hub's LUKE
repositories: :mod:`pretraining.export.hub_files`, the entity vocabulary in ``entity_vocab.json``) and
``README.md`` (the model card). It is assembled in a sibling staging directory and renamed into place
only when everything, verification included, succeeded: an interrupted or failed export leaves nothing
that looks like a model.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import LukeConfig

from luke.versions import package_versions
from preprocessing.corpus import Corpus
from preprocessing.corpus.directory import SPANS_FORMAT_VERSION
from preprocessing.entities.vocab import EntityVocab
from pretraining.data.tokenizer_info import TokenizerInfo
from pretraining.export import DEFAULT_TOLERANCE, LUKE_DROPOUT
from pretraining.export.hub_files import write_hub_layout
from pretraining.export.markers import MarkerInitError, MarkerSource, marker_sources
from pretraining.export.model_card import ModelCardFacts, render_model_card
from pretraining.export.tokenizer import (
    ENTITY_SPECIAL_TOKENS,
    MLUKE_TOKENIZER,
    EntityVocabMapping,
    SpanRow,
    added_word_tokens,
    build_luke_tokenizer,
    entity_vocab_mapping,
    tokenizer_kind,
    verify_luke_tokenizer,
)
from pretraining.export.verification import VerificationReport, verify_export
from pretraining.export.weights import adapt_state_dict, word_row_sources
from pretraining.weights import CheckpointRef, consolidate

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
RUN_MODEL_CONFIG = "model_config.json"
RUN_TRAINING_CONFIG = "config.json"
RUN_INFO = "run_info.json"
RUN_METRICS = "metrics.jsonl"
VERIFY_SEQUENCES = 4
VERIFY_TEXTS = 256
VERIFY_SPAN_ROWS = 256


class ExportError(ValueError):
    """Export cannot proceed (the message names the file or option)."""


@dataclass(frozen=True)
class ExportOptions:
    """The official converter's options, plus verification."""

    entity_aware_attention: bool = True
    lite: bool = False
    dtype: str = "float32"
    verify: bool = True
    tolerance: float = DEFAULT_TOLERANCE
    hidden_dropout_prob: float = LUKE_DROPOUT
    attention_probs_dropout_prob: float = LUKE_DROPOUT


@dataclass(frozen=True)
class ExportResult:
    output: Path
    tokenizer_class: str
    config: LukeConfig
    tokenizer_check: dict[str, Any] | None
    verification: VerificationReport | None
    markers: list[MarkerSource]
    notes: list[str]


@dataclass(frozen=True)
class RunFiles:
    """What a run directory tells about the model it trained (absent parts are None)."""

    model_config: LukeConfig | None
    corpus_path: Path | None
    training_config: dict[str, Any] | None
    final_metrics: dict[str, Any] | None
    versions: dict[str, str] | None = None  # of the libraries the run trained with (run_info.json)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ExportError(f"cannot read {path}: {error}") from error


def final_metrics(metrics_file: Path) -> dict[str, Any] | None:
    """The last record of each split in a run's ``metrics.jsonl``, as ``{"split/name": value}``."""
    if not metrics_file.is_file():
        return None
    last: dict[str, dict[str, Any]] = {}
    for line in metrics_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            last[record.get("split", "train")] = record
    return {
        f"{split}/{name}": value
        for split, record in sorted(last.items())
        for name, value in record.items()
        if name not in ("split", "time")
    }


def read_run_files(run_dir: Path | None) -> RunFiles:
    if run_dir is None:
        return RunFiles(None, None, None, None)
    model_config = run_dir / RUN_MODEL_CONFIG
    run_info = _read_json(run_dir / RUN_INFO) if (run_dir / RUN_INFO).is_file() else {}
    training_config = run_dir / RUN_TRAINING_CONFIG
    return RunFiles(
        LukeConfig.from_json_file(str(model_config)) if model_config.is_file() else None,
        Path(run_info["corpus"]) if "corpus" in run_info else None,
        _read_json(training_config) if training_config.is_file() else None,
        final_metrics(run_dir / RUN_METRICS),
        run_info.get("versions"),
    )


def _check_shapes(state_dict: Mapping[str, torch.Tensor], config: LukeConfig, vocab: EntityVocab, tokenizer) -> None:
    words = state_dict["luke.embeddings.word_embeddings.weight"].shape[0]
    entities = state_dict["luke.entity_embeddings.entity_embeddings.weight"].shape[0]
    if words != config.vocab_size or entities != config.entity_vocab_size:
        raise ExportError(
            f"the checkpoint has {words} word and {entities} entity embeddings, the model config says "
            f"{config.vocab_size} and {config.entity_vocab_size}: the checkpoint is of another model"
        )
    if words < len(tokenizer) or entities != len(vocab):
        raise ExportError(
            f"the checkpoint's vocabularies ({words} words, {entities} entities) do not fit the corpus "
            f"({len(tokenizer)} tokens, {len(vocab)} entities): pass the corpus it was trained on (--corpus)"
        )


def verification_texts(corpus: Corpus, tokenizer, count: int = VERIFY_TEXTS) -> list[str]:
    """Up to ``count`` sequences of the validation split (else train), evenly spread, as text: the corpus's
    own text as its tokenizer spells it, unknown pieces left out (``<unk>`` is no text) and whitespace runs
    collapsed (the corpus's sentences have none)."""
    split = corpus.split("validation" if "validation" in corpus.split_names else "train")
    rows = range(0, len(split), max(1, len(split) // count))
    texts = (tokenizer.decode(split[i]["word_ids"], skip_special_tokens=True) for i in rows)
    return [" ".join(text.split()) for text in texts][:count]


def span_rows(
    corpus: Corpus, tokenizer, mapping: EntityVocabMapping, count: int = VERIFY_SPAN_ROWS
) -> tuple[list[SpanRow], int]:
    """Up to ``count`` rows with mentions of the validation split (else train), evenly spread, with their
    entities' exported keys, to check span tokenization on; and how many rows were left out because they hold
    the unknown token (``<unk>`` is no text: their text cannot give their ids back)."""
    name = "validation" if "validation" in corpus.split_names else "train"
    split = corpus.split(name)
    exported_id = {source: index for index, source in reversed(list(enumerate(mapping.source_ids)))}
    key_of: dict[int, str] = {}
    for key, index in mapping.keys.items():
        key_of.setdefault(index, key)
    rows, unknown = [], 0
    for index in range(0, len(split), max(1, len(split) // count)):
        row = split[index]
        word_ids = row["word_ids"].tolist()
        if not len(row["entity_ids"]):
            continue
        if tokenizer.unk_token_id in word_ids:
            unknown += 1
            continue
        keys = [key_of.get(exported_id.get(int(entity_id), -1)) for entity_id in row["entity_ids"]]
        mentions = [(int(start), int(end)) for start, end in zip(row["entity_starts"], row["entity_ends"], strict=True)]
        name_of_row = f"{name} row {index} (page {row['page_id']})"
        rows.append(SpanRow(name_of_row, word_ids, mentions, None if None in keys else keys))
    return rows[:count], unknown


def validation_batch(corpus: Corpus, tokenizer, entity_vocab_size: int) -> dict[str, torch.Tensor]:
    """A masked batch of the first validation sequences (else train), as the trainer's collator makes it."""
    from pretraining.data import LukePretrainingCollator, PretrainingDataset, TokenizerInfo

    name = "validation" if "validation" in corpus.split_names else "train"
    dataset = PretrainingDataset(corpus, name)
    collator = LukePretrainingCollator(
        TokenizerInfo.from_tokenizer(tokenizer, str(corpus.tokenizer_path)),
        entity_vocab_size,
        corpus.max_seq_length,
        corpus.max_entity_length,
        corpus.max_mention_length,
    )
    count = min(VERIFY_SEQUENCES, len(dataset))
    return collator([dataset[index] for index in range(count)])


def export_word_sources(vocab_size: int, corpus_tokenizer, luke_tokenizer) -> tuple[list[int], list[MarkerSource]]:
    """Source row of every exported word row (see :func:`word_row_sources`) and where each entity marker the
    LUKE tokenizer adds starts from (:func:`marker_sources`); markers the corpus tokenizer holds keep their rows."""
    added = added_word_tokens(corpus_tokenizer, luke_tokenizer)
    special_ids = set(corpus_tokenizer.all_special_ids)
    try:
        markers = marker_sources(
            corpus_tokenizer.get_vocab(), [token.lstrip("▁") for token in added.values()], special_ids
        )
    except MarkerInitError as error:
        raise ExportError(f"the tokenizer in {corpus_tokenizer.name_or_path}: {error}") from error
    rows = {index: source.row for index, source in zip(added, markers, strict=True)}
    return word_row_sources(vocab_size, rows), markers


def _exported_config(
    config: LukeConfig, vocab_size: int, mapping: EntityVocabMapping, options: ExportOptions
) -> LukeConfig:
    exported = LukeConfig.from_dict(config.to_dict())
    exported.vocab_size = vocab_size
    exported.entity_vocab_size = mapping.size
    exported.use_entity_aware_attention = options.entity_aware_attention
    exported.hidden_dropout_prob = options.hidden_dropout_prob
    exported.attention_probs_dropout_prob = options.attention_probs_dropout_prob
    exported.architectures = ["LukeForMaskedLM"]
    return exported  # the special ids stay the trained model's: pad_token_id decides its position ids


def special_id_notes(config: LukeConfig, tokenizer: TokenizerInfo) -> list[str]:
    """A note for each special id the model was trained with that is not the tokenizer's (a run started before
    the ids came from the tokenizer): the export keeps the trained ids, which its position ids depend on."""
    return [
        f"{name} {getattr(config, name)} is the trained model's, kept (the tokenizer's is {tokenizer_id})"
        for name, tokenizer_id in tokenizer.model_config_ids.items()
        if getattr(config, name) != tokenizer_id
    ]


def span_notes(tokenizer_check: Mapping[str, Any]) -> list[str]:
    """A note when the exported tokenizer, given rows' text and mentions as ``entity_spans``, gives other ids than
    the rows of a corpus made before linked sentences were cut at their links (which the export does not refuse:
    the weights are sound; fine-tuning inputs are tokenized differently from what the model saw)."""
    differing = tokenizer_check.get("span_rows_differing", 0)
    if not differing:
        return []
    return [
        f"the corpus (format_version {tokenizer_check['format_version']}) tokenized each linked sentence whole: given "
        f"their text with mentions as entity_spans, the exported tokenizer gives {differing} of "
        f"{tokenizer_check['span_rows']} checked rows other ids than pretraining saw; a corpus built now cuts them "
        "as the tokenizer does"
    ]


def our_model(config: LukeConfig, state_dict: Mapping[str, torch.Tensor], dtype: torch.dtype):
    """Our pretraining model on the checkpoint weights, rounded through the export dtype, in fp32."""
    from luke.model import LukeForPretraining

    model = LukeForPretraining(config)
    model.load_state_dict({name: tensor.to(dtype).float() for name, tensor in state_dict.items()})
    return model.eval()


def export_checkpoint(
    checkpoint: CheckpointRef,
    output: Path,
    corpus: Corpus,
    model_config: LukeConfig,
    options: ExportOptions,
    run: RunFiles | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export ``checkpoint`` (trained on ``corpus`` with ``model_config``) to ``output``; see the module doc."""
    from transformers import AutoTokenizer, LukeForMaskedLM

    if options.dtype not in DTYPES:
        raise ExportError(f"--dtype must be one of {sorted(DTYPES)}, got {options.dtype!r}")
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise ExportError(f"{output} exists and is not empty; pass --overwrite to replace it")
    corpus_tokenizer = AutoTokenizer.from_pretrained(str(corpus.tokenizer_path), local_files_only=True)
    vocab = EntityVocab.load(str(corpus.entity_vocab_path))
    kind = tokenizer_kind(json.loads(corpus_tokenizer.backend_tokenizer.to_str()), str(corpus.tokenizer_path))
    mapping = entity_vocab_mapping(vocab, multilingual=kind == MLUKE_TOKENIZER, lite=options.lite)
    state_dict = consolidate(checkpoint)
    _check_shapes(state_dict, model_config, vocab, corpus_tokenizer)

    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
    staging.chmod(0o755)
    try:
        luke_tokenizer = build_luke_tokenizer(
            corpus_tokenizer, mapping, corpus.max_mention_length, str(corpus.tokenizer_path)
        )
        luke_tokenizer.save_pretrained(str(staging))
        write_hub_layout(staging, kind, corpus_tokenizer, mapping.keys)
        rows, rows_with_unknown = span_rows(corpus, corpus_tokenizer, mapping)
        texts = verification_texts(corpus, corpus_tokenizer)
        strict = corpus.metadata.get("format_version", 1) >= SPANS_FORMAT_VERSION
        tokenizer_check = verify_luke_tokenizer(staging, corpus_tokenizer, luke_tokenizer, mapping, texts, rows, strict)
        tokenizer_check |= {
            "span_rows_with_unknown": rows_with_unknown,
            "format_version": corpus.metadata.get("format_version"),
        }
        word_sources, markers = export_word_sources(model_config.vocab_size, corpus_tokenizer, luke_tokenizer)
        config = _exported_config(model_config, len(word_sources), mapping, options)
        adapted = adapt_state_dict(
            state_dict, config.num_hidden_layers, word_sources, mapping, options.entity_aware_attention
        )
        model = LukeForMaskedLM(config)
        try:
            model.load_state_dict(adapted, strict=True)
        except RuntimeError as error:
            raise ExportError(f"checkpoint {checkpoint.path} does not fit LukeForMaskedLM: {error}") from error
        model.to(DTYPES[options.dtype]).save_pretrained(str(staging))

        verification = None
        if options.verify:
            batch = validation_batch(corpus, corpus_tokenizer, len(vocab))
            ours = our_model(model_config, state_dict, DTYPES[options.dtype])
            verification = verify_export(staging, ours, batch, word_sources, mapping, options.tolerance)
        run = run or RunFiles(None, None, None, None)
        facts = ModelCardFacts(
            config=config,
            tokenizer_class=kind,
            num_parameters=sum(parameter.numel() for parameter in model.parameters()),
            dtype=options.dtype,
            lite=options.lite,
            checkpoint=str(checkpoint.path),
            languages=sorted({language for entry in vocab.entries for _, language in entry.entities if language}),
            corpus_metadata=corpus.metadata,
            training_config=run.training_config,
            final_metrics=run.final_metrics,
            tokenizer_check=tokenizer_check,
            verification=verification,
            markers=[source.describe() for source in markers],
            trained_dropout=(model_config.hidden_dropout_prob, model_config.attention_probs_dropout_prob),
            entity_key_example=next((key for key in mapping.keys if key not in ENTITY_SPECIAL_TOKENS), ""),
            versions={
                "corpus": corpus.metadata.get("versions") or {},
                "training": run.versions or {},
                "export": package_versions(),
            },
        )
        (staging / "README.md").write_text(render_model_card(facts), encoding="utf-8")
        for path in staging.iterdir():
            path.chmod(0o644)
        if output.exists():
            shutil.rmtree(output)
        staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    notes = special_id_notes(model_config, TokenizerInfo.from_tokenizer(corpus_tokenizer, str(corpus.tokenizer_path)))
    notes += span_notes(tokenizer_check)
    return ExportResult(output, kind, config, tokenizer_check, verification, markers, notes)
