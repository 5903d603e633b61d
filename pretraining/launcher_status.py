"""``python -m pretraining.launcher_status LAUNCHER [ARG ...]``: run a launcher of ``luke train`` ranks (srun,
torchrun, deepspeed) and exit with ``luke train``'s own code.

torchrun turns a rank's exit 75 (stopped on request, checkpoint saved; ``pretraining.exit_codes``) into its
own 1, the DeepSpeed launcher into whichever non-zero code came first, srun into the highest code of its tasks
or a signal's. So the ranks write their code into a fresh ``$LUKE_EXIT_STATUS_DIR`` on this node, and this
exits 75 when the launcher failed but a rank recorded 75 (ranks get there only after every rank saved the
checkpoint; a launcher then kills the slower ones). Otherwise the launcher's code.

SIGTERM and SIGUSR1 sent to this process are passed on to the launcher; SIGINT is ignored (Ctrl-C reaches the
launcher and the ranks directly, as the terminal's whole process group).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from pretraining.exit_codes import STATUS_DIR_VARIABLE, STOPPED


def exit_code(launcher_code: int, status_dir: Path) -> int:
    """The code to report for a launcher that exited with ``launcher_code`` (negative: killed by that signal)."""
    recorded = {path.read_text(encoding="utf-8").strip() for path in status_dir.glob("rank-*")}
    if launcher_code != 0 and str(STOPPED) in recorded:
        return STOPPED
    return launcher_code if launcher_code >= 0 else 128 - launcher_code


def run(command: list[str]) -> int:
    """Run ``command`` with ``$LUKE_EXIT_STATUS_DIR`` set (a fresh directory unless it is set already, e.g. by a
    script that forwards it to ranks on other hosts) and return :func:`exit_code`."""
    with contextlib.ExitStack() as stack:
        directory = os.environ.get(STATUS_DIR_VARIABLE) or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="luke-exit-status-")
        )
        process = subprocess.Popen(command, env={**os.environ, STATUS_DIR_VARIABLE: directory})
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for signum in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(signum, lambda received, frame: process.send_signal(received))
        return exit_code(process.wait(), Path(directory))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m pretraining.launcher_status LAUNCHER [ARG ...]")
    sys.exit(run(sys.argv[1:]))
