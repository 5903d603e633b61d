"""``luke train``'s exit codes, and the status file launch scripts read them back from.

0 means the stage reached ``schedule.max_steps``. 75 (``EX_TEMPFAIL``: "try again later") means a stop was
requested (SIGTERM, SIGINT, SIGUSR1) before that, a checkpoint was saved on every rank, and the same command
resumes: SLURM's script requeues the job on it, and a stage-2 job chained with ``afterok`` does not start.
Errors exit 1 with one line.

torchrun turns any non-zero exit of a rank into its own exit 1, so each rank also writes its code into
``$LUKE_EXIT_STATUS_DIR/rank-NNNNN`` when that variable is set: ``pretraining.launcher_status``, which the
scripts of ``launch/train/`` run their launcher with, reads them back.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FINISHED = 0
STOPPED = 75
STATUS_DIR_VARIABLE = "LUKE_EXIT_STATUS_DIR"


def record_exit_status(code: int, rank: int) -> None:
    """Write ``code`` to this rank's file in ``$LUKE_EXIT_STATUS_DIR``, when it is set (best effort: the
    directory is node-local and a rank on another node may not have it)."""
    directory = os.environ.get(STATUS_DIR_VARIABLE)
    if not directory:
        return
    with contextlib.suppress(OSError):
        (Path(directory) / f"rank-{rank:05d}").write_text(f"{code}\n", encoding="utf-8")
