"""Forward + backward of one pretraining step: LukeForPretraining against transformers.LukeForMaskedLM.

Both models hold the same weights and get the same batch (labels at 15 % of the words and entities), in
training mode (dropout on). transformers runs its default (eager) attention and computes logits for every
position; ours runs fused attention and logits at the labelled positions only. Each measurement runs in a
fresh subprocess:

* time: both models in one process, one warm-up step each, then ``--steps`` steps alternating between the two
  (so that both see the same machine load; other processes share these cores), medians;
* memory: one step per model, each in a fresh process; peak = the process's resident-set high-water mark during the
  step (``VmHWM``, reset through ``/proc/self/clear_refs`` just before it) minus its resident set just before
  it, so it counts every byte the step touches (activations, logits, gradients, allocator overhead), whoever
  allocates it, and not the parameters, the batch or the libraries.

    python benchmarks/bench_model.py                   # 4 layers, hidden 256, 512 words + 128 entities, batch 4
    python benchmarks/bench_model.py --attention-dropout 0 --entity-vocab-size 500000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

IMPLEMENTATIONS = ("ours", "transformers")
MODES = {"plain": False, "entity-aware": True}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=4, help="transformer layers (default 4)")
    parser.add_argument("--hidden", type=int, default=256, help="hidden size; heads = hidden / 64 (default 256)")
    parser.add_argument("--words", type=int, default=512, help="words per sequence (default 512)")
    parser.add_argument("--entities", type=int, default=128, help="entities per sequence (default 128)")
    parser.add_argument("--batch-size", type=int, default=4, help="sequences per batch (default 4)")
    parser.add_argument("--vocab-size", type=int, default=50267, help="word vocabulary (default LUKE's 50267)")
    parser.add_argument("--entity-vocab-size", type=int, default=50000, help="entity vocabulary (default 50000)")
    parser.add_argument("--label-fraction", type=float, default=0.15, help="labelled positions (default 0.15)")
    parser.add_argument(
        "--attention-dropout", type=float, default=0.1, help="attention_probs_dropout_prob (default LUKE's 0.1)"
    )
    parser.add_argument("--steps", type=int, default=5, help="timed steps per configuration (default 5)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES), help="attention modes")
    parser.add_argument("--worker", nargs=3, metavar=("MEASURE", "MODE", "IMPL"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def build(args: argparse.Namespace, implementation: str, mode: str):
    """The model under test (training mode) and its keyword arguments, with the shared weights and batch."""
    import torch

    from luke.configs import load_model_config
    from luke.model import LukeForPretraining
    from luke.synthetic_batch import random_batch, transformers_inputs

    torch.set_num_threads(args.threads)
    config = load_model_config(
        "luke-base",
        num_hidden_layers=args.layers,
        hidden_size=args.hidden,
        num_attention_heads=max(1, args.hidden // 64),
        intermediate_size=4 * args.hidden,
        entity_emb_size=min(256, args.hidden),
        vocab_size=args.vocab_size,
        entity_vocab_size=args.entity_vocab_size,
        attention_probs_dropout_prob=args.attention_dropout,
        use_entity_aware_attention=MODES[mode],
    )
    torch.manual_seed(0)
    model = LukeForPretraining(config)
    batch = random_batch(
        config,
        torch.Generator().manual_seed(0),
        batch_size=args.batch_size,
        num_words=args.words,
        num_entities=args.entities,
        max_mention_length=30,
        label_fraction=args.label_fraction,
        padded=False,
    )
    if implementation == "transformers":
        from transformers import LukeForMaskedLM

        reference = LukeForMaskedLM(config)
        reference.load_state_dict(model.state_dict(), strict=True)
        model, batch = reference, transformers_inputs(batch)
    return model.train(), batch


def step(model, batch) -> None:
    model.zero_grad(set_to_none=True)
    model(**batch).loss.backward()


def resident_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def time_steps(args: argparse.Namespace, mode: str) -> dict[str, float]:
    """Median seconds per step of each implementation, steps alternating between them."""
    models = {implementation: build(args, implementation, mode) for implementation in IMPLEMENTATIONS}
    times: dict[str, list[float]] = {implementation: [] for implementation in IMPLEMENTATIONS}
    for implementation in IMPLEMENTATIONS:
        step(*models[implementation])  # warm-up
    for _ in range(args.steps):
        for implementation in IMPLEMENTATIONS:
            start = time.perf_counter()
            step(*models[implementation])
            times[implementation].append(time.perf_counter() - start)
    return {implementation: statistics.median(values) for implementation, values in times.items()}


def step_memory_mib(args: argparse.Namespace, implementation: str, mode: str) -> float:
    """Resident memory one step adds at its peak, over what the process held just before it."""
    import gc

    model, batch = build(args, implementation, mode)
    gc.collect()
    before = resident_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
    step(model, batch)
    return (resident_kib("VmHWM") - before) / 1024


def worker(args: argparse.Namespace) -> dict[str, float]:
    measure, mode, implementation = args.worker
    if measure == "time":
        return time_steps(args, mode)
    return {implementation: step_memory_mib(args, implementation, mode)}


def run_worker(argv: list[str], measure: str, mode: str, implementation: str = "both") -> dict[str, float]:
    command = [sys.executable, __file__, *argv, "--worker", measure, mode, implementation]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{measure}/{mode}/{implementation} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return
    print(
        f"LUKE pretraining step (forward + backward), {args.layers} layers, hidden {args.hidden}, batch "
        f"{args.batch_size} × ({args.words} words + {args.entities} entities), vocabularies {args.vocab_size:,} "
        f"words / {args.entity_vocab_size:,} entities, {args.label_fraction:.0%} labels, attention dropout "
        f"{args.attention_dropout}, {args.threads} threads, median of {args.steps} steps"
    )
    header = f"{'attention':14s} {'model':38s} {'time/step':>10s} {'peak memory':>12s}"
    print(header)
    print("-" * len(header))
    for mode in args.modes:
        seconds = run_worker(argv, "time", mode)
        memory = {}
        for implementation in IMPLEMENTATIONS:
            memory |= run_worker(argv, "memory", mode, implementation)
        names = {
            "ours": "ours (fused SDPA, labelled logits)",
            "transformers": "transformers (eager, full logits)",
        }
        for implementation in IMPLEMENTATIONS:
            print(
                f"{mode:14s} {names[implementation]:38s} {seconds[implementation]:9.3f}s "
                f"{memory[implementation]:9.0f} MiB"
            )
        print(
            f"{mode:14s} {'ratio':38s} {seconds['transformers'] / seconds['ours']:8.2f}× faster "
            f"{memory['ours'] / memory['transformers']:6.2f}× memory"
        )


if __name__ == "__main__":
    main()
