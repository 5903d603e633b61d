"""SIGTERM/SIGINT handling: the first signal asks the loop to checkpoint and stop at the next step boundary."""

from __future__ import annotations

import signal
import sys
from types import FrameType


class PreemptionHandler:
    """Records SIGTERM (SLURM preemption, `kill`) and SIGINT (Ctrl-C) instead of dying mid-step.

    Use as a context manager; the previous handlers come back on exit. A second SIGINT while the
    first is pending interrupts at once (KeyboardInterrupt), for a user who does not want to wait.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum
        print(
            f"received {signal.Signals(signum).name}: saving a checkpoint after the current step, then stopping",
            file=sys.stderr,
            flush=True,
        )

    @property
    def requested(self) -> bool:
        return self.received is not None

    def __enter__(self) -> PreemptionHandler:
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
