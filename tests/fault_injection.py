"""`luke` with a fault injected, for tests of bad conditions that cannot be produced on demand.

LUKE_TEST_FAULT=nan-loss-at-step:N   the model's loss is NaN from the N-th forward pass (1-based) on
LUKE_TEST_FAULT=disk-full-at:TAG     every file write of checkpoint TAG fails with ENOSPC
LUKE_TEST_FAULT=disk-full-on-write:TAG  every Beam file write to a path containing TAG fails with ENOSPC after its
                                     first 4 KiB (Beam's in-memory runner runs the job in this process)
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
    elif kind == "disk-full-on-write":
        from apache_beam.io.filesystems import FileSystems

        create = FileSystems.create

        def full_disk_create(path, *args, **kwargs):
            stream = create(path, *args, **kwargs)
            return _FillingStream(stream) if argument in path else stream

        FileSystems.create = full_disk_create
    else:
        raise ValueError(f"unknown LUKE_TEST_FAULT {fault!r}")


class _FillingStream:
    """A writable stream on a disk that is full after ``room`` bytes."""

    def __init__(self, stream, room: int = 4096) -> None:
        self._stream, self._room = stream, room

    def write(self, data) -> int:
        if len(data) > self._room:
            self._stream.write(bytes(data[: self._room]))
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a real write: no file named
        self._room -= len(data)
        return self._stream.write(data)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self._stream.close()


if __name__ == "__main__":
    inject(os.environ["LUKE_TEST_FAULT"])
    from luke.cli import main

    main()
