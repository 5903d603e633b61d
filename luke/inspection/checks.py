"""What flags a broken corpus at a glance: each check counts its failures and keeps the first few, described
with split, row and page so that one tampered row is findable.

Row checks run on numpy arrays of a whole record batch (or of its sampled rows) at once. Length limits and
the alignment of the three entity columns are read from the list offsets of every row; mention spans, entity
ids and word ids need the values, so they cover the rows the report read (every row, or a sample).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from luke.inspection.entities import SPECIAL_IDS, UNK_ID, EntityTable
from luke.inspection.shards import SplitShards
from luke.inspection.tokenizer import CorpusTokenizer

MAX_EXAMPLES = 5


@dataclass
class Check:
    """One check: what it verifies, over what (``scope``), how many failures, the first few described."""

    name: str
    scope: str
    failures: int = 0
    examples: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.failures == 0

    def fail(self, count: int, examples: list[str]) -> None:
        self.failures += count
        self.examples.extend(examples[: MAX_EXAMPLES - len(self.examples)])


class CheckList:
    """The checks of one report, by name, in the order they were first met."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def get(self, name: str, scope: str) -> Check:
        if name not in self._checks:
            self._checks[name] = Check(name, scope)
        return self._checks[name]

    def __iter__(self):
        return iter(self._checks.values())

    def __getitem__(self, name: str) -> Check:
        return self._checks[name]

    @property
    def failed(self) -> list[Check]:
        return [check for check in self if not check.ok]


@dataclass(frozen=True)
class RowPlace:
    """Where the rows of an array are: their split's shards, the global index of the first row of the batch
    they come from, and the local indices of the rows read (None = every row from ``batch_start`` on)."""

    shards: SplitShards
    batch_start: int = 0
    local_rows: np.ndarray | None = None

    def describe(self, positions: np.ndarray) -> list[str]:
        """'split row R (page P)' for row positions within the rows read."""
        local = positions if self.local_rows is None else self.local_rows[positions]
        rows = [self.batch_start + int(row) for row in local]
        return [f"{self.shards.name} row {row} (page {self.shards.row(row)['page_id']})" for row in rows]


def check_row_lengths(
    checks: CheckList,
    place: RowPlace,
    word_lengths: np.ndarray,
    entity_counts: dict[str, np.ndarray],
    limits: dict[str, int],
) -> None:
    """Length limits and entity-column alignment, from the offsets of every row (of a split, or of a batch)."""
    scope = "every row (list offsets)"
    over = np.flatnonzero(word_lengths > limits["max_seq_length"])
    check = checks.get(f"rows within max_seq_length ({limits['max_seq_length']} words)", scope)
    check.fail(
        len(over), [f"{d}: {word_lengths[i]} words" for d, i in zip(place.describe(over[:5]), over, strict=False)]
    )
    counts = entity_counts["entity_ids"]
    over = np.flatnonzero(counts > limits["max_entity_length"])
    check = checks.get(f"rows within max_entity_length ({limits['max_entity_length']} mentions)", scope)
    check.fail(len(over), [f"{d}: {counts[i]} mentions" for d, i in zip(place.describe(over[:5]), over, strict=False)])
    misaligned = np.flatnonzero((counts != entity_counts["entity_starts"]) | (counts != entity_counts["entity_ends"]))
    check = checks.get("entity_ids, entity_starts, entity_ends of equal length", scope)
    check.fail(
        len(misaligned),
        [
            f"{d}: {counts[i]} ids, {entity_counts['entity_starts'][i]} starts, {entity_counts['entity_ends'][i]} ends"
            for d, i in zip(place.describe(misaligned[:5]), misaligned, strict=False)
        ],
    )


def check_mentions(
    checks: CheckList,
    place: RowPlace,
    scope: str,
    mention_rows: np.ndarray,
    word_lengths: np.ndarray,
    ids: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    vocab_size: int,
    max_mention_length: int,
) -> None:
    """Spans, lengths and ids of the mentions of the rows read; ``mention_rows[j]`` is the position (among the
    rows read) of the row of mention ``j``, ``word_lengths`` the lengths of the rows read."""
    row_words = word_lengths[mention_rows]
    bad = np.flatnonzero((starts < 0) | (ends <= starts) | (ends > row_words))
    where = place.describe(mention_rows[bad[:MAX_EXAMPLES]])
    checks.get("mention spans inside their row (0 ≤ start < end ≤ words)", scope).fail(
        len(bad), [f"{d}: span {starts[j]}–{ends[j]} in {row_words[j]} words" for d, j in zip(where, bad, strict=False)]
    )
    lengths = ends - starts
    bad = np.flatnonzero(lengths > max_mention_length)
    where = place.describe(mention_rows[bad[:MAX_EXAMPLES]])
    checks.get(f"mentions within max_mention_length ({max_mention_length} words)", scope).fail(
        len(bad), [f"{d}: mention of {lengths[j]} words" for d, j in zip(where, bad, strict=False)]
    )
    bad = np.flatnonzero((ids < UNK_ID) | (ids >= vocab_size) | (ids == 2))
    where = place.describe(mention_rows[bad[:MAX_EXAMPLES]])
    checks.get(f"entity ids in the vocabulary (1 = [UNK] or 3 … {vocab_size - 1})", scope).fail(
        len(bad), [f"{d}: entity id {ids[j]}{_special(int(ids[j]))}" for d, j in zip(where, bad, strict=False)]
    )


