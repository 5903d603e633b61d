"""Training that outlives its terminal: everything written to stdout and stderr goes to the run's log file
and, while they last, to where stdout and stderr pointed.

A weeks-long run loses its output's reader sooner or later: a closed terminal, a killed ``| tee``, a dropped
ssh session, or pdsh/ssh dying first on preemption. A write to it then fails (EPIPE, EBADF, EIO) and, left
alone, kills the rank wherever it happens — in a print, in tqdm, in a logging handler, in the stop handler.
So file descriptors 1 and 2 are replaced by pipes that a thread of this process reads: every write by
Python, C++ code (DeepSpeed, gloo) or child processes (the JIT build, DataLoader workers) succeeds; the
thread appends each chunk to ``run_dir/logs/rank-NNNNN.log`` and copies it to the original destination,
which it drops after the first failed write, noting once in the log file when and why.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import selectors
import socket
import sys
import threading
import time
from pathlib import Path

LOG_DIR = "logs"
STREAM_NAMES = {1: "stdout", 2: "stderr"}


def log_file(run_dir: Path, rank: int) -> Path:
    """The log file of ``rank`` in a run directory."""
    return run_dir / LOG_DIR / f"rank-{rank:05d}.log"


class _Stream:
    """One guarded descriptor: the pipe now behind it, and a duplicate of where it pointed (None once gone)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.name = STREAM_NAMES[fd]
        self.original: int | None = _duplicate(fd)
        self.lost_reason = None if self.original is not None else "it was closed when training started"
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        self.read_end = read_end

    def forward(self, chunk: bytes) -> str | None:
        """Copy ``chunk`` to the original destination; the reason it is gone when that write fails."""
        if self.original is None:
            return None
        try:
            view = memoryview(chunk)
            while view:
                view = view[os.write(self.original, view) :]
        except OSError as error:
            self.lost_reason = f"{errno.errorcode.get(error.errno, error.errno)}: {error.strerror}"
            os.close(self.original)
            self.original = None
            return self.lost_reason
        return None


class OutputGuard:
    """Routes fds 1 and 2 through pipes to ``log_path`` and the original destinations (see the module)."""

    def __init__(self, log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab", buffering=0)  # noqa: SIM115 - open until close()
        self._write_log(f"=== luke train, pid {os.getpid()} on {socket.gethostname()}, {_now()} ===\n")
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        self._streams = [_Stream(1), _Stream(2)]
        for stream in self._streams:
            if stream.lost_reason:
                self._note_lost(stream)
        self._reopen_missing_python_streams()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="output-guard", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Point fds 1 and 2 back at their destinations (at /dev/null where those are gone), then write out
        what is still in the pipes. Called at exit."""
        for python_stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                python_stream.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in self._streams:
            original = stream.original
            try:
                os.dup2(original if original is not None else devnull, stream.fd)
            except OSError:  # the pump dropped it meanwhile
                os.dup2(devnull, stream.fd)
        os.close(devnull)
        self._closing.set()  # the pump drains what is in the pipes, then stops (other holders may keep them open)
        self._thread.join(timeout)

    def _pump(self) -> None:
        selector = selectors.DefaultSelector()
        for stream in self._streams:
            selector.register(stream.read_end, selectors.EVENT_READ, stream)
        while selector.get_map():
            ready = selector.select(timeout=0.2)
            if not ready and self._closing.is_set():
                break
            for key, _ in ready:
                stream: _Stream = key.data
                chunk = os.read(stream.read_end, 65536)
                if not chunk:
                    selector.unregister(stream.read_end)
                    os.close(stream.read_end)
                    continue
                self._write_log(chunk)
                if stream.forward(chunk):
                    self._note_lost(stream)
        self._log.close()

    def _note_lost(self, stream: _Stream) -> None:
        self._write_log(
            f"\n=== {_now()}: {stream.name} is gone ({stream.lost_reason}); training goes on, its output only in "
            "this file ===\n"
        )

    def _write_log(self, data: bytes | str) -> None:
        with contextlib.suppress(OSError):  # a full disk: the checkpoint's own check reports it
            self._log.write(data.encode() if isinstance(data, str) else data)

    @staticmethod
    def _reopen_missing_python_streams() -> None:
        """A process started with fd 1 or 2 closed has sys.stdout/stderr None: give it real ones to the pipes."""
        if sys.stdout is None:
            sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
        if sys.stderr is None:
            sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115


_active: OutputGuard | None = None


def guard_output(log_path: Path) -> OutputGuard:
    """Start guarding this process's output into ``log_path`` (once per process; closed at exit)."""
    global _active
    if _active is None:
        _active = OutputGuard(log_path)
        atexit.register(_active.close)
    return _active


def _duplicate(fd: int) -> int | None:
    try:
        return os.dup(fd)
    except OSError:  # closed: keep the descriptor number taken, so that os.pipe() cannot hand it out
        devnull = os.open(os.devnull, os.O_WRONLY)
        if devnull != fd:
            os.dup2(devnull, fd)
            os.close(devnull)
        return None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
