"""Trainer step throughput (DeepSpeed ZeRO configs) vs a plain PyTorch loop, measured in the same run.

- baseline: ``LukeForPretraining`` + ``torch.optim.AdamW`` (fused on CUDA), forward/backward/step on
  pre-collated batches of the same loader (compute only: no DeepSpeed, no data loading, no metrics); under
  ``torch.autocast(bfloat16)`` when the first of the ``--deepspeed`` configs trains in bf16;
- trainer: ``pretraining.trainer.Trainer.train_step`` on the DeepSpeed engine of ``luke train``, one config of
  ``--deepspeed`` at a time, reading from the real loader (``--num-workers`` processes, masking on the fly)
  and reducing metrics, as in training.

Each measurement runs in a fresh process (one device, one rank), so peak memory is its own. Prints samples/s
and word tokens/s (medians of ``--repeats`` windows of ``--steps`` steps, after one warm-up step), peak memory
(CUDA: ``max_memory_allocated``; CPU: the process's resident high-water mark), model TFLOP/s and MFU on CUDA
(``luke.model_size.training_flops`` of the batches, peak from ``bench_model.device_peak_bf16_tflops``), the ratio
trainer / baseline (1.0 = the trainer adds nothing to the model's own cost) and the trainer's optimizer-step share
(median ``engine.step`` time over median step time, synchronised on CUDA); ``--json FILE`` also writes the rows.

Models: ``mid`` (4 layers × 256 hidden, 4 heads, FFN 1024, entity_emb_size 128, entity-aware attention) or a
named size of ``configs/model/`` (``luke-large``: 24 × 1024, 500K entities); rows of the sample corpus built
with max_seq_length 512 (mostly full), micro-batch ``--batch-size``.

    DS_ACCELERATOR=cpu python benchmarks/bench_trainer.py [--batch-size 4] [--steps 5] [--repeats 3]
    python benchmarks/bench_trainer.py --device cuda --model luke-large --batch-size 8 --num-workers 2 \\
        --deepspeed configs/deepspeed/zero{1,2,3}-bf16.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

MID_SIZE = {
    "hidden_size": 256,
    "entity_emb_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 1024,
    "use_entity_aware_attention": True,
}
BASELINE = "baseline"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="corpus directory (default: built from the sample dump)")
    parser.add_argument("--model", default="mid", help="mid, or a named size of configs/model/ (default mid)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="default cpu")
    parser.add_argument("--batch-size", type=int, default=4, help="micro-batch (default 4)")
    parser.add_argument("--steps", type=int, default=5, help="steps per timed window (default 5)")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows (default 3)")
    parser.add_argument("--num-workers", type=int, default=1, help="loader worker processes of the trainer")
    parser.add_argument(
        "--deepspeed",
        type=Path,
        nargs="+",
        default=[ROOT / "configs/deepspeed/zero2-fp32.json"],
        help="DeepSpeed configs to measure, one after the other (default configs/deepspeed/zero2-fp32.json)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="STEPS",
        help="after the timing, profile STEPS more steps of each measurement and print its 20 costliest operators "
        "(torch.profiler; by device time on CUDA)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one measurement: baseline or a DeepSpeed config
    return parser.parse_args(argv)


def sample_corpus(directory: Path) -> Path:
    from sample_corpus import read_paragraphs, train_bpe_tokenizer, write_corpus

    from preprocessing.sources.sample import fetch_sample_dump

    paragraphs = read_paragraphs(fetch_sample_dump("en"), max_pages=40, whole_pages=True)
    tokenizer = train_bpe_tokenizer([p.text for p in paragraphs], directory / "tokenizer")
    return write_corpus(directory / "corpus", paragraphs, tokenizer, max_seq_length=512, max_entity_length=128)


def median_rates(step, steps: int, repeats: int, sizes) -> tuple[float, float]:
    """Median samples/s and tokens/s over ``repeats`` windows of ``steps`` steps (after one warm-up step)."""
    step()
    samples, tokens = [], []
    for _ in range(repeats):
        counted = [0, 0]
        start = time.perf_counter()
        for _ in range(steps):
            n, t = sizes(step())
            counted[0] += n
            counted[1] += t
        elapsed = time.perf_counter() - start
        samples.append(counted[0] / elapsed)
        tokens.append(counted[1] / elapsed)
    return statistics.median(samples), statistics.median(tokens)


def sized_model_config(model: str, corpus_config):
    """``corpus_config`` (sized from the corpus) with the layers of ``model``: ``mid`` or a named size, whose
    vocabularies are kept where larger than the corpus's (LUKE-large's 500K entity table costs memory and time
    whatever ids the batches hold)."""
    from luke.configs import load_model_config

    if model == "mid":
        sizes = dict(MID_SIZE)
    else:
        named = load_model_config(model)
        sizes = {name: getattr(named, name) for name in MID_SIZE}
        sizes["vocab_size"] = max(named.vocab_size, corpus_config.vocab_size)
        sizes["entity_vocab_size"] = max(named.entity_vocab_size, corpus_config.entity_vocab_size)
    for name, value in sizes.items():
        setattr(corpus_config, name, value)
    return corpus_config


def flops_per_sample(model_config, batches) -> float:
    """Model FLOPs of a training step per sample, averaged over ``batches``."""
    from luke.model_size import training_flops
    from pretraining.data import IGNORE_INDEX

    total = sum(
        training_flops(
            model_config,
            batch["word_ids"].shape[0],
            batch["word_ids"].shape[1],
            batch["entity_ids"].shape[1],
            int((batch["masked_lm_labels"] != IGNORE_INDEX).sum()),
            int((batch["masked_entity_labels"] != IGNORE_INDEX).sum()),
        )
        for batch in batches
    )
    return total / sum(batch["word_ids"].shape[0] for batch in batches)


def peak_memory_mib(device: str) -> float:
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def measure(args: argparse.Namespace) -> dict[str, float]:
    """One measurement in this process: the baseline loop, or the trainer on DeepSpeed config ``args.worker``."""
    from pretraining.process_env import set_deepspeed_defaults

    set_deepspeed_defaults(gpu_available=args.device != "cpu")  # as luke train: its accelerator and JIT cache
    import torch

    from luke.model import LukeForPretraining
    from preprocessing.corpus import Corpus
    from pretraining.checkpoint import CheckpointManager
    from pretraining.config import load_config
    from pretraining.data import TokenizerInfo
    from pretraining.distributed import ProcessPlacement, init_distributed
    from pretraining.engine import build_engine, load_deepspeed_config
    from pretraining.loaders import build_loaders
    from pretraining.metrics_log import MetricsLogger
    from pretraining.model_setup import resolve_model_config
    from pretraining.preemption import PreemptionHandler
    from pretraining.trainer import Trainer

    deepspeed_file = Path(args.deepspeed[0] if args.worker == BASELINE else args.worker).resolve()
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Corpus.open(args.corpus)
        config = load_config(
            ROOT / "configs/train/tiny.yaml",
            [
                f"data.corpus={corpus.path}",
                f"run_dir={scratch}/run",
                f"batch.global_batch_size={args.batch_size}",
                f"batch.micro_batch_size={args.batch_size}",
                "schedule.warmup_steps=0",
                "eval.every_steps=0",
                f"data.num_workers={args.num_workers}",
                f"deepspeed={deepspeed_file}",
            ],
        )
        info = TokenizerInfo.from_pretrained(corpus.tokenizer_path)
        placement = ProcessPlacement(0, 1, 0)
        model_config = sized_model_config(args.model, resolve_model_config(config, corpus, info))
        init_distributed(placement)
        ds_config = load_deepspeed_config(config, 1)
        train_loader, _ = build_loaders(config, corpus, info, model_config, placement)
        batches = [batch for batch, _ in zip(train_loader, range(args.steps + 1), strict=False)]
        torch.manual_seed(0)
        model = LukeForPretraining(model_config)
        parameters = sum(parameter.numel() for parameter in model.parameters())
        extra: dict[str, float] = {}
        if args.worker == BASELINE:
            step, sizes = baseline_step(args, model, batches, ds_config)
            rates = median_rates(step, args.steps, args.repeats, sizes)
        else:
            engine = build_engine(model, config, ds_config)
            logger = MetricsLogger(Path(scratch), False, False, False, 0, 0)
            checkpoints = CheckpointManager(Path(scratch), 0, 1)
            trainer = Trainer(config, engine, train_loader, None, checkpoints, logger, 1, PreemptionHandler())
            optimizer_seconds, step_seconds = (
                timed(engine, "step", args.device),
                timed(trainer, "train_step", args.device),
            )
            step, sizes = lambda: trainer.train_step(False), lambda m: (m["samples"], m["word_tokens"])
            rates = median_rates(step, args.steps, args.repeats, sizes)
            extra["optimizer_step_share"] = statistics.median(optimizer_seconds) / statistics.median(step_seconds)
        if args.profile:
            print_profile(step, args.profile, args.device)
    return extra | {
        "samples_per_s": rates[0],
        "tokens_per_s": rates[1],
        "flops_per_sample": flops_per_sample(model_config, batches),
        "peak_mib": peak_memory_mib(args.device),
        "parameters": parameters,
    }


def timed(owner, method: str, device: str) -> list[float]:
    """Replace ``owner.method`` by a wrapper that appends the seconds of each call (synchronised on CUDA) to the
    list returned."""
    import torch

    seconds: list[float] = []
    original = getattr(owner, method)

    def wrapper(*args, **kwargs):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = original(*args, **kwargs)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
        return result

    setattr(owner, method, wrapper)
    return seconds


def print_profile(step, steps: int, device: str) -> None:
    """Run ``steps`` more steps under torch.profiler and print the 20 costliest operators."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=activities) as profiler:
        for _ in range(steps):
            step()
    order = "self_cuda_time_total" if device == "cuda" else "self_cpu_time_total"
    print(profiler.key_averages().table(sort_by=order, row_limit=20, max_name_column_width=60))


