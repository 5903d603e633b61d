"""`luke` with a fault injected, for tests of bad conditions that cannot be produced on demand.

LUKE_TEST_FAULT=nan-loss-at-step:N   the model's loss is NaN from the N-th forward pass (1-based) on
LUKE_TEST_FAULT=disk-full-at:TAG     every file write of checkpoint TAG fails with ENOSPC
"""

from __future__ import annotations

import errno
import os

import torch


def inject(fault: str) -> None:
    kind, _, argument = fault.partition(":")
    if kind == "nan-loss-at-step":
        from luke.model import LukeForPretraining

        forward = LukeForPretraining.forward
        calls = {"count": 0}

        def nan_forward(self, *args, **kwargs):
            output = forward(self, *args, **kwargs)
            calls["count"] += 1
            if calls["count"] >= int(argument) and self.training:
                output.loss = output.loss * float("nan")
            return output

        LukeForPretraining.forward = nan_forward
    elif kind == "disk-full-at":
        save = torch.save

        def full_disk_save(obj, f, *args, **kwargs):
            if argument in str(f):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(f))
            return save(obj, f, *args, **kwargs)

        torch.save = full_disk_save
    else:
        raise ValueError(f"unknown LUKE_TEST_FAULT {fault!r}")


if __name__ == "__main__":
    inject(os.environ["LUKE_TEST_FAULT"])
    from luke.cli import main

    main()
