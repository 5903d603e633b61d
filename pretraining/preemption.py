"""SIGTERM/SIGINT/SIGUSR1 handling: the first signal asks the loop to checkpoint and stop at the next step boundary
(``luke train`` then exits with ``pretraining.exit_codes.STOPPED``). SIGUSR1 is a common choice for SLURM's
``--signal``. While the run is still starting (corpus, model, engine, checkpoint loading), the signal ends it at
once, with the same exit code: nothing was trained since the last checkpoint, so there is nothing to save.

SLURM preemption signals every process of a job step and Ctrl-C the whole foreground process group, so the
DataLoader worker processes get the signal too. They ignore it (:func:`ignore_stop_signals`): a worker
killed by it would make the training process fail before it saved; the training process ends its workers
itself once it has stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


class StoppedBeforeTraining(BaseException):
    """A stop signal arrived before the training loop began (a ``BaseException``, like ``KeyboardInterrupt``: no
    ``except Exception`` of the start-up may swallow it)."""


class PreemptionHandler:
    """Records SIGTERM (SLURM preemption, `kill`), SIGINT (Ctrl-C) and SIGUSR1 instead of dying mid-step.

    Use as a context manager around the whole run; the previous handlers come back on exit. Until
    :meth:`loop_started`, a signal raises :class:`StoppedBeforeTraining` at once. A second SIGINT while the
    first is pending interrupts at once (KeyboardInterrupt), for a user who does not want to wait.
    The note it writes goes straight to file descriptor 2, and a failing write is ignored: the handler may
    interrupt a write of the buffered ``sys.stderr`` (whose reentry raises).
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._loop_running = False
        self._previous: dict[int, object] = {}

    def loop_started(self) -> None:
        """From now on a signal is only recorded: the loop checkpoints and stops at its next step boundary."""
        self._loop_running = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum
        name = signal.Signals(signum).name
        if self._loop_running:
            note = f"received {name}: saving a checkpoint after the current step, then stopping"
        else:
            note = f"received {name} while starting: stopping now, nothing trained since the last checkpoint"
        with contextlib.suppress(OSError):  # stderr is gone: the stop goes on regardless
            os.write(2, f"{note}\n".encode())
        if not self._loop_running:
            raise StoppedBeforeTraining(name)

    @property
    def requested(self) -> bool:
        return self.received is not None

    def __enter__(self) -> PreemptionHandler:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


@contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """Hold back the stop signals in this thread, e.g. while it starts worker processes: a child inherits the
    blocked mask, so a signal reaches it only after :func:`ignore_stop_signals`. Signals that arrive
    meanwhile are delivered to this process on exit."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ignore_stop_signals(worker_id: int = 0) -> None:
    """A DataLoader ``worker_init_fn``: this process ignores the stop signals from now on (and unblocks them,
    see :func:`stop_signals_blocked`); its parent stops it."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
