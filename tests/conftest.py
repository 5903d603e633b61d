"""Shared fixtures: the real sample dumps (fetched once into the user cache, then offline)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from preprocessing.sources.sample import fetch_sample_dump


@pytest.fixture(scope="session")
def enwiki_dump() -> Path:
    """The shortened English Wikipedia dump (206 pages, 100 of them redirects)."""
    return fetch_sample_dump("en")


@pytest.fixture(scope="session")
def bgwiki_dump() -> Path:
    """The shortened Bulgarian Wikipedia dump (3 pages, UTF-16 encoded XML)."""
    return fetch_sample_dump("bg")


@pytest.fixture(scope="session")
def damaged_enwiki_dumps(enwiki_dump: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Damaged copies of the enwiki sample by name: cut.xml.bz2 (cut at 50 %, as `head -c 847935`),
    flipped.xml.bz2 (one byte inverted at 50 %), cut.xml (the XML cut at 50 %), no-end.xml (no </mediawiki>)."""
    from dump_builders import write_damaged_dumps

    return write_damaged_dumps(enwiki_dump, tmp_path_factory.mktemp("damaged-dumps"))


@pytest.fixture(scope="session")
def sample_bpe_corpus(enwiki_dump, tmp_path_factory) -> Path:
    """A corpus directory from 40 articles of the enwiki sample, written without the Beam job (mwparserfromhell
    text, a byte-level BPE LukeTokenizer, max_seq_length 128; see sample_corpus.py): the training tests' data."""
    from sample_corpus import read_paragraphs, train_bpe_tokenizer, write_corpus

    root = tmp_path_factory.mktemp("sample-corpus")
    paragraphs = read_paragraphs(enwiki_dump, max_pages=40)
    texts = [paragraph.text for paragraph in paragraphs]
    return write_corpus(root / "bpe", paragraphs, train_bpe_tokenizer(texts, root / "bpe-tokenizer"))


@pytest.fixture(scope="session")
def deepspeed_cpu_env() -> dict[str, str]:
    """Environment for DeepSpeed on CPU, with its shared-memory comm op built once before any test launches
    ranks (a cold build takes ~1 min; afterwards it is cached). The build cache is kept inside this Python
    environment: the op's build files name the environment's paths, so environments sharing one cache would
    rebuild it in turn. For the same reason the environment's bin/ comes first on PATH (launch scripts find
    its torchrun there): the build runs the first `ninja` on PATH, and the pip one and a system one record
    build commands differently, so alternating them rebuilds the op (~40 s) at every switch."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DS_ACCELERATOR": "cpu",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TORCH_EXTENSIONS_DIR": str(Path(sys.prefix) / "torch_extensions"),
        "PATH": os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", ""))),
    }
    build = "from deepspeed.accelerator import get_accelerator; get_accelerator().create_op_builder(%r).load()"
    build %= "ShareMemCommBuilder"
    subprocess.run([sys.executable, "-c", build], env=env, check=True, capture_output=True)
    return env


@pytest.fixture(scope="session")
def bpe_tokenizer_dir(enwiki_dump: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A RobertaTokenizer directory (byte-level BPE, 4,000 tokens) trained on the enwiki sample: the local
    stand-in for roberta-large, whose hub download is unreachable here."""
    from corpus_builders import train_bpe_tokenizer

    return train_bpe_tokenizer(enwiki_dump, tmp_path_factory.mktemp("bpe-tokenizer"))


