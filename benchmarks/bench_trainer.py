"""Trainer step throughput on CPU for a mid-size model vs a plain PyTorch loop, measured in the same run.

- baseline: ``LukeForPretraining`` + ``torch.optim.AdamW``, forward/backward/step on pre-collated batches
  (compute only: no DeepSpeed, no data loading, no metrics);
- trainer: ``pretraining.trainer.Trainer.train_step`` on the DeepSpeed engine of ``luke train``
  (``configs/deepspeed/zero2-fp32.json``, one process, gloo) reading from the real loader (1 worker process,
  masking on the fly) and reducing metrics, as in training.

Prints samples/s and word tokens/s of each (medians of ``--repeats`` timed windows of ``--steps`` steps) and
ratio = trainer / baseline (1.0 = the trainer adds nothing to the model's own cost).

Model ("mid"): 4 layers × 256 hidden, 4 heads, FFN 1024, entity_emb_size 128, entity-aware attention;
sequences of the sample corpus built with max_seq_length 512 (rows mostly full), micro-batch ``--batch-size``.

Usage: DS_ACCELERATOR=cpu python benchmarks/bench_trainer.py [--corpus DIR] [--batch-size 4] [--steps 5]
    [--repeats 3] [--num-workers 1] [--deepspeed configs/deepspeed/zero2-fp32.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DS_ACCELERATOR", "cpu")

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from luke.model import LukeForPretraining  # noqa: E402
from preprocessing.corpus import Corpus  # noqa: E402
from pretraining.checkpoint import CheckpointManager  # noqa: E402
from pretraining.config import load_config  # noqa: E402
from pretraining.data import TokenizerInfo  # noqa: E402
from pretraining.distributed import ProcessPlacement, init_distributed  # noqa: E402
from pretraining.engine import build_engine, load_deepspeed_config  # noqa: E402
from pretraining.loaders import build_loaders  # noqa: E402
from pretraining.metrics_log import MetricsLogger  # noqa: E402
from pretraining.model_setup import resolve_model_config  # noqa: E402
from pretraining.trainer import Trainer  # noqa: E402

MID_SIZE = {
    "hidden_size": 256,
    "entity_emb_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 1024,
    "use_entity_aware_attention": True,
}


def sample_corpus(directory: Path) -> Path:
    from sample_corpus import read_paragraphs, train_bpe_tokenizer, write_corpus

    from preprocessing.sample_dump import fetch_sample_dump

    paragraphs = read_paragraphs(fetch_sample_dump("en"), max_pages=40, whole_pages=True)
    tokenizer = train_bpe_tokenizer([p.text for p in paragraphs], directory / "tokenizer")
    return write_corpus(directory / "corpus", paragraphs, tokenizer, max_seq_length=512, max_entity_length=128)


def median_rate(step, batches_per_step: int, steps: int, repeats: int, sizes) -> tuple[float, float]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-workers", type=int, default=1, help="loader worker processes of the trainer")
    parser.add_argument("--deepspeed", type=Path, default=ROOT / "configs/deepspeed/zero2-fp32.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        corpus = Corpus.open(args.corpus or sample_corpus(Path(scratch)))
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
                f"deepspeed={args.deepspeed.resolve()}",
            ],
        )
        info = TokenizerInfo.from_pretrained(corpus.tokenizer_path)
        placement = ProcessPlacement(0, 1, 0)
        model_config = resolve_model_config(config, corpus, info.vocab_size)
        for name, value in MID_SIZE.items():
            setattr(model_config, name, value)
        init_distributed(placement)
        train_loader, _ = build_loaders(config, corpus, info, model_config, placement)
        batches = [batch for batch, _ in zip(train_loader, range(args.steps + 1), strict=False)]

        torch.manual_seed(0)
        model = LukeForPretraining(model_config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        cursor = iter(range(10**9))

        def plain_step():
            batch = batches[next(cursor) % len(batches)]
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return batch

        def batch_size(batch):
            return batch["word_ids"].shape[0], int(batch["word_attention_mask"].sum())

        base = median_rate(plain_step, 1, args.steps, args.repeats, batch_size)

        torch.manual_seed(0)
        engine = build_engine(LukeForPretraining(model_config), config, load_deepspeed_config(config, 1))
        train_loader, _ = build_loaders(config, corpus, info, model_config, placement)
        logger = MetricsLogger(Path(scratch), False, False, False, 0, 0)
        trainer = Trainer(config, engine, train_loader, None, CheckpointManager(Path(scratch), 0, 1), logger, 1)
        ours = median_rate(
            lambda: trainer.train_step(False), 1, args.steps, args.repeats, lambda m: (m["samples"], m["word_tokens"])
        )

    parameters = sum(p.numel() for p in model.parameters())
    print(
        f"model: mid ({parameters / 1e6:.1f}M parameters), micro-batch {args.batch_size}, CPU threads "
        f"{torch.get_num_threads()}, medians of {args.repeats} × {args.steps} steps"
    )
    print(f"baseline (plain PyTorch loop):      {base[0]:7.2f} samples/s  {base[1]:9.0f} tokens/s")
    print(
        f"trainer ({args.deepspeed.stem}, {args.num_workers} loader worker(s)): {ours[0]:7.2f} samples/s  "
        f"{ours[1]:9.0f} tokens/s"
    )
    print(f"ratio trainer/baseline: {ours[0] / base[0]:.2f}")


if __name__ == "__main__":
    main()
