"""Forward + backward of one pretraining step: LukeForPretraining against transformers.LukeForMaskedLM.

Both models hold the same weights and get the same batch (labels at 15 % of the words and entities), in
training mode (dropout on). transformers runs its default (eager) attention and computes logits for every
position; ours runs fused attention and logits at the labelled positions only. Each measurement runs in a
fresh subprocess:

* time: both models in one process, one warm-up step each, then ``--steps`` steps alternating between the two
  (so that both see the same machine load; other processes may share the cores), medians;
* memory: one step per model, each in a fresh process. On CPU, peak = the process's resident-set high-water
  mark during the step (``VmHWM``, reset through ``/proc/self/clear_refs`` just before it) minus its resident
  set just before it: every byte the step touches (activations, logits, gradients, allocator overhead),
  whoever allocates it, but not the parameters, the batch or the libraries. On CUDA, peak = the allocator's
  ``max_memory_allocated`` during the step minus what was allocated before it.

Throughput is tokens (words + entities) per second; model FLOPs are ``luke.model_size.training_flops`` (the
algorithm's matrix multiplications, forward + backward, heads at the labelled positions), the same count for
both implementations; MFU = model FLOP/s ÷ ``--peak-tflops`` (known for H100/H200/A100 in bf16).

    python benchmarks/bench_model.py                   # 4 layers, hidden 256, 512 words + 128 entities, batch 4
    python benchmarks/bench_model.py --attention-dropout 0
    python benchmarks/bench_model.py --config luke-large --device cuda --dtype bfloat16 --batch-size 16
    python benchmarks/bench_model.py --config luke-large --device cuda --dtype bfloat16 --compile --json row.json
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
NAMES = {"ours": "ours (fused SDPA, labelled logits)", "transformers": "transformers (eager, full logits)"}
MODES = {"plain": False, "entity-aware": True}
# dense bf16 tensor-core peaks (TFLOP/s) by device-name fragment
PEAK_BF16_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--config", help="a named model config (e.g. luke-large) instead of --layers/--hidden; vocabularies still apply"
    )
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
    parser.add_argument("--steps", type=int, default=5, help="timed steps per model (default 5)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32", help="parameter dtype")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads (default: all cores)")
    parser.add_argument("--peak-tflops", type=float, help="device peak for MFU (default: known GPUs in bf16)")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES), help="attention modes")
    parser.add_argument(
        "--implementations", nargs="+", choices=IMPLEMENTATIONS, default=list(IMPLEMENTATIONS), help="models to run"
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile our encoder layers (not transformers')")
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend (default inductor)")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--worker", nargs=3, metavar=("MEASURE", "MODE", "IMPL"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def model_config(args: argparse.Namespace, mode: str):
    from luke.configs import load_model_config

    overrides = {
        "vocab_size": args.vocab_size,
        "entity_vocab_size": args.entity_vocab_size,
        "attention_probs_dropout_prob": args.attention_dropout,
        "use_entity_aware_attention": MODES[mode],
    }
    if args.config:
        return load_model_config(args.config, **overrides)
    return load_model_config(
        "luke-base",
        num_hidden_layers=args.layers,
        hidden_size=args.hidden,
        num_attention_heads=max(1, args.hidden // 64),
        intermediate_size=4 * args.hidden,
        entity_emb_size=min(256, args.hidden),
        **overrides,
    )


def build(args: argparse.Namespace, implementation: str, mode: str):
    """The model under test (training mode, on the device) and its keyword arguments: shared weights and batch."""
    import torch

    from luke.model import LukeForPretraining
    from luke.synthetic_batch import random_batch, transformers_inputs

    torch.set_num_threads(args.threads)
    config = model_config(args, mode)
    torch.manual_seed(0)
    with torch.device(args.device):  # initialised where it runs: LUKE-large's weights take seconds on a CPU
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

        with torch.device(args.device):
            reference = LukeForMaskedLM(config)
        reference.load_state_dict(model.state_dict(), strict=True)
        model, batch = reference, transformers_inputs(batch)
    elif args.compile:
        model.compile_layers(args.compile_backend)
    model = model.to(device=args.device, dtype=getattr(torch, args.dtype)).train()
    return model, {key: value.to(args.device) for key, value in batch.items()}


def step(model, batch) -> None:
    model.zero_grad(set_to_none=True)
    model(**batch).loss.backward()


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_steps(args: argparse.Namespace, mode: str) -> dict[str, float]:
    """Median seconds per step of each implementation, steps alternating between them."""
    models = {implementation: build(args, implementation, mode) for implementation in args.implementations}
    times: dict[str, list[float]] = {implementation: [] for implementation in models}
    for model, batch in models.values():
        step(model, batch)  # warm-up
    for _ in range(args.steps):
        for implementation, (model, batch) in models.items():
            synchronize(args.device)
            start = time.perf_counter()
            step(model, batch)
            synchronize(args.device)
            times[implementation].append(time.perf_counter() - start)
    return {implementation: statistics.median(values) for implementation, values in times.items()}


def resident_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def step_memory_mib(args: argparse.Namespace, implementation: str, mode: str) -> float:
    """Memory one step adds at its peak over what the process held just before it (see the module docstring)."""
    import gc

    import torch

    model, batch = build(args, implementation, mode)
    if args.compile:  # compile outside the measured step
        step(model, batch)
        model.zero_grad(set_to_none=True)
    gc.collect()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step(model, batch)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    before = resident_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
    step(model, batch)
    return (resident_kib("VmHWM") - before) / 1024


def worker(args: argparse.Namespace) -> dict[str, float]:
    measure, mode, implementation = args.worker
    if measure == "time":
        return time_steps(args, mode)
    return {implementation: step_memory_mib(args, implementation, mode)}


def run_worker(argv: list[str], measure: str, mode: str, implementation: str = "all") -> dict[str, float]:
    command = [sys.executable, __file__, *argv, "--worker", measure, mode, implementation]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{measure}/{mode}/{implementation} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def peak_tflops(args: argparse.Namespace) -> float | None:
    if args.peak_tflops or not args.device.startswith("cuda") or args.dtype != "bfloat16":
        return args.peak_tflops
    return device_peak_bf16_tflops(args.device)


def device_peak_bf16_tflops(device: str = "cuda") -> float | None:
    """The dense bf16 peak (TFLOP/s) of the CUDA ``device``, when it is one of :data:`PEAK_BF16_TFLOPS`."""
    import torch

    name = torch.cuda.get_device_name(device)
    return next((peak for fragment, peak in PEAK_BF16_TFLOPS.items() if fragment in name), None)


def step_flops(args: argparse.Namespace, mode: str) -> int:
    from luke.model_size import training_flops

    labels = round(args.label_fraction * args.words), round(args.label_fraction * args.entities)
    return training_flops(
        model_config(args, mode),
        args.batch_size,
        args.words,
        args.entities,
        args.batch_size * labels[0],
        args.batch_size * labels[1],
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return
    size = args.config or f"{args.layers} layers, hidden {args.hidden}"
    threads = f", {args.threads} threads" if args.device == "cpu" else ""
    print(
        f"LUKE pretraining step (forward + backward), {size}, batch {args.batch_size} × ({args.words} words + "
        f"{args.entities} entities), vocabularies {args.vocab_size:,} words / {args.entity_vocab_size:,} entities, "
        f"{args.label_fraction:.0%} labels, attention dropout {args.attention_dropout}, {args.device} "
        f"{args.dtype}{threads}, median of {args.steps} steps"
    )
    peak = peak_tflops(args)
    header = (
        f"{'attention':13s} {'model':35s} {'time/step':>10s} {'peak memory':>12s} {'tokens/s':>9s} "
        f"{'GFLOP/s':>10s}{'   MFU' if peak else ''}"
    )
    print(header)
    print("-" * len(header))
    rows = measure_rows(argv, args, peak)
    for mode in args.modes:
        mode_rows = [row for row in rows if row["mode"] == mode]
        for row in mode_rows:
            print(
                f"{mode:13s} {NAMES[row['implementation']]:35s} {row['seconds']:9.3f}s "
                f"{row['peak_mib']:8.0f} MiB {row['tokens_per_s']:9.0f} {row['gflops_per_s']:10,.1f}"
                + (f" {row['mfu']:6.1%}" if peak else "")
            )
        for row in mode_rows:
            if "speedup_vs_transformers" in row:
                print(
                    f"{mode:13s} {'ratio ours vs transformers':35s} {row['speedup_vs_transformers']:8.2f}× "
                    f"faster, {row['memory_vs_transformers']:.2f}× the memory"
                )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


def measure_rows(argv: list[str], args: argparse.Namespace, peak: float | None) -> list[dict]:
    """One row per (attention mode, implementation): seconds per step, peak MiB, tokens/s, GFLOP/s, MFU; ours
    also carries its speed-up and memory ratio against transformers when both ran."""
    tokens = args.batch_size * (args.words + args.entities)
    rows = []
    for mode in args.modes:
        seconds = run_worker(argv, "time", mode)
        memory = {}
        for implementation in args.implementations:
            memory |= run_worker(argv, "memory", mode, implementation)
        gflops = step_flops(args, mode) / 1e9
        for implementation in args.implementations:
            row = {
                "mode": mode,
                "implementation": implementation,
                "batch_size": args.batch_size,
                "compiled": args.compile and implementation == "ours",
                "seconds": seconds[implementation],
                "peak_mib": memory[implementation],
                "tokens_per_s": tokens / seconds[implementation],
                "gflops_per_s": gflops / seconds[implementation],
                "mfu": gflops / seconds[implementation] / (peak * 1000) if peak else None,
            }
            if implementation == "ours" and len(args.implementations) == 2:
                row["speedup_vs_transformers"] = seconds["transformers"] / seconds["ours"]
                row["memory_vs_transformers"] = memory["ours"] / memory["transformers"]
            rows.append(row)
    return rows


if __name__ == "__main__":
    main()
