"""The DataLoader over real shards (``enwiki_sp_corpus``): worker processes, exact resume, stop signals,
rank sharding, pickling."""

import json
import os
import pickle
import signal
import subprocess
import sys

import psutil  # a DeepSpeed dependency
import pytest
import torch

from preprocessing.corpus import Corpus
from preprocessing.entities.vocab import EntityVocab
from pretraining.data import (
    BATCH_FIELDS,
    DistributedEpochSampler,
    LukePretrainingCollator,
    MaskingConfig,
    PretrainingDataset,
    TokenizerInfo,
    build_dataloader,
)

BATCH_SIZE = 8


@pytest.fixture(scope="module")
def parts(enwiki_sp_corpus):
    corpus = Corpus.open(enwiki_sp_corpus)
    info = TokenizerInfo.from_pretrained(corpus.tokenizer_path)
    entity_vocab_size = len(EntityVocab.load(str(corpus.entity_vocab_path)))
    collator = LukePretrainingCollator(
        info, entity_vocab_size, corpus.max_seq_length, corpus.max_entity_length, corpus.max_mention_length,
        MaskingConfig(mask_words_in_entity_span=True), seed=3,
    )  # fmt: skip
    return corpus, collator


def make_loader(parts, rank=0, world_size=1, num_workers=0):
    corpus, collator = parts
    dataset = PretrainingDataset(corpus, "validation")
    sampler = DistributedEpochSampler(len(dataset), rank, world_size, seed=9)
    return build_dataloader(dataset, sampler, collator, BATCH_SIZE, num_workers=num_workers, prefetch_factor=2)


def batches_per_epoch(parts):
    return -(-len(PretrainingDataset(parts[0], "validation")) // BATCH_SIZE)


def take(loader, count):
    """``count`` batches, running over epoch ends."""
    batches = []
    while len(batches) < count:
        for batch in loader:
            batches.append(batch)
            if len(batches) == count:
                break
    return batches


def assert_same(batches, others):
    assert len(batches) == len(others)
    for batch, other in zip(batches, others, strict=True):
        assert set(batch) == set(BATCH_FIELDS)
        for name in BATCH_FIELDS:
            assert torch.equal(batch[name], other[name]), name


@pytest.mark.slow
def test_worker_processes_do_not_change_batches(parts):
    count = batches_per_epoch(parts) + 5  # across the end of an epoch
    in_process = take(make_loader(parts), count)
    assert_same(take(make_loader(parts, num_workers=2), count), in_process)


@pytest.mark.slow
def test_resume_gives_identical_batches(parts):
    per_epoch = batches_per_epoch(parts)
    uninterrupted = take(make_loader(parts), per_epoch + 6)
    loader = make_loader(parts, num_workers=2)  # workers prefetch ahead: the saved position must not follow them
    first = take(loader, per_epoch // 2)
    state = loader.state_dict()
    assert (state["epoch"], state["position"]) == (0, per_epoch // 2 * BATCH_SIZE)
    resumed = make_loader(parts, num_workers=2)
    resumed.load_state_dict(json.loads(json.dumps(state)))  # survives a round trip through a checkpoint file
    assert_same(first + take(resumed, per_epoch + 6 - per_epoch // 2), uninterrupted)


@pytest.mark.slow
def test_workers_ignore_stop_signals_and_close_ends_them(parts):
    """SLURM preemption and Ctrl-C signal whole process groups: the workers must outlive the signal (the
    training process checkpoints first), so the batches go on unchanged; ``close()`` ends them."""
    count = batches_per_epoch(parts) + 3
    expected = take(make_loader(parts), count)
    before = set(psutil.Process().children())
    loader = make_loader(parts, num_workers=2)
    first = take(loader, 2)
    workers = list(set(psutil.Process().children()) - before)
    assert len(workers) == 2
    for worker in workers:
        os.kill(worker.pid, signal.SIGTERM)
        os.kill(worker.pid, signal.SIGINT)
    assert_same(first + take(loader, count - 2), expected)
    assert all(worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE for worker in workers)
    loader.close()
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive


@pytest.mark.slow
def test_a_process_exits_with_its_workers_running(enwiki_sp_corpus):
    """Workers that ignore SIGTERM would make multiprocessing's exit handler (terminate, then join) wait
    forever; the loader ends them at exit first."""
    script = f"""
from preprocessing.corpus import Corpus
from preprocessing.entities.vocab import EntityVocab
from pretraining.data import DistributedEpochSampler, LukePretrainingCollator, PretrainingDataset, TokenizerInfo
from pretraining.data import build_dataloader
corpus = Corpus.open({str(enwiki_sp_corpus)!r})
collator = LukePretrainingCollator(
    TokenizerInfo.from_pretrained(corpus.tokenizer_path), len(EntityVocab.load(str(corpus.entity_vocab_path))),
    corpus.max_seq_length, corpus.max_entity_length, corpus.max_mention_length,
)
dataset = PretrainingDataset(corpus, "train")
loader = build_dataloader(dataset, DistributedEpochSampler(len(dataset), 0, 1, seed=0), collator, 4, num_workers=2)
batch = next(iter(loader))
print(batch["word_ids"].shape[0])
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.split() == ["4"], result.stderr[-3000:]


def test_ranks_share_an_epoch_without_overlap(parts):
    rows = []
    for rank in range(3):
        loader = make_loader(parts, rank=rank, world_size=3)
        batches = list(loader)
        rows.append(sum(batch["word_ids"].shape[0] for batch in batches))
        assert loader.state_dict()["epoch"] == 1
    num_rows = len(PretrainingDataset(parts[0], "validation"))
    assert len(set(rows)) == 1 and sum(rows) == num_rows // 3 * 3  # the rest opens the next iteration


def test_dataset_pickles_without_its_data(parts):
    corpus, _ = parts
    dataset = PretrainingDataset(corpus, "train")
    payload = pickle.dumps(dataset)
    assert len(payload) < 10_000
    restored = pickle.loads(payload)
    assert len(restored) == len(dataset)
    assert restored[5]["word_ids"].tolist() == dataset[5]["word_ids"].tolist()
