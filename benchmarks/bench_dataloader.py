"""Data pipeline throughput vs the tiny model's consumption, on this machine.

Measures (medians of ``--repeats`` runs):
- loader: masked, padded batches per second delivered by ONE DataLoader worker process (read rows from the
  memory-mapped shards + LUKE masking + padding + transfer to the main process);
- collator: the same work in the calling process, without worker transfer;
- model: samples per second the tiny model trains on (forward + backward + AdamW step on the same batches,
  all CPU threads).
and prints ratio = loader samples/s per worker / model samples/s (goal: ≥ 5).

Model: ``luke.model.LukeForPretraining`` with ``configs/model/tiny.json``; while the project's model is not
installed, ``transformers.LukeForMaskedLM`` of the same tiny size (the output says which).

Usage: python benchmarks/bench_dataloader.py [--corpus DIR] [--batch-size 16] [--batches 30]
    [--model-batches 4] [--threads N] [--repeats 5]
Without --corpus, a corpus with max_seq_length 512 is built from 40 articles of the enwiki sample dump
(one sequence = consecutive paragraphs of a page, so rows are mostly full).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sample_corpus import entity_vocab_size  # noqa: E402

from preprocessing.corpus import Corpus  # noqa: E402
from pretraining.data import (  # noqa: E402
    DistributedEpochSampler,
    LukePretrainingCollator,
    MaskingConfig,
    PretrainingDataset,
    TokenizerInfo,
    build_dataloader,
)

TINY_SIZE = {  # configs/model/tiny.json, for the stand-in model while the project's model is not merged
    "hidden_size": 64,
    "entity_emb_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
    "use_entity_aware_attention": False,
}
TRANSFORMERS_NAMES = {  # batch field → LukeForMaskedLM argument
    "word_ids": "input_ids",
    "word_attention_mask": "attention_mask",
    "word_segment_ids": "token_type_ids",
    "entity_segment_ids": "entity_token_type_ids",
    "masked_lm_labels": "labels",
    "masked_entity_labels": "entity_labels",
}


def sample_corpus(directory: Path) -> Path:
    from sample_corpus import read_paragraphs, train_bpe_tokenizer, write_corpus

    from preprocessing.sample_dump import fetch_sample_dump

    paragraphs = read_paragraphs(fetch_sample_dump("en"), max_pages=40, whole_pages=True)
    tokenizer = train_bpe_tokenizer([paragraph.text for paragraph in paragraphs], directory / "tokenizer-build")
    return write_corpus(directory / "corpus", paragraphs, tokenizer, max_seq_length=512, max_entity_length=128)


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
    """(description, train step: batch → loss) of the tiny model with an AdamW optimizer."""
    sizes = {"vocab_size": vocab_size, "entity_vocab_size": entities, "pad_token_id": pad_id}
    try:
        from luke.configs import load_model_config
        from luke.model import LukeForPretraining
    except ImportError:  # the project's model is not there yet: transformers' LUKE of the same size
        from transformers import LukeConfig, LukeForMaskedLM

        model = LukeForMaskedLM(LukeConfig(**TINY_SIZE, **sizes))
        name = "transformers.LukeForMaskedLM of the tiny size (" + ", ".join(f"{k}={v}" for k, v in TINY_SIZE.items())

        def forward(batch):
            inputs = {TRANSFORMERS_NAMES.get(field, field): tensor for field, tensor in batch.items()}
            return model(**inputs).loss

    else:
        model = LukeForPretraining(load_model_config("tiny", **sizes))
        name = "luke.model.LukeForPretraining, configs/model/tiny.json"

        def forward(batch):
            return model(**batch).loss

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step(batch):
        loss = forward(batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    model.train()
    return name, step


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
        entities = entity_vocab_size(corpus)
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
        name, step = tiny_model(info.vocab_size, entities, info.pad_id)
        model = [model_rate(step, batches) for _ in range(args.repeats)]

    loader_median, model_median = statistics.median(worker), statistics.median(model)
    print(f"loader, 1 worker process     : {loader_median:9.1f} samples/s (median)")
    print(f"collator, in process         : {statistics.median(local):9.1f} samples/s (median)")
    print(f"model: {name}")
    print(f"model train step consumption : {model_median:9.1f} samples/s (median)")
    print(f"ratio loader per worker / model = {loader_median / model_median:.1f}x (goal ≥ 5x)")


if __name__ == "__main__":
    main()
