"""Split and shard assignment: a pure function of the page id (and of the job's options).

A page's sequences all go to one split and one shard, chosen from a hash of its page id, so the corpus does
not depend on the runner, the number of workers or the order in which bundles run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

TRAIN = "train"
VALIDATION = "validation"


def page_hashes(page_id: int) -> tuple[float, int]:
    """Two independent uniform hashes of ``page_id``: a float in [0, 1) for the split, an int for the shard."""
    digest = hashlib.blake2b(page_id.to_bytes(8, "little", signed=True), digest_size=16, person=b"luke-split").digest()
    return int.from_bytes(digest[:8], "little") / 2**64, int.from_bytes(digest[8:], "little")


def sample_rank(page_id: int) -> int:
    """The page's shard hash as a signed 64-bit int (what Beam's int coder holds), in the shard hash's order:
    the tokenizer's training sample is the pages of smallest rank."""
    return page_hashes(page_id)[1] - 2**63


@dataclass(frozen=True)
class SplitPlan:
    """How pages are spread over splits and shards.

    A page goes to validation when its split hash is below ``validation_fraction``; ``always_validation``
    (the page with the smallest split hash among those with sequences, found by the job) goes there too,
    so a positive fraction never leaves validation empty.
    """

    validation_fraction: float = 0.0
    num_train_shards: int = 1
    num_validation_shards: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        if self.num_train_shards < 1 or self.num_validation_shards < 1:
            raise ValueError("the numbers of shards must be positive")

    @property
    def splits(self) -> dict[str, int]:
        """Split name → number of shards, for the splits this plan fills."""
        if self.validation_fraction > 0:
            return {TRAIN: self.num_train_shards, VALIDATION: self.num_validation_shards}
        return {TRAIN: self.num_train_shards}

    def assign(self, page_id: int, always_validation: int | None = None) -> tuple[str, int]:
        """The (split, shard index) of every sequence of page ``page_id``."""
        split_hash, shard_hash = page_hashes(page_id)
        if self.validation_fraction > 0 and (split_hash < self.validation_fraction or page_id == always_validation):
            return VALIDATION, shard_hash % self.num_validation_shards
        return TRAIN, shard_hash % self.num_train_shards
