"""Random access to the rows of one corpus split, addressable by a plain index or a sampler's key."""

from __future__ import annotations

from typing import Any, NamedTuple

from torch.utils.data import Dataset

from preprocessing.corpus import Corpus, CorpusSplit


class SampleKey(NamedTuple):
    """Which row to read, and where it sits in the data stream: sample ``index`` of the shuffle of ``epoch``.
    The collator seeds a sample's masking from (epoch, index)."""

    epoch: int
    index: int
    row: int


class PretrainingDataset(Dataset):
    """The rows of ``split`` of ``corpus`` over its memory-mapped Arrow shards.

    ``dataset[key]`` takes a :class:`SampleKey` (from a sampler) or an int row index (read as epoch 0,
    index = row) and returns the row (``page_id`` and read-only int32 numpy views ``word_ids``,
    ``entity_ids``, ``entity_starts``, ``entity_ends``) with its ``key``. Pickling (for spawned DataLoader
    workers) carries the corpus path, not the data: a worker maps the shards itself.
    """

    def __init__(self, corpus: Corpus, split: str) -> None:
        self.corpus = corpus
        self.split = split
        self._rows: CorpusSplit | None = corpus.split(split)
        self._length = len(self._rows)

    def __len__(self) -> int:
        return self._length

    def _split(self) -> CorpusSplit:
        if self._rows is None:
            self._rows = self.corpus.split(self.split)
        return self._rows

    def __getitem__(self, key: SampleKey | int) -> dict[str, Any]:
        if not isinstance(key, SampleKey):
            index = int(key)
            if not -self._length <= index < self._length:
                raise IndexError(f"row {index} out of range for split {self.split!r} of {self._length} rows")
            index %= self._length
            key = SampleKey(0, index, index)
        row = self._split()[key.row]
        row["key"] = key
        return row

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_rows": None}
