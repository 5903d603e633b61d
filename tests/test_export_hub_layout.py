"""Exports laid out as the hub's LUKE repositories: transformers 4.x and 5.x tokenize alike (byte-level BPE), the
entity vocabulary lives in entity_vocab.json, and the model card's fine-tuning snippet runs as written."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from export_support.tokenize_cases import tokenize_cases
from transformers import AutoTokenizer

from preprocessing.corpus import Corpus
from pretraining.export.model_card import FINE_TUNING_PATH

pytestmark = pytest.mark.slow

TOKENIZE_CASES = Path(__file__).parent / "export_support" / "tokenize_cases.py"
HUB_FILES = {
    "bpe-zero2": {"vocab.json", "merges.txt", "entity_vocab.json", "tokenizer_config.json", "special_tokens_map.json"},
    "sp-zero2": {"entity_vocab.json", "tokenizer_config.json", "special_tokens_map.json"},
}


def _mentions(run_dir: Path, tokenizer, count: int = 24) -> list[tuple[str, list[tuple[int, int]], list[str]]]:
    """(text, spans, entity keys) of validation rows with two or more mentions: the first two, in text order."""
    corpus = Corpus.open(json.loads((run_dir / "run_info.json").read_text())["corpus"])
    split = corpus.split("validation")
    keys = {entity_id: key for key, entity_id in tokenizer.entity_vocab.items()}
    found = []
    for row in (split[index] for index in range(len(split))):
        order = sorted(range(len(row["entity_ids"])), key=lambda i: int(row["entity_starts"][i]))[:2]
        if len(order) < 2 or len(found) == count:
            continue
        words, text, spans, cursor = row["word_ids"], "", [], 0
        for i in order:
            start, end = int(row["entity_starts"][i]), int(row["entity_ends"][i])
            text += tokenizer.decode(words[cursor:start])
            mention = tokenizer.decode(words[start:end])
            spans.append((len(text) + len(mention) - len(mention.lstrip()), len(text) + len(mention)))
            text, cursor = text + mention, end
        found.append((text + tokenizer.decode(words[cursor:]), spans, [keys[int(row["entity_ids"][i])] for i in order]))
    assert len(found) == count
    return found


def _cases(mentions) -> list[dict]:
    cases = []
    for text, spans, keys in mentions:
        cases += [{"task": None, "text": text}, {"task": None, "text": text, "entity_spans": spans, "entities": keys}]
        cases.append({"task": "entity_classification", "text": text, "entity_spans": spans[:1]})
        cases.append({"task": "entity_pair_classification", "text": text, "entity_spans": spans})
        cases.append({"task": "entity_span_classification", "text": text, "entity_spans": spans})
    return cases


@pytest.mark.parametrize("name", ["bpe-zero2", "sp-zero2"])
def test_hub_layout_and_entity_vocabulary_file(name, exported):
    directory = exported[name]
    assert HUB_FILES[name] <= {path.name for path in directory.iterdir()}
    assert "entity_vocab" not in json.loads((directory / "tokenizer_config.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(directory)
    assert json.loads((directory / "entity_vocab.json").read_text()) == tokenizer.entity_vocab
    assert len(tokenizer.entity_vocab) > 100
    key = next(key for key in tokenizer.entity_vocab if not key.startswith("["))
    card = (directory / "README.md").read_text()
    assert f"(e.g. `{key}`)" in card and (key.startswith("en:") == (name == "sp-zero2"))
    assert ("transformers 4.x and 5.x" in card) == (name == "bpe-zero2")


@pytest.mark.parametrize("name", ["bpe-zero2", "sp-zero2"])
def test_spans_for_every_task_tokenize_as_without_spans(name, exported, zero_runs):
    """Under 5.x, every task's encoding of a text with spans gives the entities' ids (or the task's masks)."""
    tokenizer = AutoTokenizer.from_pretrained(exported[name])
    mentions = _mentions(zero_runs / name, tokenizer)
    results = tokenize_cases(str(exported[name]), _cases(mentions))
    for index, (_, _, keys) in enumerate(mentions):
        plain, with_entities, single, pair, spans = results[5 * index : 5 * index + 5]
        assert with_entities["entity_ids"] == [tokenizer.entity_vocab[key] for key in keys]
        assert single["entity_ids"] == [tokenizer.entity_vocab["[MASK]"]]
        assert pair["entity_ids"] == [tokenizer.entity_vocab["[MASK]"], tokenizer.entity_vocab["[MASK2]"]]
        assert len(spans["entity_ids"]) == 2 and with_entities["input_ids"] == spans["input_ids"]
        assert plain["class"] == ("LukeTokenizer" if name == "bpe-zero2" else "MLukeTokenizer")


def test_transformers_4_tokenizes_a_byte_level_bpe_export_as_5_does(exported, zero_runs):
    from transformers4_venv import transformers4_python

    python = transformers4_python()
    directory = exported["bpe-zero2"]
    cases = _cases(_mentions(zero_runs / "bpe-zero2", AutoTokenizer.from_pretrained(directory)))
    cases.append({"task": None, "text": "Tokyo  has   spaces, ``quotes'' and 中文 ①"})
    result = subprocess.run(
        [str(python), str(TOKENIZE_CASES), str(directory)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == tokenize_cases(str(directory), cases)


@pytest.mark.parametrize("name", ["bpe-zero2", "sp-zero2"])
def test_the_model_cards_fine_tuning_snippet_runs_as_written(name, exported):
    card = (exported[name] / "README.md").read_text()
    snippet = card.split("## Fine-tuning\n\n```python\n", 1)[1].split("```", 1)[0]
    assert snippet.count(f'"{FINE_TUNING_PATH}"') == 2
    namespace: dict = {}
    exec(snippet.replace(FINE_TUNING_PATH, str(exported[name])), namespace)
    assert namespace["step"] == 2 and namespace["loss"].item() > 0
