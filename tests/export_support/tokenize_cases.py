"""Tokenize LUKE inputs with plain transformers (4.x or 5.x, whichever runs this file) and print the ids as JSON.

Usage: python tokenize_cases.py MODEL_DIR < cases.json > ids.json. Each case is ``{"task": None or a LUKE task,
"text": ..., "entity_spans": [[start, end], ...] or absent, "entities": [...] or absent}``; each result holds
the class name, ``input_ids``, and ``entity_ids`` / ``entity_position_ids`` when spans were given.
"""

from __future__ import annotations

import json
import sys


def tokenize_cases(directory: str, cases: list[dict]) -> list[dict]:
    from transformers import AutoTokenizer

    tokenizers = {}
    results = []
    for case in cases:
        task = case["task"]
        if task not in tokenizers:
            tokenizers[task] = AutoTokenizer.from_pretrained(directory, task=task)
        tokenizer = tokenizers[task]
        kwargs = {key: case[key] for key in ("entity_spans", "entities") if key in case}
        if "entity_spans" in kwargs:
            kwargs["entity_spans"] = [tuple(span) for span in kwargs["entity_spans"]]
        encoding = tokenizer(case["text"], **kwargs)
        result = {"class": type(tokenizer).__name__, "input_ids": list(encoding["input_ids"])}
        for key in ("entity_ids", "entity_position_ids"):
            if key in encoding:
                result[key] = [list(value) if isinstance(value, list) else value for value in encoding[key]]
        results.append(result)
    return results


if __name__ == "__main__":
    json.dump(tokenize_cases(sys.argv[1], json.load(sys.stdin)), sys.stdout)
