"""Progress of a long step: a live tqdm bar on a terminal, a compact line every so often anywhere else.

A bar redrawn with carriage returns is unreadable in a log file or a CI log, and tqdm hides itself when stderr
is not a terminal; so off a terminal, :class:`LineProgress` writes one short line at most every
``every_s`` seconds, and at the end. Whether stderr is a terminal is remembered when the command starts
(:func:`remember_terminal`), before ``luke train`` routes its output through pipes.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

LINE_EVERY_S = 15.0
_terminal: bool | None = None


def remember_terminal() -> None:
    """Record whether stderr is a terminal now, for :func:`progress_bar` calls made after it is redirected."""
    global _terminal
    _terminal = sys.stderr.isatty()


def terminal_attached() -> bool:
    return sys.stderr.isatty() if _terminal is None else _terminal


class LineProgress:
    """tqdm's interface as :class:`luke.progress` callers use it (``n``, ``update``, ``set_postfix``,
    ``write``, ``close``), written as ``desc: 120/1,000 steps (12%), 0:42 elapsed, key value, ...`` lines."""

    def __init__(
        self, desc: str, total: int | None, unit: str, initial: int = 0, every_s: float = LINE_EVERY_S, file=None
    ) -> None:
        self.desc, self.total, self.unit, self.n = desc, total, unit, initial
        self._every_s = every_s
        self._file: TextIO = file or sys.stderr
        self._started = self._last = time.monotonic()
        self._postfix: dict[str, Any] = {}
        self._written_n: int | None = None

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self._last >= self._every_s or (self.total is not None and self.n >= self.total):
            self._write_line()

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        self._postfix = {**(ordered_dict or {}), **kwargs}

    def refresh(self) -> None:
        if time.monotonic() - self._last >= self._every_s:
            self._write_line()

    def write(self, text: str) -> None:
        """A message, on stdout as ``tqdm.write`` puts it."""
        print(text, flush=True)

    def close(self) -> None:
        if self._written_n != self.n and self.n:
            self._write_line()

    def _write_line(self) -> None:
        self._last = time.monotonic()
        self._written_n = self.n
        done = f"{self.n:,}"
        if self.total:
            done += f"/{self.total:,} {self.unit.strip()} ({self.n / self.total:.0%})"
        else:
            done += f" {self.unit.strip()}"
        elapsed = int(self._last - self._started)
        parts = [f"{elapsed // 60}:{elapsed % 60:02d} elapsed"]
        if self.n or self.total:  # a job that has counted nothing yet shows only its time
            parts = [done, *parts, *(f"{k} {v}" for k, v in self._postfix.items())]
        print(f"{self.desc}: " + ", ".join(parts), file=self._file, flush=True)


def progress_bar(desc: str, total: int | None, unit: str, initial: int = 0, file=None, **tqdm_options: Any):
    """A tqdm bar on a terminal, else a :class:`LineProgress`."""
    if not terminal_attached():
        return LineProgress(desc, total, unit, initial, file=file)
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=file, **tqdm_options)
