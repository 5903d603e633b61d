"""A SetUpDoFn's worker state is built once for the copies of the DoFn that a process sets up one after another (as
the DaskRunner does, a copy per partition: ``test_synthetic_dump.py``), never shared by two copies at once, never
pickled, and dropped when another DoFn builds its own."""

from __future__ import annotations

import gc
import pickle
import weakref
from collections import Counter

import pytest

from preprocessing.beam.setup_state import SetUpDoFn, release_worker_state

BUILDS: Counter = Counter()  # builds per DoFn name, in this process


class _State:
    """Something heavy a DoFn builds (weakly referenceable, as tokenizers and tables are)."""


class _NamedFn(SetUpDoFn):
    STATE = ("_state",)

    def __init__(self, name: str, fails: bool = False) -> None:
        super().__init__()
        self._name = name
        self._fails = fails

    def build_state(self) -> None:
        BUILDS[self._name] += 1
        if self._fails:
            raise OSError(f"{self._name}: cannot build")
        self._state = _State()


def _copies(fn: SetUpDoFn, count: int) -> list[SetUpDoFn]:
    """What a runner makes of a DoFn: a copy unpickled for each partition or bundle processor."""
    return [pickle.loads(pickle.dumps(fn)) for _ in range(count)]


@pytest.fixture(autouse=True)
def _nothing_kept():
    release_worker_state()
    BUILDS.clear()
    yield
    release_worker_state()


def test_the_copies_of_a_dofn_set_up_one_after_another_share_one_state_built_once():
    partitions = _copies(_NamedFn("article pass"), 4)
    states = []
    for partition in partitions:  # one after the other, as a Dask worker runs its partitions
        partition.setup()
        states.append(partition._state)
        assert b"_State" not in pickle.dumps(partition)  # never pickled with the DoFn
        partition.teardown()
        assert "_state" not in partition.__dict__  # nor left on it once it is torn down
    assert BUILDS == {"article pass": 1}
    assert all(state is states[0] for state in states)


def test_a_state_built_for_another_dofn_drops_the_kept_one():
    article_pass, packing_pass = _NamedFn("article pass"), _NamedFn("packing pass")
    article = _copies(article_pass, 1)[0]
    article.setup()
    held = weakref.ref(article._state)
    article.teardown()
    packing = _copies(packing_pass, 1)[0]
    packing.setup()
    gc.collect()
    assert held() is None  # the article pass's state is gone once the packing pass built its own
    again = _copies(article_pass, 1)[0]
    again.setup()  # (a pass that alternated two DoFns in a process would rebuild each time)
    assert BUILDS == {"article pass": 2, "packing pass": 1}
    assert packing._state is not again._state


def test_copies_set_up_at_the_same_time_never_share_a_state():
    fn = _NamedFn("article pass")
    first, second = _copies(fn, 2)
    first.setup()
    second.setup()  # while the first holds its state (two threads, two bundle processors)
    assert BUILDS == {"article pass": 2}  # a tokenizer or sentence splitter is not used by two threads at once
    built = {id(first._state), id(second._state)}
    assert len(built) == 2
    first.teardown()
    second.teardown()
    third, fourth = _copies(fn, 2)
    third.setup()
    fourth.setup()
    assert BUILDS == {"article pass": 2}  # both given back, both taken again
    assert {id(third._state), id(fourth._state)} == built


def test_released_state_is_built_again_and_a_failed_build_leaves_none():
    fn = _NamedFn("article pass")
    first = _copies(fn, 1)[0]
    first.setup()
    release_worker_state()  # the driver, after each pass
    second = _copies(fn, 1)[0]
    second.setup()
    assert BUILDS["article pass"] == 2 and second._state is not first._state

    failing = _NamedFn("bad tokenizer", fails=True)
    for copy in _copies(failing, 2):
        with pytest.raises(OSError, match="bad tokenizer: cannot build"):
            copy.setup()
    assert BUILDS["bad tokenizer"] == 2  # tried again by the next copy, not remembered as built
