"""Data pipeline throughput vs the tiny model's consumption, on this machine.

Measures (medians of ``--repeats`` runs):
- loader: masked, padded batches per second delivered by ONE DataLoader worker process (read rows from the
  memory-mapped shards + LUKE masking + padding + transfer to the main process);
- collator: the same work in the calling process, without worker transfer;
- model: samples per second the tiny model trains on (forward + backward + AdamW step on the same batches,
  all CPU threads).
and prints ratio = loader samples/s per worker / model samples/s (goal: ≥ 5).

Model: ``luke.model.LukeForPretraining`` with ``configs/model/tiny.json``.

Usage: python benchmarks/bench_dataloader.py [--corpus DIR] [--batch-size 16] [--batches 30]
    [--model-batches 4] [--threads N] [--repeats 5]
Without --corpus, ``luke build-corpus`` builds one from the enwiki sample dump first (LUKE's lengths:
512 tokens, 128 entities; a SentencePiece tokenizer trained in the job).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from luke.configs import load_model_config  # noqa: E402
from luke.model import LukeForPretraining  # noqa: E402
from preprocessing.corpus import Corpus  # noqa: E402
from preprocessing.entities.vocab import EntityVocab  # noqa: E402
from pretraining.data import (  # noqa: E402
    DistributedEpochSampler,
    LukePretrainingCollator,
    MaskingConfig,
    PretrainingDataset,
    TokenizerInfo,
    build_dataloader,
)


def sample_corpus(directory: Path) -> Path:
    """``luke build-corpus`` on the enwiki sample dump (its own SentencePiece tokenizer, LUKE's lengths)."""
    from preprocessing.sources.sample import fetch_sample_dump

    output = directory / "corpus"
    command = [sys.executable, "-m", "luke.cli", "build-corpus", str(fetch_sample_dump("en")), "--output", str(output)]
    command += ["--train-tokenizer", "--vocab-size", "8000", "--keep-missing-targets", "--num-shards", "4"]
    build = subprocess.run(command, capture_output=True, text=True)
    if build.returncode:
        raise SystemExit(f"luke build-corpus failed:\n{build.stderr[-3000:]}")
    return output


def make_loader(corpus: Corpus, collator, batch_size: int, num_workers: int, seed: int):
    dataset = PretrainingDataset(corpus, "train")
    sampler = DistributedEpochSampler(len(dataset), seed=seed)
    return build_dataloader(dataset, sampler, collator, batch_size, num_workers=num_workers, prefetch_factor=4)


def loader_rate(corpus: Corpus, collator, batch_size: int, batches: int, num_workers: int, seed: int) -> float:
    """Samples/s over ``batches`` batches, after the first (start-up) batch."""
    loader = make_loader(corpus, collator, batch_size, num_workers, seed)
    iterator = iter(loader)
    next(iterator)
    start, samples = time.perf_counter(), 0
    for _ in range(batches):
        try:
            batch = next(iterator)
        except StopIteration:
            iterator = iter(loader)
            batch = next(iterator)
        samples += batch["word_ids"].shape[0]
    return samples / (time.perf_counter() - start)


def tiny_model(vocab_size: int, entities: int, pad_id: int):
    """The train step (forward, backward, AdamW) of ``LukeForPretraining`` with configs/model/tiny.json."""
    config = load_model_config("tiny", vocab_size=vocab_size, entity_vocab_size=entities, pad_token_id=pad_id)
    model = LukeForPretraining(config)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step(batch):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    return step


def model_rate(step, batches: list[dict]) -> float:
    """Samples/s of training steps on ``batches[1:]`` (``batches[0]`` warms up)."""
    step(batches[0])
    start = time.perf_counter()
    for batch in batches[1:]:
        step(batch)
    return sum(batch["word_ids"].shape[0] for batch in batches[1:]) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="a corpus directory (default: built from the sample dump)")
    parser.add_argument("--batch-size", type=int, default=16, help="micro-batch size (configs/train/tiny.yaml: 16)")
    parser.add_argument("--batches", type=int, default=30, help="batches timed per run")
    parser.add_argument("--model-batches", type=int, default=4, help="batches timed per model run")
    parser.add_argument("--threads", type=int, help="torch threads of the model (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement; medians are printed")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as scratch:
        corpus = Corpus.open(args.corpus or sample_corpus(Path(scratch)))
        info = TokenizerInfo.from_pretrained(corpus.tokenizer_path)
        entities = len(EntityVocab.load(str(corpus.entity_vocab_path)))
        collator = LukePretrainingCollator(
            info, entities, corpus.max_seq_length, corpus.max_entity_length, corpus.max_mention_length, MaskingConfig()
        )
        dataset = PretrainingDataset(corpus, "train")
        words = [dataset[i]["word_ids"].size for i in range(len(dataset))]
        print(f"corpus {corpus.path}: {len(dataset)} train rows, {statistics.mean(words):.0f} words a row on average")
        print(f"batch size {args.batch_size}, {args.repeats} runs each, torch threads "
              f"{torch.get_num_threads()}")  # fmt: skip

        worker = [loader_rate(corpus, collator, args.batch_size, args.batches, 1, r) for r in range(args.repeats)]
        local = [loader_rate(corpus, collator, args.batch_size, args.batches, 0, r) for r in range(args.repeats)]
        loader = make_loader(corpus, collator, args.batch_size, 0, 0)
        batches = [batch for _, batch in zip(range(args.model_batches + 1), loader, strict=False)]
        step = tiny_model(info.vocab_size, entities, info.pad_id)
        model = [model_rate(step, batches) for _ in range(args.repeats)]

    loader_median, model_median = statistics.median(worker), statistics.median(model)
    print(f"loader, 1 worker process     : {loader_median:9.1f} samples/s (median)")
    print(f"collator, in process         : {statistics.median(local):9.1f} samples/s (median)")
    print("model: luke.model.LukeForPretraining, configs/model/tiny.json")
    print(f"model train step consumption : {model_median:9.1f} samples/s (median)")
    print(f"ratio loader per worker / model = {loader_median / model_median:.1f}x (goal ≥ 5x)")


if __name__ == "__main__":
    main()
