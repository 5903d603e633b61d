"""What the checkpoint manifest costs: saving a ~1 GB DeepSpeed checkpoint with and without it.

A real DeepSpeed engine (ZeRO-2, bf16, AdamW after one step; CPU, one rank) whose checkpoint is ~1.2 GB (bf16
module states + fp32 master weights and both Adam moments), saved alternately by ``CheckpointManager.save``
(every file hashed as it is written, manifest, ``latest``) and by DeepSpeed's ``save_checkpoint`` alone. The cost
is the median of the saves with the manifest minus the median without, relative to the latter; the time to hash
the files afterwards from disk (what verification costs at resume / export) is printed for comparison. Saves
that only reach the page cache vary several-fold with the kernel's writeback, so each repeat runs both saves
back to back and the median of the repeats' own differences is printed too.

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

    from pretraining.distributed import export_placement, placement_from_environment

    export_placement(placement_from_environment())
    deepspeed.init_distributed(dist_backend="gloo")
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
    plain_dir = root / "plain"
    with_manifest, plain, hashing_after = [], [], []
    size = 0
    try:
        for repeat in range(args.repeats):
            for with_it in (True, False) if repeat % 2 == 0 else (False, True):  # alternate which goes first
                started = time.perf_counter()
                if with_it:
                    tag_dir = manager.directory / manager.save(engine, repeat + 1, {"step": repeat + 1}, {})
                    with_manifest.append(time.perf_counter() - started)
                else:
                    engine.save_checkpoint(str(plain_dir), tag="plain", save_latest=False)
                    plain.append(time.perf_counter() - started)
                    shutil.rmtree(plain_dir)
            size = sum((tag_dir / name).stat().st_size for name in files_under(tag_dir))
            started = time.perf_counter()
            hash_files(tag_dir, files_under(tag_dir))
            hashing_after.append(time.perf_counter() - started)
            shutil.rmtree(tag_dir)
            print(
                f"repeat {repeat + 1}: save with manifest {with_manifest[-1]:.2f} s, DeepSpeed alone "
                f"{plain[-1]:.2f} s, hashing from disk {hashing_after[-1]:.2f} s",
                flush=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base, total = statistics.median(plain), statistics.median(with_manifest)
    print(f"checkpoint: {size / 1e9:.2f} GB in {args.repeats} repeats (medians)")
    paired = statistics.median(w - p for w, p in zip(with_manifest, plain, strict=True))
    print(f"save without manifest {base:.2f} s, with {total:.2f} s: manifest cost {(total - base) / base:+.1%}")
    print(f"median of the repeats' own differences {paired:+.2f} s: {paired / base:+.1%} of the save without it")
    print(f"hashing the files afterwards (verification): {statistics.median(hashing_after):.2f} s")


if __name__ == "__main__":
    main()
