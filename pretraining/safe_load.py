"""Reading the torch pickles of a checkpoint without running code from them.

``torch.load(weights_only=True)`` rebuilds tensors, containers and plain values only, plus the classes allowed
here: exactly those DeepSpeed 0.19 and our random-state files put in checkpoints (ZeRO 0-3, bf16/fp16/fp32,
offload; measured on real checkpoints of each). DeepSpeed's loaders (``engine.load_checkpoint``,
``zero_to_fp32``) pass ``weights_only=False``: :func:`weights_only_loads` makes every ``torch.load`` of the
process safe while it is active (torch's ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` overrides the argument).
:func:`unsafe_globals` names what a file would need beyond that, without unpickling it, so a refusal names
the file and the type.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

FORCE_WEIGHTS_ONLY = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"


@functools.cache
def checkpoint_globals() -> list:
    """The classes and functions a checkpoint may name (imported when first needed: DeepSpeed is heavy)."""
    from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler
    from deepspeed.runtime.zero.config import ZeroStageEnum
    from deepspeed.utils.tensor_fragment import fragment_address

    reconstruct = (np._core if hasattr(np, "_core") else np.core).multiarray._reconstruct  # numpy 2 / 1.x
    return [
        LossScaler,  # ZeRO optimizer states: the loss scaler object (fp32/bf16: static, fp16: dynamic)
        DynamicLossScaler,
        ZeroStageEnum,  # ZeRO optimizer states: the stage
        fragment_address,  # ZeRO 1/2 optimizer states: where each parameter lies in the flat partition
        # rng/rank-N.pt: numpy's generator state, a uint32 array (pickled by numpy 2, by numpy 1.x)
        (reconstruct, "numpy._core.multiarray._reconstruct"),
        (reconstruct, "numpy.core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
        type(np.dtype(np.uint32)),
    ]


@contextlib.contextmanager
def weights_only_loads() -> Iterator[None]:
    """While active, every ``torch.load`` in this process (DeepSpeed's included) reads with ``weights_only=True``
    and the checkpoint classes allowed; a pickle needing anything else raises ``pickle.UnpicklingError``.
    Nested uses are no-ops (torch's allow-list is a set: an inner exit would empty it for the outer one)."""
    allowed = checkpoint_globals()
    if os.environ.get(FORCE_WEIGHTS_ONLY) == "1" and set(allowed) <= set(torch.serialization.get_safe_globals()):
        yield
        return
    previous = os.environ.get(FORCE_WEIGHTS_ONLY)
    os.environ[FORCE_WEIGHTS_ONLY] = "1"
    try:
        with torch.serialization.safe_globals(allowed):
            yield
    finally:
        if previous is None:
            del os.environ[FORCE_WEIGHTS_ONLY]
        else:
            os.environ[FORCE_WEIGHTS_ONLY] = previous


def unsafe_globals(path: Path) -> list[str]:
    """The functions and classes the pickle of ``path`` names beyond the allowed ones, read statically (nothing
    is unpickled). Raises ``ValueError``/``RuntimeError``/``OSError`` when ``path`` is no readable ``torch.save``
    file (e.g. truncated)."""
    with weights_only_loads():
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))


def refusal_reason(error: pickle.UnpicklingError) -> str:
    """The line of torch's weights-only refusal that says what was refused (its other lines are advice)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if "GLOBAL" in line or "got <class" in line or "Unsupported" in line]
    return (named or lines or [type(error).__name__])[0].removeprefix("WeightsUnpickler error: ")
