"""Train a tiny LUKE for a few steps on a corpus with a real DeepSpeed ZeRO engine (CPU, gloo, one process)
and save the checkpoint in a run directory laid out as `luke train` lays it out (manifest, vocabulary checksums).

Usage: python zero_run.py RUNS_DIR NAME:CORPUS:STAGE[:fp32] ... (one run directory per job: RUNS_DIR/NAME;
ZeRO stage 0 = without ZeRO; bf16 unless ``fp32``)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("DS_ACCELERATOR", "cpu")
for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}.items():
    os.environ.setdefault(key, value)


def main(runs_dir: str, jobs: list[tuple[str, str, int, bool]]) -> None:
    from preprocessing.corpus import Corpus
    from pretraining.distributed import init_distributed, placement_from_environment

    init_distributed(placement_from_environment())  # as luke train: its JIT cache, stale build locks cleared
    for name, corpus_dir, stage, bf16 in jobs:
        train(Path(runs_dir) / name, Corpus.open(corpus_dir), stage, bf16)


def train(run_dir: Path, corpus, stage: int, bf16: bool) -> None:
    import deepspeed
    import torch
    from transformers import AutoTokenizer

    from luke.configs import load_model_config
    from luke.model import LukeForPretraining
    from luke.versions import package_versions
    from pretraining.data import LukePretrainingCollator, PretrainingDataset, TokenizerInfo
    from pretraining.manifest import files_under, hash_files, write_manifest
    from pretraining.run_dir import VOCABULARY_CHECKSUMS
    from pretraining.vocabularies import corpus_checksums

    tokenizer = TokenizerInfo.from_tokenizer(AutoTokenizer.from_pretrained(str(corpus.tokenizer_path)))
    entities = sum(1 for _ in corpus.entity_vocab_path.open(encoding="utf-8"))
    config = load_model_config(
        "tiny", vocab_size=tokenizer.vocab_size, entity_vocab_size=entities, **tokenizer.model_config_ids
    )
    dataset = PretrainingDataset(corpus, "train")
    collator = LukePretrainingCollator(
        tokenizer,
        entities,
        corpus.max_seq_length,
        corpus.max_entity_length,
        corpus.max_mention_length,
    )
    torch.manual_seed(stage)
    model = LukeForPretraining(config)
    ds_config = {
        "train_micro_batch_size_per_gpu": 4,
        "gradient_accumulation_steps": 1,
        "zero_optimization": {"stage": stage},
        "bf16": {"enabled": bf16},
        "optimizer": {"type": "AdamW", "params": {"lr": 1e-3}},
    }
    engine, *_ = deepspeed.initialize(model=model, model_parameters=model.parameters(), config=ds_config)
    losses = []
    for step in range(3):
        batch = collator([dataset[4 * step + i] for i in range(4)])
        loss = engine(**batch).loss
        engine.backward(loss)
        engine.step()
        losses.append(float(loss))
    engine.save_checkpoint(str(run_dir / "checkpoints"), tag="step-00000003")
    tag_dir = run_dir / "checkpoints" / "step-00000003"
    write_manifest(tag_dir, hash_files(tag_dir, files_under(tag_dir)))
    config.to_json_file(str(run_dir / "model_config.json"))
    run_info = {
        "corpus": str(corpus.path.resolve()),
        VOCABULARY_CHECKSUMS: corpus_checksums(corpus),
        "versions": package_versions(),  # as luke train records them
    }
    (run_dir / "run_info.json").write_text(json.dumps(run_info))
    (run_dir / "config.json").write_text(json.dumps({"model": "tiny", "zero_stage": stage, "steps": 3}))
    records = [{"step": i + 1, "split": "train", "loss": value} for i, value in enumerate(losses)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))


if __name__ == "__main__":
    fields = [job.split(":") for job in sys.argv[2:]]
    main(sys.argv[1], [(name, corpus, int(stage), rest != ["fp32"]) for name, corpus, stage, *rest in fields])