def baseline_step(args: argparse.Namespace, model, batches, ds_config: dict):
    """The plain loop's step and its sizes: AdamW (fused on CUDA), autocast to bf16 when the DeepSpeed configs
    train in bf16."""
    import contextlib

    import torch

    model.to(args.device)
    batches = [{name: tensor.to(args.device) for name, tensor in batch.items()} for batch in batches]
    fused = {"fused": True} if args.device == "cuda" else {}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, **fused)
    bf16 = ds_config.get("bf16", {}).get("enabled", False)
    precision = torch.autocast(args.device, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    cursor = iter(range(10**9))

    def plain_step():
        batch = batches[next(cursor) % len(batches)]
        with precision:
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if args.device == "cuda":
            torch.cuda.synchronize()
        return batch

    def batch_size(batch):
        return batch["word_ids"].shape[0], int(batch["word_attention_mask"].sum())

    return plain_step, batch_size


def run_worker(argv: list[str], corpus: Path, name: str, echo: bool) -> dict[str, float]:
    """One measurement in a fresh process; ``echo`` prints what it printed before its result (--profile)."""
    command = [sys.executable, __file__, *argv, "--corpus", str(corpus), "--worker", name]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"measurement {name} failed:\n{result.stderr[-4000:]}")
    *printed, last = result.stdout.strip().splitlines()
    if echo:
        print(f"{name}:", *printed, sep="\n")
    return json.loads(last)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args)))
        return
    from bench_model import device_peak_bf16_tflops

    peak = device_peak_bf16_tflops() if args.device == "cuda" else None
    with tempfile.TemporaryDirectory() as scratch:
        corpus = args.corpus or sample_corpus(Path(scratch))
        results = {BASELINE: run_worker(argv, corpus, BASELINE, args.profile > 0)}
        for path in args.deepspeed:
            results[path.stem] = run_worker(argv, corpus, str(path), args.profile > 0)
    base = results[BASELINE]
    print(
        f"model: {args.model} ({base['parameters'] / 1e6:.1f}M parameters), micro-batch {args.batch_size}, "
        f"{args.device}, {args.num_workers} loader worker(s), medians of {args.repeats} × {args.steps} steps"
    )
    print(
        f"{'run':28s} {'samples/s':>10s} {'tokens/s':>10s} {'peak MiB':>9s} {'TFLOP/s':>8s} {'MFU':>6s} {'ratio':>6s} "
        f"{'optim':>6s}"
    )
    for name, result in results.items():
        result["tflops"] = result["samples_per_s"] * result["flops_per_sample"] / 1e12
        result["mfu"] = result["tflops"] / peak if peak else None
        result["ratio_to_baseline"] = result["samples_per_s"] / base["samples_per_s"]
        label = "baseline (plain PyTorch loop)" if name == BASELINE else f"trainer, {name}"
        mfu = f"{result['mfu']:.1%}" if peak else "n/a"
        share = result.get("optimizer_step_share")
        optimizer = f"{share:.1%}" if share is not None else ""
        print(
            f"{label:28s} {result['samples_per_s']:10.2f} {result['tokens_per_s']:10.0f} {result['peak_mib']:9.0f} "
            f"{result['tflops']:8.3f} {mfu:>6s} {result['ratio_to_baseline']:6.2f} {optimizer:>6s}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
