"""Short DeepSpeed runs laid out as `luke train` lays them out, and `luke export` of them, for tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from training_runs import free_port

from luke.cli import main

ZERO_RUN = Path(__file__).parent / "export_support" / "zero_run.py"
REPO = Path(__file__).resolve().parents[1]


def train_zero_runs(runs: Path, jobs: list[str]) -> Path:
    """Run ``export_support/zero_run.py`` for ``jobs`` (``NAME:CORPUS:STAGE[:fp32]``) into ``runs``."""
    env = dict(os.environ, DS_ACCELERATOR="cpu", MASTER_PORT=str(free_port()), PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, str(ZERO_RUN), str(runs), *jobs], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return runs


def export(source: Path, output: Path, *options: str):
    return CliRunner().invoke(main, ["export", str(source), "--output", str(output), *options])
