"""The model card (``README.md``) of an exported model: what it is, how it was trained, on what, how well."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath, PureWindowsPath
from typing import Any

from transformers import LukeConfig

from pretraining.export.verification import VerificationReport


@dataclass(frozen=True)
class ModelCardFacts:
    """Everything the card reports; optional parts are left out of the card when absent."""

    config: LukeConfig
    tokenizer_class: str
    num_parameters: int
    dtype: str
    lite: bool
    checkpoint: str
    languages: list[str]
    corpus_metadata: Mapping[str, Any]
    training_config: Mapping[str, Any] | None = None
    final_metrics: Mapping[str, Any] | None = None
    tokenizer_check: Mapping[str, Any] | None = None
    verification: VerificationReport | None = None
    markers: list[str] = field(default_factory=list)  # where each added entity marker's word row starts from
    trained_dropout: tuple[float, float] | None = None  # (hidden, attention) the run trained with
    entity_key_example: str = ""  # one key of the tokenizer's entity vocabulary
    extra: dict[str, str] = field(default_factory=dict)
    versions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # step (corpus, ...) → package → version


def without_local_paths(value: Any) -> Any:
    """``value`` with every absolute path replaced by its last component (a config or run name): a card is
    published, the machine it was made on is nobody's business."""
    if isinstance(value, Mapping):
        return {key: without_local_paths(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_local_paths(item) for item in value]
    if isinstance(value, str) and (value.startswith(("/", "~")) or PureWindowsPath(value).drive):
        return PurePath(value).name
    return value


def _table(rows: list[tuple[str, Any]], header: tuple[str, str] = ("", "")) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    return "\n".join(lines)


def _split_counts(metadata: Mapping[str, Any]) -> str:
    splits = metadata.get("splits", {})
    columns = sorted({key for split in splits.values() for key, value in split.items() if isinstance(value, int)})
    if not columns:
        return "(no per-split counts in the corpus metadata)"
    lines = ["| split | " + " | ".join(columns) + " |", "| --- |" + " --- |" * len(columns)]
    for name, split in splits.items():
        lines.append(f"| {name} | " + " | ".join(f"{split.get(column, '')}" for column in columns) + " |")
    return "\n".join(lines)


def _versions_table(versions: Mapping[str, Mapping[str, str]]) -> str:
    """Package × step (corpus, training, export): the versions each step of this model ran with."""
    steps = [step for step, known in versions.items() if known]
    packages = list(dict.fromkeys(package for step in steps for package in versions[step]))
    lines = ["| package | " + " | ".join(steps) + " |", "| --- |" + " --- |" * len(steps)]
    lines += [
        f"| {package} | " + " | ".join(versions[step].get(package, "—") for step in steps) + " |"
        for package in packages
    ]
    return "\n".join(lines)


def _dropout(config: LukeConfig, trained: tuple[float, float] | None) -> str:
    """The dropout fine-tuning starts with (``config.json``), and the pretraining run's when it differs."""
    exported = (config.hidden_dropout_prob, config.attention_probs_dropout_prob)
    text = f"{exported[0]:g} / {exported[1]:g} in config.json, used when fine-tuning"
    if trained is not None and tuple(trained) != exported:
        text += f" (pretrained with {trained[0]:g} / {trained[1]:g})"
    return text


FINE_TUNING_PATH = "path/to/this/model"
FINE_TUNING_SNIPPET = f"""import torch
from transformers import AutoTokenizer, LukeForEntityClassification

tokenizer = AutoTokenizer.from_pretrained("{FINE_TUNING_PATH}", task="entity_classification")
model = LukeForEntityClassification.from_pretrained("{FINE_TUNING_PATH}", num_labels=2)
texts = ["Paris is the capital of France.", "Marie Curie was born in Warsaw."]
spans = [[(0, 5)], [(0, 11)]]  # one entity span (character offsets) per text
labels = torch.tensor([0, 1])
batch = tokenizer(texts, entity_spans=spans, padding=True, return_tensors="pt")
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
model.train()
for step in range(3):
    loss = model(**batch, labels=labels).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
"""


def _loading(facts: ModelCardFacts) -> str:
    """Which transformers versions load the directory, and how entities are named."""
    if facts.tokenizer_class == "MLukeTokenizer":
        versions = (
            "transformers 5.x only: 4.x's `MLukeTokenizer` assumes fairseq's word ids (`<s>` 0, `<pad>` 1, "
            "`</s>` 2, `<unk>` 3), which this SentencePiece vocabulary does not have."
        )
        keys = "`language:title`, as mLUKE's"
    else:
        versions = (
            "transformers 4.x and 5.x: `vocab.json`, `merges.txt`, `entity_vocab.json` as in studio-ousia/luke-large "
            "(`tokenizer.json` too, for 5.x)."
        )
        keys = "the Wikipedia title, as LUKE's"
    example = f" (e.g. `{facts.entity_key_example}`)" if facts.entity_key_example else ""
    return (
        "## Usage\n\n"
        f"Loads with {versions} The entities passed to the tokenizer (`entities=[...]`) are keys of "
        f"`entity_vocab.json`: {keys}{example}; an unknown key silently becomes `[UNK]`.\n\n"
        "```python\nfrom transformers import AutoModelForMaskedLM, AutoTokenizer\n\n"
        "tokenizer = AutoTokenizer.from_pretrained(PATH)\nmodel = AutoModelForMaskedLM.from_pretrained(PATH)\n"
        'inputs = tokenizer("Paris is the capital of France.", entity_spans=[(0, 5)], return_tensors="pt")\n'
        "outputs = model(**inputs)  # outputs.logits (words), outputs.entity_logits (entities)\n```"
    )


def _span_check(check: Mapping[str, Any]) -> str:
    """What the tokenizer gives for corpus rows' text with their mentions as ``entity_spans``."""
    rows, mentions, differing = (
        check.get("span_rows", 0),
        check.get("span_mentions", 0),
        check.get("span_rows_differing", 0),
    )
    if differing:
        return (
            f"given a corpus row's text with its mentions as `entity_spans`, it gives other word ids than the row on "
            f"{differing} of {rows} validation rows (the corpus tokenized each linked sentence whole; fine-tuning "
            "inputs around mentions differ from what the model saw there)"
        )
    return (
        f"given a corpus row's text with its mentions as `entity_spans`, it gives the row's word ids and mention "
        f"positions ({rows} rows, {mentions} mentions): pretraining text was tokenized before, inside and after "
        "each link apart, as the LUKE tokenizers tokenize text with spans"
    )


def render_model_card(facts: ModelCardFacts) -> str:
    """Markdown with Hugging Face front matter."""
    config = facts.config
    front = ["---", "library_name: transformers", "pipeline_tag: fill-mask", "tags: [luke, entity-aware, fill-mask]"]
    if facts.languages:
        front.append("language: [" + ", ".join(facts.languages) + "]")
    front.append("---")
    model_rows = [
        ("architecture", "LukeForMaskedLM (words + entities, masked word and masked entity prediction heads)"),
        (
            "layers / hidden / heads / FFN",
            f"{config.num_hidden_layers} / {config.hidden_size} / "
            f"{config.num_attention_heads} / {config.intermediate_size}",
        ),
        ("word vocabulary", f"{config.vocab_size} ({facts.tokenizer_class})"),
        ("entity vocabulary", f"{config.entity_vocab_size}" + (" (lite: special entities only)" if facts.lite else "")),
        ("entity embedding size", config.entity_emb_size),
        ("entity-aware attention", "on" if config.use_entity_aware_attention else "off"),
        ("dropout (hidden / attention)", _dropout(config, facts.trained_dropout)),
        ("entity markers", "; ".join(facts.markers) or "—"),
        ("parameters", f"{facts.num_parameters:,}"),
        ("weights dtype", facts.dtype),
        ("exported from", f"checkpoint `{PurePath(facts.checkpoint).name}`"),
    ]
    sections = [
        "\n".join(front),
        "# LUKE model pretrained with luke-pipeline",
        "An entity-aware language model in the style of LUKE (Yamada et al., EMNLP 2020): it reads words and "
        "Wikipedia entities as tokens. Load it with `AutoModel`, `AutoModelForMaskedLM`, or a LUKE task class "
        "such as `LukeForEntityClassification`, and `AutoTokenizer`.",
        "## Model\n\n" + _table(model_rows, ("", "")),
        "## Corpus\n\n"
        + _table(
            [
                (key, facts.corpus_metadata[key])
                for key in ("max_seq_length", "max_entity_length", "max_mention_length")
                if key in facts.corpus_metadata
            ]
            + [
                (
                    "input files",
                    ", ".join(f"`{PurePath(name).name}`" for name in facts.corpus_metadata.get("input_files", []))
                    or "—",
                )
            ]
            + [("entity vocabulary checksum", facts.corpus_metadata.get("entity_vocab", {}).get("checksum", "—"))]
        )
        + "\n\n"
        + _split_counts(facts.corpus_metadata),
    ]
    if facts.training_config is not None:
        sections.append(
            "## Training configuration\n\n```json\n"
            + json.dumps(without_local_paths(facts.training_config), indent=2)
            + "\n```"
        )
    if facts.final_metrics:
        sections.append("## Final metrics\n\n" + _table(sorted(facts.final_metrics.items()), ("metric", "value")))
    checks = []
    if facts.tokenizer_check:
        checks.append(
            f"- Tokenizer: reloaded with `AutoTokenizer`; word ids equal the corpus tokenizer's on "
            f"{facts.tokenizer_check['verified_texts']} texts ({facts.tokenizer_check['verified_tokens']} tokens); "
            f"{_span_check(facts.tokenizer_check)}; every entity has its id from `entity_vocab.jsonl`."
        )
    if facts.verification:
        diffs = ", ".join(f"{name} {value:.2g}" for name, value in facts.verification.max_abs_diff.items())
        checks.append(
            f"- Model: reloaded with `AutoModelForMaskedLM`; on {facts.verification.sequences} validation sequences "
            f"its outputs match the pretraining model's (max absolute differences: {diffs})."
        )
    if checks:
        sections.append("## Export checks\n\n" + "\n".join(checks))
    if any(facts.versions.values()):
        sections.append("## Software\n\n" + _versions_table(facts.versions))
    sections += [_loading(facts), "## Fine-tuning\n\n```python\n" + FINE_TUNING_SNIPPET + "```"]
    return "\n\n".join(sections) + "\n"
