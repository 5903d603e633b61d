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

    A page goes to validation when its split hash is below ``validation_fraction`` (the job moves one more page
    there if none did, see ``moved_to_validation``). Each shard packs a contiguous run of the input's units
    (``shard_units``): a page's shard is where it was read, so no sequence crosses a shuffle.
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
        """Split name → number of shards asked for, for the splits this plan fills."""
        if self.validation_fraction > 0:
            return {TRAIN: self.num_train_shards, VALIDATION: self.num_validation_shards}
        return {TRAIN: self.num_train_shards}

    def split_of(self, page_id: int) -> str:
        """The split of every sequence of page ``page_id``."""
        if self.validation_fraction > 0 and page_hashes(page_id)[0] < self.validation_fraction:
            return VALIDATION
        return TRAIN

    def shard_units(self, units: int) -> dict[str, list[range]]:
        """Per split, the units each shard packs: contiguous runs of as even a length as can be, at most one
        shard per unit (fewer units than shards asked for give fewer shards), at least one shard."""
        shards = {}
        for split, wanted in self.splits.items():
            count = max(1, min(wanted, units))
            shards[split] = [range(units * index // count, units * (index + 1) // count) for index in range(count)]
        return shards


# An article with a mention, as a candidate to move to validation: (split hash, page id, unit index)
Candidate = tuple[float, int, int]


def moved_to_validation(smallest: list[Candidate], plan: SplitPlan) -> Candidate | None:
    """The page that validation gets although its hash put it in train, from the two candidates of smallest
    split hash: the smallest, when a positive fraction left validation without it (unless it is the only
    article with a mention: training comes first)."""
    if plan.validation_fraction == 0 or len(smallest) < 2:
        return None
    first = smallest[0]
    return first if plan.split_of(first[1]) != VALIDATION else None
