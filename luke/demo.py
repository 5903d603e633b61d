"""``luke demo``: the whole pipeline on the sample dump with a tiny model, on CPU, in minutes.

sample dump → ``luke build-corpus`` (SentencePiece trained on the dump) → ``luke train`` stage 1 (entity
weights only) and stage 2 (all weights), each on 2 CPU ranks under torchrun → ``luke export`` → what the
exported model predicts, through plain transformers calls. Each step runs the same command a user would
type, as a subprocess, so the demo exercises exactly the public entry points; each says when it starts and
how long it took.

Tuned by a measured search (docs/PERFORMANCE.md, "Demo") to get off the unigram plateau within ~5 minutes on 2
cores: the tiny model without dropout (``configs/model/demo.json``), 64-token rows, 30 % of words masked, a short
stage 1 (the sample's entities rarely recur, so entity weights alone learn little) and most steps in stage 2.
After each stage its validation losses are printed next to unigram, bigram and uniform references on the same
masked positions (``luke.demo_losses``), with what they say; the demo ends saying what the exported model
is and is not good for.
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
DEMO_MODEL_CONFIG = REPO_ROOT / "configs" / "model" / "demo.json"
MICRO_BATCH = 8  # sequences per rank and step
MAX_SEQ_LENGTH = 64  # short rows: more of them per step (docs/PERFORMANCE.md, "Demo")
MASKED_LM_PROB = 0.3  # twice LUKE's share of masked words: more to learn from per step (same table)
STAGE1_LR = 3e-3
STAGE2_LR = 3e-3


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


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def _run_step(title: str, command: list[str], env: dict[str, str], demo_started: float) -> float:
    """Run one pipeline command with its output shown, then its elapsed time; return its wall time."""
    click.secho(f"\n== {title}  [{_clock(time.perf_counter() - demo_started)} into the demo]", bold=True)
    click.echo("$ " + " ".join(command), err=True)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=REPO_ROOT, check=False)
    if result.returncode != 0:
        raise click.ClickException(f"{title} failed (exit status {result.returncode}); its output is above")
    elapsed = time.perf_counter() - started
    click.echo(f"-- done in {elapsed:.0f} s")
    return elapsed


def _luke(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "luke.cli", *arguments]


def _train(ranks: int, corpus: Path, run_dir: Path, steps: int, lr: float, *overrides: str) -> list[str]:
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
        f"model.config={DEMO_MODEL_CONFIG}",
        f"data.corpus={corpus}",
        f"run_dir={run_dir}",
        f"batch.micro_batch_size={MICRO_BATCH}",
        f"batch.global_batch_size={MICRO_BATCH * ranks}",
        f"schedule.max_steps={steps}",
        f"schedule.warmup_steps={max(1, steps // 10)}",
        f"optimizer.lr={lr}",
        f"checkpoint.every_steps={steps}",
        f"eval.every_steps={steps}",
        f"data.masking.masked_lm_prob={MASKED_LM_PROB}",
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
    default=100,
    show_default=True,
    help="Training steps of stage 1 (entity embeddings and entity head only).",
)
@click.option(
    "--stage2-steps",
    type=click.IntRange(min=1),
    default=3000,
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
    from luke.demo_losses import exported_model_note, stage_losses
    from luke.demo_predictions import show_predictions
    from preprocessing.sources.sample import fetch_sample_dump

    started = time.perf_counter()
    paths = _prepare_output(output.resolve())
    env = dict(
        os.environ,
        DS_ACCELERATOR="cpu",
        OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
        # the environment's ninja, as the tests use: DeepSpeed rebuilds its op (~1 min) when the ninja changes
        PATH=os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", ""))),
    )
    dump = fetch_sample_dump("en")

    def step(title: str, command: list[str]) -> float:
        return _run_step(title, command, env, started)

    timings = {
        "corpus": step(
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
                str(MAX_SEQ_LENGTH),
            ),
        )
    }
    timings["stage 1"] = step(
        f"2/4 train stage 1: entity weights only, {stage1_steps} steps on {ranks} CPU ranks",
        _train(ranks, paths.corpus, paths.stage1, stage1_steps, STAGE1_LR, "model.train_only_entity_weights=true"),
    )
    click.echo(stage_losses(paths.stage1))
    timings["stage 2"] = step(
        f"3/4 train stage 2: all weights from stage 1, {stage2_steps} steps on {ranks} CPU ranks",
        _train(
            ranks,
            paths.corpus,
            paths.stage2,
            stage2_steps,
            STAGE2_LR,
            "model.init=checkpoint",
            f"model.init_from={paths.stage1}",
            "model.train_only_entity_weights=false",
        ),
    )
    click.echo(stage_losses(paths.stage2))
    timings["export"] = step(
        "4/4 export to a Hugging Face directory", _luke("export", str(paths.stage2), "--output", str(paths.model))
    )
    click.secho("\n== what the exported model predicts (plain transformers)", bold=True)
    show_predictions(paths.model, paths.corpus)
    corpus_report, run_report = paths.root / "corpus-report.html", paths.root / "run-report.html"
    timings["reports"] = step(
        "report on the corpus", _luke("inspect", "corpus", str(paths.corpus), "--output", str(corpus_report))
    ) + step(
        "report on the runs (stage 1 and 2 on the same axes)",
        _luke("inspect", "run", str(paths.stage1), str(paths.stage2), "--output", str(run_report)),
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
    click.echo(exported_model_note(paths.stage2))
