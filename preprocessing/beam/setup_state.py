"""``SetUpDoFn``: a DoFn whose ``setup`` builds worker state (tokenizers, parsers, the memory-mapped title table,
progress files) from its configuration; the state is never pickled and ``teardown`` drops it.

Some runners pickle a DoFn after its setup, and the state does not pickle (ICU, mapped files) or should not
travel. Beam's DaskRunner sets a DoFn up for each partition and keeps every partition's DoFn until the pass
ends: were the state kept with it, a worker would hold one tokenizer, parser and title table per partition it
ran (tens of MB each in the article pass), growing with the dump (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import apache_beam as beam


class SetUpDoFn(beam.DoFn):
    """Subclasses name the attributes their ``setup`` assigns in :attr:`STATE` (``tests/test_layout.py`` checks)."""

    STATE: tuple[str, ...] = ()

    def teardown(self) -> None:
        for name in self.STATE:
            self.__dict__.pop(name, None)

    def __getstate__(self) -> dict:
        return {name: value for name, value in self.__dict__.items() if name not in self.STATE}
