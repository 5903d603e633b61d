"""Shared fixtures: the real sample dumps (fetched once into the user cache, then offline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from preprocessing.sample_dump import fetch_sample_dump


@pytest.fixture(scope="session")
def enwiki_dump() -> Path:
    """The shortened English Wikipedia dump (206 pages, 100 of them redirects)."""
    return fetch_sample_dump("en")


@pytest.fixture(scope="session")
def bgwiki_dump() -> Path:
    """The shortened Bulgarian Wikipedia dump (3 pages, UTF-16 encoded XML)."""
    return fetch_sample_dump("bg")


@pytest.fixture(scope="session")
def sample_corpora(enwiki_dump, tmp_path_factory) -> dict:
    """Corpus directories from 40 articles of the enwiki sample, one per tokenizer kind: ``"bpe"`` (byte-level
    BPE, LukeTokenizer) and ``"sentencepiece"`` (MLukeTokenizer); max_seq_length 128 (see sample_corpus.py)."""
    from sample_corpus import read_paragraphs, train_bpe_tokenizer, train_sentencepiece_tokenizer, write_corpus

    root = tmp_path_factory.mktemp("sample-corpora")
    paragraphs = read_paragraphs(enwiki_dump, max_pages=40)
    texts = [paragraph.text for paragraph in paragraphs]
    return {
        "bpe": write_corpus(root / "bpe", paragraphs, train_bpe_tokenizer(texts, root / "bpe-tokenizer")),
        "sentencepiece": write_corpus(
            root / "sentencepiece", paragraphs, train_sentencepiece_tokenizer(texts, root / "sp-tokenizer")
        ),
    }


@pytest.fixture(scope="session")
def deepspeed_cpu_env() -> dict[str, str]:
    """Environment for DeepSpeed on CPU, with its shared-memory comm op built once before any test launches
    ranks (a cold build takes ~1 min; afterwards it is cached). The build cache is kept inside this Python
    environment: the op's build files name the environment's paths, so environments sharing one cache would
    rebuild it in turn."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DS_ACCELERATOR": "cpu",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TORCH_EXTENSIONS_DIR": str(Path(sys.prefix) / "torch_extensions"),
    }
    build = "from deepspeed.accelerator import get_accelerator; get_accelerator().create_op_builder(%r).load()"
    build %= "ShareMemCommBuilder"
    subprocess.run([sys.executable, "-c", build], env=env, check=True, capture_output=True)
    return env
