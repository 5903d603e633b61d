"""Where this process sits in the job: rank, world size, local rank — from torchrun/deepspeed, SLURM or nothing.

torchrun and the DeepSpeed launcher export ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``. Under ``srun`` (one task per GPU) only ``SLURM_PROCID``, ``SLURM_NTASKS`` and
``SLURM_LOCALID`` exist: they are translated, and the master address is the first host of the job (the
launch script exports ``MASTER_ADDR``). With none of them this is a single process on 127.0.0.1.
"""

from __future__ import annotations

import datetime
import os
import socket
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from luke import quiet
from pretraining.extension_locks import clear_stale_locks
from pretraining.process_env import extensions_root

T = TypeVar("T")


@dataclass(frozen=True)
class ProcessPlacement:
    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def placement_from_environment(environ: dict[str, str] | None = None) -> ProcessPlacement:
    """Read the placement of this process from the launcher's environment variables."""
    env = os.environ if environ is None else environ
    if "RANK" in env and "WORLD_SIZE" in env:
        return ProcessPlacement(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", "0")))
    if "SLURM_PROCID" in env and "SLURM_NTASKS" in env:
        return ProcessPlacement(int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", "0")))
    return ProcessPlacement(0, 1, 0)


def export_placement(placement: ProcessPlacement) -> None:
    """Make the torch.distributed env:// variables match ``placement`` (needed under srun and alone). A lone
    process takes a free port, so that runs side by side on one machine do not meet in one rendezvous."""
    os.environ["RANK"] = str(placement.rank)
    os.environ["WORLD_SIZE"] = str(placement.world_size)
    os.environ["LOCAL_RANK"] = str(placement.local_rank)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if "MASTER_PORT" not in os.environ:
        os.environ["MASTER_PORT"] = str(_free_port() if placement.world_size == 1 else 29500)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def init_distributed(placement: ProcessPlacement, timeout_minutes: int = 30) -> None:
    """Start DeepSpeed's process group (NCCL on GPUs, gloo on CPU) and pin this process to its GPU, first clearing
    the JIT build locks of killed starts (every DeepSpeed op is built or loaded after this)."""
    import deepspeed

    clear_stale_locks(extensions_root())
    export_placement(placement)
    if torch.cuda.is_available():
        torch.cuda.set_device(placement.local_rank)
        backend = "nccl"
    else:
        backend = "gloo"
    with quiet.known_output_dropped():  # every rank prints that DeepSpeed's shared-memory op is loaded
        deepspeed.init_distributed(
            dist_backend=backend, timeout=datetime.timedelta(minutes=timeout_minutes), dist_init_required=True
        )


def all_ranks_true(flag: bool) -> bool:
    """True on every rank only if ``flag`` is true on every rank (a collective)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return flag
    tensor = torch.tensor([0 if flag else 1], dtype=torch.int64, device=_collective_device())
    dist.all_reduce(tensor)
    return int(tensor.item()) == 0


def any_rank_true(flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any rank (a collective)."""
    return not all_ranks_true(not flag)


def barrier() -> None:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_gather(value: T) -> list[T]:
    """``value`` of every rank, in rank order, on every rank (a collective; values are pickled in memory)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return [value]
    gathered: list[T] = [value] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def broadcast_from_main(value: T) -> T:
    """Rank 0's ``value`` on every rank (a collective; the other ranks' ``value`` is ignored)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
