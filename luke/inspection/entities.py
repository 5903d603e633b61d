"""The corpus's entity vocabulary as columns (ids, titles, link counts), read with pyarrow's JSON reader: a
500K-entry ``entity_vocab.jsonl`` loads in a fraction of a second, titles stay an Arrow array read on demand."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from preprocessing.corpus.directory import CorpusError

SPECIAL_IDS = {0: "[PAD]", 1: "[UNK]", 2: "[MASK]"}
UNK_ID = 1


@dataclass(frozen=True)
class EntityTable:
    """Entry ``i`` of the vocabulary is id ``i``: ``titles[i]`` (its first title) and ``counts[i]`` (the link
    count it was ranked by). ``ids`` holds the file's own id column, to check it is 0, 1, 2, ..."""

    path: Path
    ids: np.ndarray
    titles: pa.Array
    counts: np.ndarray
    sha256: str

    def __len__(self) -> int:
        return len(self.counts)

    def title(self, entity_id: int) -> str:
        if 0 <= entity_id < len(self.titles):
            return str(self.titles[entity_id].as_py())
        return f"<id {entity_id} not in the vocabulary>"


def read_entity_table(path: Path) -> EntityTable:
    """Read a jsonl entity vocabulary (LUKE's format); a :class:`CorpusError` naming the file if it is not."""
    data = path.read_bytes()
    sha256 = "sha256:" + hashlib.sha256(data).hexdigest()
    try:
        table = pa_json.read_json(pa.py_buffer(data))
        ids = table.column("id").to_numpy()
        titles = pc.list_element(pc.list_element(table.column("entities"), 0), 0).combine_chunks()
        counts = table.column("count").to_numpy()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, KeyError) as error:
        try:  # pyarrow's reader is strict about types; the plain reader names the line
            return _read_with_json(path, data, sha256)
        except (ValueError, KeyError, IndexError, TypeError) as plain:
            raise CorpusError(f"{path} is not a LUKE jsonl entity vocabulary: {plain} ({error})") from plain
    return EntityTable(path, ids, titles, counts, sha256)


def _read_with_json(path: Path, data: bytes, sha256: str) -> EntityTable:
    ids, titles, counts = [], [], []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            ids.append(int(entry["id"]))
            titles.append(str(entry["entities"][0][0]))
            counts.append(int(entry["count"]))
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise ValueError(f"line {number}: {error}") from error
    return EntityTable(path, np.array(ids), pa.array(titles, pa.string()), np.array(counts), sha256)
