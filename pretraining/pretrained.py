"""``model.init: pretrained``: a Hugging Face LUKE directory as the initial weights of a stage.

The directory is what ``transformers`` saves for a LUKE model — a released ``studio-ousia/luke-*`` or
``mluke-*`` downloaded elsewhere, or one of our exports: ``config.json``, ``model.safetensors`` (or
``pytorch_model.bin``, loaded with ``weights_only=True``) and a LUKE tokenizer holding the entity vocabulary.
Its sizes and attention flavour become the model config; its word vocabulary must give every token of the
corpus tokenizer the same id (a corpus built with ``--tokenizer DIR`` does); rows it holds beyond the corpus
tokenizer (``<ent>``, ``<ent2>``) are left out.

Entity rows are mapped by title (:func:`map_entities_by_title`): an entity of the corpus keeps the row of the
same title in the directory — plain titles as LUKE's, ``en:Title`` as mLUKE's — ``[PAD]``, ``[UNK]`` and
``[MASK]`` map to each other, a new entity starts as ``model.new_entity_init`` says (the directory's
``[MASK]`` entity, the mean of its entities, or the model's random init), and the directory's other entities
are dropped. The counts and the most frequent new entities go to ``entity_vocab_mapping.json`` in the run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from transformers import LukeConfig

from preprocessing.corpus.directory import ENTITY_VOCAB_FILE
from preprocessing.entities.vocab import MASK, MASK_ID, SPECIAL_ENTITIES, EntityVocab, VocabEntry
from pretraining.config import ConfigError
from pretraining.export.weights import ENTITY_ROWS, WORD_ROWS

NewEntityInit = Literal["mask", "mean", "random"]
MAPPING_REPORT_FILE = "entity_vocab_mapping.json"
NEW_ENTITIES_SHOWN = 20


@dataclass(frozen=True)
class EntitySource:
    """Where mapped entity rows come from: a name for messages, each entity key's row, the ``[MASK]`` row."""

    name: str
    rows: dict[str, int]
    mask_row: int


def run_entity_source(run_dir: Path) -> EntitySource:
    """The entity vocabulary one of our runs trained with (the file its ``run_info.json`` names)."""
    from pretraining.run_dir import read_run_info

    info = read_run_info(run_dir)
    path = info.get("entity_vocab") or (info.get("corpus") and str(Path(info["corpus"]) / ENTITY_VOCAB_FILE))
    if not path or not Path(path).is_file():
        raise ConfigError(f"model.init_from {run_dir}: the entity vocabulary it trained with is gone ({path})")
    return EntitySource(f"run {run_dir}", EntityVocab.load(path).title_to_id(), MASK_ID)


@dataclass(frozen=True)
class PretrainedLuke:
    """A Hugging Face LUKE directory: its model config, word vocabulary and entity vocabulary (keys as its
    tokenizer holds them: ``Title`` or ``lang:Title``)."""

    directory: Path
    config: LukeConfig
    word_vocab: dict[str, int]
    entity_vocab: dict[str, int]

    @classmethod
    def read(cls, directory: str | Path) -> PretrainedLuke:
        from transformers import AutoTokenizer

        directory = Path(directory)
        if not (directory / "config.json").is_file():
            raise ConfigError(f"model.init_from {directory}: no config.json (not a Hugging Face model directory)")
        try:
            config = LukeConfig.from_pretrained(directory)
            tokenizer = AutoTokenizer.from_pretrained(directory)
        except (OSError, ValueError) as error:
            raise ConfigError(f"model.init_from {directory}: {error}") from error
        entity_vocab = getattr(tokenizer, "entity_vocab", None)
        if not entity_vocab:
            raise ConfigError(f"model.init_from {directory}: its tokenizer holds no entity vocabulary (not LUKE's)")
        return cls(directory, config, dict(tokenizer.get_vocab()), dict(entity_vocab))

    def entity_source(self) -> EntitySource:
        return EntitySource(str(self.directory), self.entity_vocab, self.entity_vocab[MASK])

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The weights, from ``model.safetensors`` or ``pytorch_model.bin`` (``weights_only``: no code runs)."""
        safetensors_file, bin_file = self.directory / "model.safetensors", self.directory / "pytorch_model.bin"
        try:
            if safetensors_file.is_file():
                from safetensors.torch import load_file

                return load_file(str(safetensors_file))
            if bin_file.is_file():
                return torch.load(bin_file, map_location="cpu", weights_only=True)
        except Exception as error:  # safetensors' and torch's errors for a damaged or unsafe file
            raise ConfigError(f"model.init_from {self.directory}: cannot load its weights: {error}") from error
        raise ConfigError(f"model.init_from {self.directory}: no model.safetensors or pytorch_model.bin")


def check_word_vocabulary(pretrained: PretrainedLuke, corpus_vocab: dict[str, int], corpus_tokenizer: Path) -> None:
    """Refuse a corpus whose tokenizer gives some token another id than the directory's tokenizer does."""
    differing = [token for token, index in corpus_vocab.items() if pretrained.word_vocab.get(token) != index]
    if differing:
        examples = ", ".join(repr(token) for token in sorted(differing)[:5])
        raise ConfigError(
            f"model.init_from {pretrained.directory}: the corpus tokenizer {corpus_tokenizer} differs from its "
            f"tokenizer ({len(differing)} of {len(corpus_vocab)} tokens have another id or none, e.g. {examples}); "
            f"build the corpus with --tokenizer {pretrained.directory}"
        )


