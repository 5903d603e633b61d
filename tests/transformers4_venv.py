"""A virtual environment with the newest transformers 4.x, built once and cached, for loading exports the way
fine-tuning code that has not moved to 5.x does. Tokenizers need no torch, so none is installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "luke-pipeline" / "venvs" / "transformers-4"
REQUIREMENTS = ("transformers<5", "sentencepiece", "tokenizers")
READY = "requirements.json"  # written last: a venv without it is incomplete


def transformers4_python() -> Path:
    """The venv's interpreter, building the venv first if needed; skips the test (with pip's reason) when the
    packages cannot be installed, e.g. offline."""
    python = VENV / "bin" / "python"
    ready = VENV / READY
    if ready.is_file() and json.loads(ready.read_text()) == list(REQUIREMENTS) and python.is_file():
        return python
    VENV.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{VENV.name}-", dir=VENV.parent))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(staging)], check=True, capture_output=True)
        install = subprocess.run(
            [
                str(staging / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                *REQUIREMENTS,
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if install.returncode != 0:
            reason = (install.stderr.strip().splitlines() or ["pip failed"])[-1]
            pytest.skip(f"cannot build the transformers 4.x venv ({' '.join(REQUIREMENTS)}): {reason}")
        (staging / READY).write_text(json.dumps(list(REQUIREMENTS)))
        shutil.rmtree(VENV, ignore_errors=True)
        staging.rename(VENV)  # only bin/python is used, which does not depend on the directory's name
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return python
