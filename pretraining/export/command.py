"""``luke export``: a training run or checkpoint → a Hugging Face model directory."""

from __future__ import annotations

import time
from pathlib import Path

import click

from pretraining.export import DEFAULT_TOLERANCE, LUKE_DROPOUT

DTYPE_CHOICES = ("float32", "bfloat16", "float16")


@click.command("export")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory to write the model to (created; it appears only once the export succeeded).",
)
@click.option("--tag", help="Checkpoint tag to export (default: the one named by checkpoints/latest).")
@click.option(
    "--corpus",
    type=click.Path(path_type=Path, file_okay=False),
    help="Corpus directory the model was trained on (default: the run's, from run_info.json). Its tokenizer, "
    "entity vocabulary and validation split are used.",
)
@click.option(
    "--model-config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="LukeConfig JSON of the checkpoint's model (default: the run's model_config.json).",
)
@click.option(
    "--entity-aware-attention/--no-entity-aware-attention",
    default=True,
    show_default=True,
    help="Set use_entity_aware_attention in the exported config. On: a model trained without it gets its "
    "w2e/e2w/e2e queries copied from the word query, as LUKE's converter does. Off: those matrices are dropped.",
)
@click.option(
    "--lite",
    is_flag=True,
    help="Drop the Wikipedia entity embeddings, keep only the special entities ([PAD], [UNK], [MASK], [MASK2]), "
    "like the official lite models.",
)
@click.option(
    "--dtype",
    type=click.Choice(DTYPE_CHOICES),
    default="float32",
    show_default=True,
    help="Data type of the saved weights.",
)
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Reload the directory offline with AutoTokenizer and AutoModelForMaskedLM and compare it with the "
    "pretraining model on a validation batch; fail on any difference beyond --tolerance.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Largest absolute difference of hidden states and logits that verification accepts.",
)
@click.option(
    "--hidden-dropout-prob",
    type=click.FloatRange(0, 1, max_open=True),
    default=LUKE_DROPOUT,
    show_default=True,
    help="hidden_dropout_prob of the exported config.json, what fine-tuning starts with (LUKE's models: 0.1), "
    "whatever the run trained with (the model card states both).",
)
@click.option(
    "--attention-probs-dropout-prob",
    type=click.FloatRange(0, 1, max_open=True),
    default=LUKE_DROPOUT,
    show_default=True,
    help="attention_probs_dropout_prob of the exported config.json, as --hidden-dropout-prob.",
)
@click.option("--overwrite", is_flag=True, help="Replace --output if it exists and is not empty.")
def export_command(
    source: Path,
    output: Path,
    tag: str | None,
    corpus: Path | None,
    model_config: Path | None,
    entity_aware_attention: bool,
    lite: bool,
    dtype: str,
    verify: bool,
    tolerance: float,
    hidden_dropout_prob: float,
    attention_probs_dropout_prob: float,
    overwrite: bool,
) -> None:
    """Export SOURCE — a run directory, its checkpoints/ directory or one checkpoint tag directory — to a
    Hugging Face directory: config.json, model.safetensors, a LukeTokenizer (byte-level BPE corpus) or
    MLukeTokenizer (SentencePiece corpus) with the entity vocabulary, and a model card (README.md).

    The ZeRO checkpoint (any stage, any number of ranks) is consolidated with DeepSpeed's zero_to_fp32.
    """
    import torch

    from pretraining.process_env import set_deepspeed_defaults

    set_deepspeed_defaults(gpu_available=torch.cuda.is_available())  # before DeepSpeed is imported
    from luke.quiet import transformers_progress_bars_off
    from preprocessing.corpus import Corpus, CorpusError
    from preprocessing.entities.vocab import EntityVocabError
    from pretraining.checkpoint import CheckpointError
    from pretraining.export.exporter import ExportError, ExportOptions, export_checkpoint, read_run_files
    from pretraining.export.tokenizer import TokenizerConversionError
    from pretraining.export.verification import VerificationError
    from pretraining.vocabularies import VocabularyMismatchError, check_same_vocabularies
    from pretraining.weights import locate_checkpoint

    started = time.perf_counter()
    try:
        checkpoint = locate_checkpoint(source, tag)
        run = read_run_files(checkpoint.run_dir)
        corpus_path = corpus or run.corpus_path
        if corpus_path is None:
            raise click.BadParameter(
                f"{source} is not inside a run directory with run_info.json; name the corpus", param_hint="--corpus"
            )
        config = run.model_config
        if model_config is not None:
            from luke.configs import load_model_config

            config = load_model_config(model_config)
        if config is None:
            raise click.BadParameter(
                f"{source} is not inside a run directory with model_config.json; name it", param_hint="--model-config"
            )
        target = Corpus.open(corpus_path)
        note = check_same_vocabularies(checkpoint.run_dir, target)
        if note:
            click.echo(note, err=True)
        options = ExportOptions(
            entity_aware_attention, lite, dtype, verify, tolerance, hidden_dropout_prob, attention_probs_dropout_prob
        )
        with transformers_progress_bars_off():
            result = export_checkpoint(checkpoint, output, target, config, options, run, overwrite)
    except (
        CheckpointError,
        CorpusError,
        EntityVocabError,
        ExportError,
        TokenizerConversionError,
        VerificationError,
        VocabularyMismatchError,
    ) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"exported checkpoint {checkpoint.path} → {result.output}")
    click.echo(
        f"  {result.tokenizer_class}: {result.config.vocab_size} word ids, {result.config.entity_vocab_size} "
        f"entities; entity-aware attention {'on' if entity_aware_attention else 'off'}; {dtype}; dropout "
        f"{hidden_dropout_prob:g} / {attention_probs_dropout_prob:g} (hidden / attention)"
    )
    if result.markers:
        click.echo("  entity markers: " + "; ".join(source.describe() for source in result.markers))
    for note in result.notes:
        click.echo(f"  note: {note}")
    if result.tokenizer_check:
        check = result.tokenizer_check
        spans = (
            f"with entity_spans on {check['span_rows']} rows ({check['span_mentions']} mentions)"
            if not check["span_rows_differing"]
            else f"with entity_spans {check['span_rows_differing']} of {check['span_rows']} rows differ (note above)"
        )
        click.echo(
            f"  tokenizer verified on {check['verified_texts']} texts ({check['verified_tokens']} tokens); {spans}"
        )
    if result.verification:
        name, worst = result.verification.worst
        click.echo(
            f"  model verified on {result.verification.sequences} validation sequences: max |diff| "
            f"{worst:.2g} ({name}) ≤ {tolerance:g}"
        )
    click.echo(f"  done in {time.perf_counter() - started:.1f} s")
