"""``SetUpDoFn``: a DoFn whose worker state (tokenizers, parsers, the memory-mapped title table, progress files) is
built from its configuration (``build_state``) when ``setup`` finds none kept, never pickled, and given back at
teardown for the DoFn's next copy.

Runners set a DoFn up as often as they like. The DirectRunner and Dataflow keep one set-up copy per worker thread
for a whole pass; Beam's DaskRunner deserializes and sets up a copy for every partition and tears it down at the
partition's end (keeping the copy until the pass ends, so state left on it would be held once per partition). Built
anew for each copy, the state cost its build every time (a tokenizer loaded, a title table opened, the word memo
learnt again) and its memory, freed and allocated again, kept growing: 131 → 308 MiB over 40 partitions of 5 units
in one process, against 131 → 156 with the state reused (``benchmarks/bench_worker_state.py``). So a process keeps
the states its copies gave back, by the DoFn they were built for (a key made when the DoFn is constructed: its
copies share it, another job's DoFn never does); ``setup`` takes one that no other copy is using, or builds one.
Building a state drops those kept for other DoFns (another pass's), and :func:`release_worker_state` drops them all
(the driver, after each pass, for the in-memory runner).
"""

from __future__ import annotations

import threading
import uuid

import apache_beam as beam

_LOCK = threading.Lock()
_KEPT: dict[str, list[dict[str, object]]] = {}  # DoFn key → states given back at teardown, in use by no copy


class SetUpDoFn(beam.DoFn):
    """Subclasses assign the attributes named in :attr:`STATE` in :meth:`build_state` (``tests/test_layout.py``
    checks) and call ``super().__init__()``."""

    STATE: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self._state_key = uuid.uuid4().hex

    def build_state(self) -> None:
        """Assign the :attr:`STATE` attributes (when no state built for this DoFn is free)."""
        raise NotImplementedError

    def setup(self) -> None:
        with _LOCK:
            kept = _KEPT.get(self._state_key)
            state = kept.pop() if kept else None
            if state is None:
                for key in [key for key in _KEPT if key != self._state_key]:
                    del _KEPT[key]
        if state is None:
            self.build_state()
        else:
            self.__dict__.update(state)

    def teardown(self) -> None:
        state = {name: self.__dict__.pop(name) for name in self.STATE if name in self.__dict__}
        if len(state) == len(self.STATE):
            with _LOCK:
                _KEPT.setdefault(self._state_key, []).append(state)

    def __getstate__(self) -> dict:
        return {name: value for name, value in self.__dict__.items() if name not in self.STATE}


def release_worker_state() -> None:
    """Drop every state kept in this process (copies set up with one keep it until their teardown)."""
    with _LOCK:
        _KEPT.clear()
