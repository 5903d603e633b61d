"""What the checkpoint manifest costs: saving a ~1 GB DeepSpeed checkpoint with and without it.

A real DeepSpeed engine (ZeRO-2, bf16, AdamW after one step; CPU, one rank) whose checkpoint is ~1.2 GB (bf16
module states + fp32 master weights and both Adam moments), saved in turn by ``CheckpointManager.save`` (each
file's 64 MiB chunks hashed in parallel once the file is written, manifest, ``latest``), by the same save without
hashing and manifest (as it was before manifests) and by DeepSpeed's ``save_checkpoint`` alone. The cost is the
median of the saves with the manifest minus the median without, relative to the latter; the time to hash the
files afterwards from disk (what verification costs at resume / export) is printed for comparison. Saves that
only reach the page cache vary several-fold with the kernel's writeback (a save that starts while the previous
one's pages are still dirty is throttled), so every save starts after ``sync``, each repeat runs all three back
to back (order alternating), and the median of the repeats' own differences and the fastest save of each kind
are printed too, as is the save followed by ``sync`` (the checkpoint on disk, which training does not wait for).

Usage: DS_ACCELERATOR=cpu python benchmarks/bench_checkpoint_manifest.py [--hidden 2048] [--layers 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DS_ACCELERATOR", "cpu")
for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}.items():
    os.environ.setdefault(key, value)


def build_engine(hidden: int, layers: int):
    import deepspeed
    import torch

    from pretraining.distributed import init_distributed, placement_from_environment

    init_distributed(placement_from_environment())  # as luke train: its JIT cache, stale build locks cleared
    model = torch.nn.Sequential(*[torch.nn.Linear(hidden, hidden) for _ in range(layers)])
    config = {
        "train_micro_batch_size_per_gpu": 1,
        "zero_optimization": {"stage": 2},
        "bf16": {"enabled": True},
        "optimizer": {"type": "AdamW", "params": {"lr": 1e-3}},
    }
    engine, *_ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=config)
    engine.backward(engine(torch.randn(1, hidden, dtype=torch.bfloat16)).float().sum())
    engine.step()  # the Adam moments exist from the first step on
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--directory", type=Path, default=None, help="where to save (default: a temporary dir)")
    args = parser.parse_args()

    from pretraining.checkpoint import CheckpointManager
    from pretraining.manifest import files_under, hash_files

    engine = build_engine(args.hidden, args.layers)
    root = Path(tempfile.mkdtemp(prefix="bench-manifest-", dir=args.directory))
    manager = CheckpointManager(root, rank=0, keep_last=args.repeats + 1)  # no pruning inside the timed save
    times: dict[str, list[float]] = {"manifest": [], "none": [], "deepspeed": []}
    on_disk: dict[str, list[float]] = {kind: [] for kind in times}
    hashing_after: list[float] = []
    size = 0
    try:
        for repeat in range(args.repeats):
            kinds = list(times) if repeat % 2 == 0 else list(reversed(times))  # alternate which goes first
            for kind in kinds:
                os.sync()  # no dirty pages of the previous save left to throttle this one's writes
                started = time.perf_counter()
                tag_dir = save(kind, manager, engine, root, repeat)
                times[kind].append(time.perf_counter() - started)
                os.sync()
                on_disk[kind].append(time.perf_counter() - started)
                if kind == "manifest":
                    size = sum((tag_dir / name).stat().st_size for name in files_under(tag_dir))
                    started = time.perf_counter()
                    hash_files(tag_dir, files_under(tag_dir))
                    hashing_after.append(time.perf_counter() - started)
                shutil.rmtree(tag_dir)
            print(f"repeat {repeat + 1}: " + ", ".join(f"{kind} {values[-1]:.2f} s" for kind, values in times.items()))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    paired = statistics.median(m - n for m, n in zip(times["manifest"], times["none"], strict=True))
    print(
        f"checkpoint: {size / 1e9:.2f} GB, {args.repeats} repeats, medians: "
        + ", ".join(f"{kind} {value:.2f} s" for kind, value in medians.items())
    )
    print(
        f"manifest cost: {(medians['manifest'] - medians['none']) / medians['none']:+.1%} of the save without it "
        f"(median of the repeats' own differences: {paired:+.2f} s, {paired / medians['none']:+.1%})"
    )
    fastest = {kind: min(values) for kind, values in times.items()}
    print(
        "fastest saves (the least disturbed by writeback): "
        + ", ".join(f"{kind} {value:.2f} s" for kind, value in fastest.items())
        + f"; manifest cost {(fastest['manifest'] - fastest['none']) / fastest['none']:+.1%}"
    )
    synced = {kind: statistics.median(values) for kind, values in on_disk.items()}
    print(
        "save + sync (on disk), medians: "
        + ", ".join(f"{kind} {value:.2f} s" for kind, value in synced.items())
        + f"; manifest cost {(synced['manifest'] - synced['none']) / synced['none']:+.1%}"
    )
    print(f"hashing the files afterwards from disk (verification): {statistics.median(hashing_after):.2f} s")


def save(kind: str, manager, engine, root: Path, repeat: int) -> Path:
    """One save: ``manifest`` (CheckpointManager.save as it is), ``none`` (the same without hashing and manifest:
    the save before manifests), ``deepspeed`` (DeepSpeed's save_checkpoint alone); returns the tag directory."""
    from unittest import mock

    import pretraining.checkpoint as checkpoint

    step = 3 * repeat + ["manifest", "none", "deepspeed"].index(kind) + 1
    if kind == "deepspeed":
        engine.save_checkpoint(str(root / "deepspeed"), tag="plain", save_latest=False)
        return root / "deepspeed" / "plain"
    if kind == "manifest":
        return manager.directory / manager.save(engine, step, {"step": step}, {})
    with (
        mock.patch.object(checkpoint.FileHasher, "add", lambda self, name: None),
        mock.patch.object(checkpoint.CheckpointManager, "_write_manifest", lambda *args: None),
    ):
        return manager.directory / manager.save(engine, step, {"step": step}, {})


if __name__ == "__main__":
    main()
