"""Environment defaults ``luke train`` sets for DeepSpeed before importing it (a variable already set wins)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXTENSIONS_VARIABLE = "TORCH_EXTENSIONS_DIR"


def extensions_dir() -> Path:
    """Where DeepSpeed's JIT-built ops are cached by default: inside the active Python environment. Their build
    files name the environment's paths, so environments sharing ``~/.cache/torch_extensions`` rebuild each
    other's ops (~1-2 min each time)."""
    return Path(sys.prefix) / "torch_extensions"


def extensions_root() -> Path:
    """The directory torch builds ops in: ``$TORCH_EXTENSIONS_DIR``, set to :func:`extensions_dir` if unset."""
    return Path(os.environ.setdefault(EXTENSIONS_VARIABLE, str(extensions_dir())))


def set_deepspeed_defaults(gpu_available: bool) -> None:
    """``DS_ACCELERATOR=cpu`` without a GPU; the JIT cache in :func:`extensions_root`."""
    if not gpu_available:
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    extensions_root()