def check_word_ids(
    checks: CheckList, place: RowPlace, scope: str, words_per_row: np.ndarray, words: np.ndarray, tokenizer_size: int
) -> None:
    """Word ids of the rows read within the tokenizer's vocabulary (``words_per_row``: ids of each row read)."""
    check = checks.get(f"word ids in the tokenizer (0 … {tokenizer_size - 1})", scope)
    if not len(words) or (words.min() >= 0 and words.max() < tokenizer_size):
        return
    bad = np.flatnonzero((words < 0) | (words >= tokenizer_size))
    word_rows = np.repeat(np.arange(len(words_per_row)), words_per_row)
    where = place.describe(word_rows[bad[:MAX_EXAMPLES]])
    check.fail(len(bad), [f"{d}: word id {words[j]}" for d, j in zip(where, bad, strict=False)])


def _special(entity_id: int) -> str:
    return f" ({SPECIAL_IDS[entity_id]})" if entity_id in SPECIAL_IDS else ""


def check_recorded_counts(checks: CheckList, split: str, recorded: dict[str, Any], counted: dict[str, int]) -> None:
    """metadata.json's per-split counts against the counts read from the shards."""
    check = checks.get("metadata.json split counts equal the shards'", "every row (list offsets)")
    for key, value in counted.items():
        if key in recorded and recorded[key] != value:
            check.fail(1, [f"{split}: {key} {recorded[key]:,} in metadata.json, {value:,} in the shards"])


def check_vocabulary(checks: CheckList, table: EntityTable, metadata: dict[str, Any]) -> None:
    """The entity vocabulary file against metadata.json: checksum, number of entries, ids 0, 1, 2, ..."""
    recorded = metadata.get("entity_vocab") or {}
    check = checks.get("entity vocabulary checksum equals metadata.json's", "entity_vocab.jsonl")
    if recorded.get("checksum") is None:
        check.note = "metadata.json records no checksum"
    elif recorded["checksum"] != table.sha256 and recorded["checksum"] != _canonical_checksum(table):
        check.fail(1, [f"file {table.sha256}, metadata.json {recorded['checksum']}"])
    check = checks.get("entity vocabulary entries and ids", "entity_vocab.jsonl")
    if "entries" in recorded and recorded["entries"] != len(table):
        check.fail(1, [f"{len(table):,} entries in the file, {recorded['entries']:,} in metadata.json"])
    wrong = np.flatnonzero(table.ids != np.arange(len(table)))
    check.fail(len(wrong), [f"line {i + 1} has id {table.ids[i]}" for i in wrong[:MAX_EXAMPLES]])
    for entity_id, special in SPECIAL_IDS.items():
        if len(table) > entity_id and table.title(entity_id) != special:
            check.fail(1, [f"id {entity_id} is {table.title(entity_id)!r}, not {special}"])


def _canonical_checksum(table: EntityTable) -> str | None:
    """The vocabulary's checksum as ``EntityVocab.checksum`` defines it (of its jsonl serialisation), for a file
    whose bytes differ from that serialisation (e.g. rewritten with other spacing)."""
    from preprocessing.entities.vocab import EntityVocab, EntityVocabError

    try:
        return EntityVocab.load(str(table.path)).checksum()
    except (EntityVocabError, ValueError, KeyError):
        return None


def check_tokenizer(checks: CheckList, tokenizer: CorpusTokenizer, metadata: dict[str, Any], checksum: str) -> None:
    """The tokenizer directory against metadata.json's ``tokenizer`` facts (size and special-token ids):
    metadata.json records no tokenizer checksum, so ``checksum`` (the one runs record) is shown, not compared."""
    recorded = metadata.get("tokenizer") or {}
    check = checks.get("tokenizer size and special-token ids equal metadata.json's", "tokenizer/")
    check.note = f"tokenizer checksum {checksum} (runs record it in run_info.json)"
    if "vocab_size" in recorded and recorded["vocab_size"] != tokenizer.size:
        check.fail(
            1, [f"{tokenizer.size:,} tokens in tokenizer/, vocab_size {recorded['vocab_size']:,} in metadata.json"]
        )
    for key, value in recorded.items():
        if key.endswith("_token_id"):
            token = recorded.get(key[: -len("_id")])
            actual = tokenizer.token_id(token) if token is not None else None
            if actual != value:
                check.fail(1, [f"{token!r} has id {actual} in tokenizer/, {value} in metadata.json"])