@pytest.fixture(scope="session")
def enwiki_corpus(enwiki_dump: Path, bpe_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete corpus directory built once per session by `build_corpus` from the enwiki sample.

    LUKE's defaults (max_seq_length 512, max_entity_length 128, max_mention_length 30, sentences of ≥ 5
    tokens, sequences without entities and [UNK] entities skipped), the byte-level BPE tokenizer of
    `bpe_tokenizer_dir` (RoBERTa's kind), the entity vocabulary built from the dump (links to pages missing
    from the slice kept), validation fraction 0.05, 4 train shards + 1 validation shard: the sample is read as a
    multistream dump of 21 ranges of 10 pages, so that the shards are runs of ranges (the same rows as the whole
    file gives). About 1,500 sequences. Open it with `preprocessing.corpus.Corpus.open`; do not modify it (copy
    it first).
    """
    from corpus_builders import build_sample_corpus
    from dump_builders import write_multistream

    directory = tmp_path_factory.mktemp("enwiki-corpus")
    return build_sample_corpus(
        write_multistream(enwiki_dump, directory, pages_per_stream=10),
        directory / "corpus",
        tokenizer=str(bpe_tokenizer_dir),
        validation_fraction=0.05,
        num_shards=4,
        streams_per_range=1,
    )


@pytest.fixture(scope="session")
def enwiki_sp_corpus(enwiki_dump: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus of the enwiki sample's first 40 articles whose tokenizer was trained inside the job
    (`--train-tokenizer`, SentencePiece unigram, 4,000 pieces, saved as a fast tokenizer laid out as
    transformers' MLukeTokenizer: mLUKE's kind). max_seq_length 128, validation fraction 0.1, 2 train shards.
    Do not modify it."""
    from corpus_builders import build_sample_corpus

    return build_sample_corpus(
        enwiki_dump,
        tmp_path_factory.mktemp("enwiki-sp-corpus") / "corpus",
        train_tokenizer=True,
        tokenizer_vocab_size=4000,
        tokenizer_sample_pages=40,
        max_pages=40,
        max_seq_length=128,
        validation_fraction=0.1,
        num_shards=2,
    )


@pytest.fixture(scope="session")
def bgwiki_corpus(bgwiki_dump: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus of the Bulgarian sample (1 article) with a SentencePiece tokenizer trained in the job (at
    most 600 pieces, every character covered) and every sentence kept (`min_sentence_length=1`, sequences
    without entities and [UNK] entities included), no validation split, 1 shard. Do not modify it."""
    from corpus_builders import build_sample_corpus

    return build_sample_corpus(
        bgwiki_dump,
        tmp_path_factory.mktemp("bgwiki-corpus") / "corpus",
        train_tokenizer=True,
        tokenizer_vocab_size=600,
        tokenizer_character_coverage=1.0,
        min_sentence_length=1,
        include_sentences_without_entities=True,
        include_unk_entities=True,
        validation_fraction=0.0,
        num_shards=1,
    )


@pytest.fixture(scope="session")
def dask_scheduler_address() -> str:
    """The address of a local dask.distributed cluster (scheduler + 2 worker processes on 127.0.0.1),
    started once per session and stopped at its end: pass it to Beam's DaskRunner as
    `--dask_client_address`."""
    from distributed import LocalCluster, default_client

    cluster = LocalCluster(host="127.0.0.1", processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        # Beam's DaskRunner leaves its clients connected; left open, they try to reconnect to the closed
        # cluster at interpreter exit and print tracebacks
        while True:
            try:
                default_client().close()
            except ValueError:  # no client left
                break
        cluster.close()


@pytest.fixture(scope="session")
def zero_runs(enwiki_corpus: Path, enwiki_sp_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run directories of short DeepSpeed runs (CPU, one rank): ZeRO-2 and ZeRO-3 on the byte-level BPE corpus,
    ZeRO-2 on the SentencePiece corpus; without ZeRO in fp32 and in bf16 on the BPE corpus."""
    from export_runs import train_zero_runs

    runs = tmp_path_factory.mktemp("zero-runs")
    bpe, sentencepiece = enwiki_corpus, enwiki_sp_corpus
    jobs = [f"bpe-zero2:{bpe}:2", f"bpe-zero3:{bpe}:3", f"sp-zero2:{sentencepiece}:2"]
    jobs += [f"bpe-nozero-fp32:{bpe}:0:fp32", f"bpe-nozero-bf16:{bpe}:0"]
    return train_zero_runs(runs, jobs)


@pytest.fixture(scope="session")
def exported(zero_runs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`luke export` of the ZeRO-2, ZeRO-3 and SentencePiece runs of `zero_runs`, verified."""
    from export_runs import export

    outputs = {}
    for name in ("bpe-zero2", "bpe-zero3", "sp-zero2"):
        output = tmp_path_factory.mktemp("exported") / name
        result = export(zero_runs / name, output)
        assert result.exit_code == 0, result.output
        assert "model verified on 4 validation sequences" in result.output
        outputs[name] = output
    return outputs


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 200 KiB tmpfs, or a skip where mounting is not permitted."""
    mount_point = tmp_path / "tiny-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount_point)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)
