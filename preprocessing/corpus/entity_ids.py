"""``EntityIds``: a vocabulary's title → id as sorted title hashes, what each packing worker holds.

A dict of 500K titles costs a worker ~100 MB of Python objects (and loading the vocabulary as objects first,
as much again); here each title is its 64-bit key (searched with NumPy), the other 64 bits of its hash
(``title_table.title_hash``, checked on a hit) and its id: 20 bytes, ~10 MB for 500K, read from the jsonl
file a line at a time. Two titles with one key fail (never merged), as in the title table.
"""

from __future__ import annotations

import json
from array import array

import numpy as np
from apache_beam.io.filesystems import FileSystems

from preprocessing.entities.title_table import TitleCollisionError, title_hash


class EntityIds:
    """Title → id of the vocabulary in a jsonl file (ids below ``first_id`` left out: the special entries)."""

    def __init__(self, path: str, first_id: int) -> None:
        keys, checks, ids = array("Q"), array("Q"), array("q")
        with FileSystems.open(path) as stream:
            for line in stream:
                item = json.loads(line)
                if item["id"] < first_id:
                    continue
                for title, _ in item["entities"]:
                    key, check = title_hash(title)
                    keys.append(key)
                    checks.append(check)
                    ids.append(item["id"])
        order = np.argsort(np.frombuffer(keys, np.uint64), kind="stable")
        self._keys = np.frombuffer(keys, np.uint64)[order]
        self._checks = np.frombuffer(checks, np.uint64)[order]
        self._ids = np.frombuffer(ids, np.int64)[order]
        same = np.flatnonzero(self._keys[1:] == self._keys[:-1])
        if len(same):
            first, second = self._ids[same[0]], self._ids[same[0] + 1]
            raise TitleCollisionError(
                f"{path}: the titles of ids {first} and {second} have the same 64-bit key {self._keys[same[0]]:#018x}"
            )

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, title: str) -> int | None:
        """The id of ``title``, or None when the vocabulary does not hold it."""
        key, check = title_hash(title)
        row = int(np.searchsorted(self._keys, np.uint64(key)))
        if row == len(self._keys) or int(self._keys[row]) != key or int(self._checks[row]) != check:
            return None
        return int(self._ids[row])
