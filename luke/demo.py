"""``luke demo``: the whole pipeline on the sample dump with a tiny model, on CPU, in minutes.

sample dump → ``luke build-corpus`` (SentencePiece trained on the dump) → ``luke train`` stage 1 (entity
weights only) and stage 2 (all weights), each on 2 CPU ranks under torchrun → ``luke export`` → what the
exported model predicts, through plain transformers calls. Each step runs the same command a user would
type, as a subprocess, so the demo exercises exactly the public entry points.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_TRAIN_CONFIG = REPO_ROOT / "configs" / "train" / "tiny.yaml"
MARKER = ".luke-demo"
MICRO_BATCH = 8  # sequences per rank and step


@dataclass(frozen=True)
class DemoPaths:
    root: Path

    @property
    def corpus(self) -> Path:
        return self.root / "corpus"

    @property
    def stage1(self) -> Path:
        return self.root / "stage1"

    @property
    def stage2(self) -> Path:
        return self.root / "stage2"

    @property
    def model(self) -> Path:
        return self.root / "model"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_step(title: str, command: list[str], env: dict[str, str]) -> float:
    """Run one pipeline command with its output shown; return its wall time."""
    click.secho(f"\n== {title}", bold=True)
    click.echo("$ " + " ".join(command), err=True)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=REPO_ROOT, check=False)
    if result.returncode != 0:
        raise click.ClickException(f"{title} failed (exit status {result.returncode}); its output is above")
    return time.perf_counter() - started


def _luke(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "luke.cli", *arguments]


def _train(ranks: int, corpus: Path, run_dir: Path, steps: int, *overrides: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={ranks}",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        "-m",
        "luke.cli",
        "train",
        "--config",
        str(TINY_TRAIN_CONFIG),
        f"data.corpus={corpus}",
        f"run_dir={run_dir}",
        f"batch.micro_batch_size={MICRO_BATCH}",
        f"batch.global_batch_size={MICRO_BATCH * ranks}",
        f"schedule.max_steps={steps}",
        f"schedule.warmup_steps={max(1, steps // 10)}",
        f"checkpoint.every_steps={steps}",
        f"eval.every_steps={steps}",
        *overrides,
    ]


def _prepare_output(root: Path) -> DemoPaths:
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).is_file():
            raise click.BadParameter(
                f"{root} exists, is not empty and was not made by `luke demo`", param_hint="--output"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / MARKER).write_text("made by `luke demo`; the next `luke demo` into this directory replaces it\n")
    return DemoPaths(root)


@click.command("demo")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("demo-output"),
    show_default=True,
    help="Directory for everything the demo makes (a previous demo's output is replaced).",
)
@click.option(
    "--stage1-steps",
    type=click.IntRange(min=1),
    default=150,
    show_default=True,
    help="Training steps of stage 1 (entity embeddings and entity head only).",
)
@click.option(
    "--stage2-steps",
    type=click.IntRange(min=1),
    default=150,
    show_default=True,
    help="Training steps of stage 2 (all weights, from stage 1's).",
)
@click.option(
    "--vocab-size",
    type=click.IntRange(min=100),
    default=4000,
    show_default=True,
    help="Pieces of the SentencePiece tokenizer trained on the dump.",
)
@click.option(
    "--ranks",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Data-parallel CPU processes per training stage (torchrun, gloo).",
)
def demo_command(output: Path, stage1_steps: int, stage2_steps: int, vocab_size: int, ranks: int) -> None:
    """Run the whole pipeline on the sample English dump with a tiny model on CPU: build the corpus (training a
    SentencePiece tokenizer on the dump), pretrain stage 1 and stage 2 on 2 CPU ranks, export to a Hugging
    Face directory, and show what the exported model predicts for a masked entity and a masked word."""
    from preprocessing.sources.sample import fetch_sample_dump

    started = time.perf_counter()
    paths = _prepare_output(output.resolve())
    env = dict(os.environ, DS_ACCELERATOR="cpu", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    dump = fetch_sample_dump("en")
    timings = {
        "corpus": _run_step(
            "1/4 build the corpus (Beam; SentencePiece trained on the dump)",
            _luke(
                "build-corpus",
                str(dump),
                "--output",
                str(paths.corpus),
                "--train-tokenizer",
                "--vocab-size",
                str(vocab_size),
                "--keep-missing-targets",
                "--max-seq-length",
                "128",
            ),
            env,
        ),
        "stage 1": _run_step(
            f"2/4 train stage 1: entity weights only, {stage1_steps} steps on {ranks} CPU ranks",
            _train(ranks, paths.corpus, paths.stage1, stage1_steps, "model.train_only_entity_weights=true"),
            env,
        ),
        "stage 2": _run_step(
            f"3/4 train stage 2: all weights from stage 1, {stage2_steps} steps on {ranks} CPU ranks",
            _train(
                ranks,
                paths.corpus,
                paths.stage2,
                stage2_steps,
                "model.init=checkpoint",
                f"model.init_from={paths.stage1}",
                "model.train_only_entity_weights=false",
            ),
            env,
        ),
        "export": _run_step(
            "4/4 export to a Hugging Face directory",
            _luke("export", str(paths.stage2), "--output", str(paths.model)),
            env,
        ),
    }
    from luke.demo_predictions import show_predictions

    click.secho("\n== what the exported model predicts (plain transformers)", bold=True)
    show_predictions(paths.model, paths.corpus)
    corpus_report, run_report = paths.root / "corpus-report.html", paths.root / "run-report.html"
    timings["reports"] = _run_step(
        "report on the corpus", _luke("inspect", "corpus", str(paths.corpus), "--output", str(corpus_report)), env
    ) + _run_step(
        "report on the runs (stage 1 and 2 on the same axes)",
        _luke("inspect", "run", str(paths.stage1), str(paths.stage2), "--output", str(run_report)),
        env,
    )
    click.secho("\n== made", bold=True)
    for name, path in (
        ("corpus", paths.corpus),
        ("stage 1 run", paths.stage1),
        ("stage 2 run", paths.stage2),
        ("exported model", paths.model),
        ("corpus report", corpus_report),
        ("run report", run_report),
    ):
        click.echo(f"  {name:15} {path}")
    click.echo(
        "  "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
        + f"; total {time.perf_counter() - started:.0f} s"
    )