def pretrained_model_config(pretrained: PretrainedLuke, word_vocab_size: int, entity_vocab_size: int) -> LukeConfig:
    """The directory's model config, with the corpus's vocabulary sizes."""
    config = LukeConfig.from_dict(pretrained.config.to_dict())
    config.vocab_size = word_vocab_size
    config.entity_vocab_size = entity_vocab_size
    return config


@dataclass
class EntityRowMapping:
    """For each corpus entity id, the directory's row it takes, or None for a new entity."""

    sources: list[int | None]
    dropped: int
    new_titles: list[str] = field(default_factory=list)  # most frequent first

    @property
    def kept(self) -> int:
        return sum(source is not None for source in self.sources)

    def report(self) -> dict:
        return {
            "kept": self.kept,
            "new": len(self.sources) - self.kept,
            "dropped": self.dropped,
            "most_frequent_new": self.new_titles[:NEW_ENTITIES_SHOWN],
        }

    def summary(self) -> str:
        report = self.report()
        return (
            f"entity vocabulary mapped by title: {report['kept']:,} kept, {report['new']:,} new, "
            f"{report['dropped']:,} of the pretrained model's dropped"
        )


def map_entities_by_title(source: dict[str, int], target: EntityVocab) -> EntityRowMapping:
    """Map the corpus's entity vocabulary ``target`` onto the rows of ``source`` (keys ``Title`` or
    ``lang:Title``); see the module docstring."""
    sources: list[int | None] = []
    new: list[tuple[int, str]] = []
    for entry in target.entries:
        row = next((source[key] for key in _keys(entry) if key in source), None)
        sources.append(row)
        if row is None and entry.title not in SPECIAL_ENTITIES:
            new.append((entry.count, entry.title))
    used = {row for row in sources if row is not None}
    dropped = len({row for row in source.values()} - used)
    new_titles = [title for _, title in sorted(new, key=lambda item: (-item[0], item[1]))]
    return EntityRowMapping(sources, dropped, new_titles)


def _keys(entry: VocabEntry) -> Iterator[str]:
    """The keys an entry may have in a LUKE tokenizer's entity vocabulary: ``Title``, then ``lang:Title``."""
    for title, language in entry.entities:
        yield title
        if language and title not in SPECIAL_ENTITIES:
            yield f"{language}:{title}"


def mapped_state_dict(
    state_dict: dict[str, torch.Tensor],
    word_vocab_size: int,
    mapping: EntityRowMapping,
    source_mask_row: int,
    new_entity_init: NewEntityInit,
    model_init: dict[str, torch.Tensor],
) -> dict[str, torch.Tensor]:
    """The source's weights with the corpus's word rows (the first ``word_vocab_size``) and entity rows
    (``mapping``); a new entity row is the source's ``[MASK]`` row, the mean row, or ``model_init``'s row."""
    mapped = dict(state_dict)
    for name in WORD_ROWS:
        if name in mapped:
            mapped[name] = mapped[name][:word_vocab_size].clone()
    kept = torch.tensor([index for index, row in enumerate(mapping.sources) if row is not None], dtype=torch.long)
    new = torch.tensor([index for index, row in enumerate(mapping.sources) if row is None], dtype=torch.long)
    source_rows = torch.tensor([row for row in mapping.sources if row is not None], dtype=torch.long)
    for name in ENTITY_ROWS:
        if name not in mapped:
            continue
        rows = mapped[name]
        table = model_init[name].clone().to(rows.dtype)
        table[kept] = rows[source_rows]
        fill = {"mask": rows[source_mask_row], "mean": rows.mean(dim=0)}.get(new_entity_init)
        if fill is not None:
            table[new] = fill
        mapped[name] = table
    return mapped


def write_mapping_report(run_dir: Path, mapping: EntityRowMapping, source: EntitySource, rule: str) -> None:
    report = {"init_from": source.name, "new_entity_init": rule, **mapping.report()}
    (run_dir / MAPPING_REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
