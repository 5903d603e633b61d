"""``luke train``: one pretraining stage. Orchestration only; each concern lives in its own module."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pretraining import exit_codes
from pretraining.config import ConfigError, TrainConfig, load_config
from pretraining.process_env import set_deepspeed_defaults

if TYPE_CHECKING:
    from pretraining.preemption import PreemptionHandler


def run_training(config: TrainConfig, allow_config_change: bool = False):
    """Train one stage as configured, on this process's rank; returns the :class:`TrainResult`. Resuming with
    changed settings is checked by ``pretraining.config_changes``; ``allow_config_change`` accepts guarded ones.
    A stop signal before the loop begins raises ``pretraining.preemption.StoppedBeforeTraining``."""
    from pretraining.preemption import PreemptionHandler

    with PreemptionHandler() as preemption:
        return _train(config, allow_config_change, preemption)


def _train(config: TrainConfig, allow_config_change: bool, preemption: PreemptionHandler):
    import torch

    from luke.quiet import known_warnings_silenced
    from preprocessing.corpus import Corpus, CorpusError
    from pretraining.checkpoint import CheckpointManager, ResumePoint
    from pretraining.config_changes import RunSettings, check_changes, check_resume_step, config_changes
    from pretraining.data import TokenizerInfo, TokenizerInfoError
    from pretraining.distributed import init_distributed, placement_from_environment
    from pretraining.engine import apply_optimizer_config, build_engine, check_optimizer_support, load_deepspeed_config
    from pretraining.loaders import build_loaders
    from pretraining.metrics_log import MetricsLogger
    from pretraining.model_setup import (
        build_model,
        check_init_source,
        keep_recorded_special_ids,
        report_entity_mapping,
        resolve_model_config,
    )
    from pretraining.output_guard import guard_output, log_file
    from pretraining.references import ReferenceModels
    from pretraining.rng import seed_everything
    from pretraining.run_dir import read_settings, record_start, write_run_files
    from pretraining.trainer import Trainer
    from pretraining.vocabularies import corpus_checksums

    placement = placement_from_environment()
    # Everything that can be wrong with the input is checked before the process group starts.
    accumulation = config.gradient_accumulation_steps(placement.world_size)
    ds_config = load_deepspeed_config(config, placement.world_size)
    check_optimizer_support(config, ds_config)
    try:
        corpus = Corpus.open(config.data.corpus)
        tokenizer_info = TokenizerInfo.from_pretrained(corpus.tokenizer_path)
    except (CorpusError, TokenizerInfoError) as error:
        raise ConfigError(f"data.corpus: {error}") from error
    model_config = resolve_model_config(config, corpus, tokenizer_info)
    run_dir = Path(config.run_dir)
    checkpoints = CheckpointManager(run_dir, placement.rank, config.checkpoint.keep_last)
    resuming = config.checkpoint.resume and checkpoints.latest() is not None
    checksums = corpus_checksums(corpus)
    changes = []
    if resuming:
        recorded = read_settings(run_dir)
        note = keep_recorded_special_ids(model_config, recorded.model_config)
        if note and placement.is_main:
            print(note, flush=True)
        current = RunSettings.resolved(config, model_config.to_dict(), ds_config, corpus.metadata, checksums)
        changes = config_changes(recorded, current)
        check_changes(changes, allow_config_change)
    if not resuming and config.model.init == "checkpoint":
        note = check_init_source(config, corpus)  # clear errors now, not after building the model
        if note and placement.is_main:
            print(note, flush=True)
    if not resuming and placement.is_main and (summary := report_entity_mapping(config, corpus, run_dir)):
        print(summary, flush=True)

    guard_output(log_file(run_dir, placement.rank))  # from here on, losing stdout/stderr is not fatal
    init_distributed(placement)
    seed_everything(config.seed + placement.rank)
    resume = checkpoints.resume_point() if resuming else ResumePoint(None)
    if placement.is_main:
        write_run_files(run_dir, config, model_config, ds_config, corpus, placement.world_size, checksums)
    given_config = config.to_dict()  # before resuming sets model.init
    if resume.tag is not None:
        config.model.init = "random"  # the checkpoint holds the weights
    model = build_model(config, model_config, corpus)
    engine = build_engine(model, config, ds_config)
    train_loader, validation_loader = build_loaders(config, corpus, tokenizer_info, model_config, placement)
    resumed = checkpoints.load(engine, resume.tag) if resume.tag is not None else None
    start_step = resumed.trainer_state["step"] if resumed else 0
    if resumed is not None:
        check_resume_step(config, start_step)
        apply_optimizer_config(engine, config)
    if placement.is_main:
        tag = resumed.tag if resumed else None
        record_start(run_dir, start_step, given_config, placement.world_size, tag, changes)
    logger = MetricsLogger(
        run_dir,
        enabled=placement.is_main,
        tensorboard=config.logging.tensorboard,
        progress_bar=config.logging.progress_bar,
        total_steps=config.schedule.max_steps,
        initial_step=start_step,
    )
    references = None
    if validation_loader is not None:
        references = ReferenceModels.from_corpus(corpus, model_config.vocab_size, model_config.entity_vocab_size)
    trainer = Trainer(
        config,
        engine,
        train_loader,
        validation_loader,
        checkpoints,
        logger,
        accumulation,
        preemption,
        resumed,
        references,
    )
    try:
        for note in resume.notes:
            logger.message(note)
        if resumed is not None:
            logger.message(f"resumed from checkpoint {resumed.tag} at step {start_step}")
            if changes:
                logger.message(f"settings changed from step {start_step} on: {'; '.join(map(str, changes))}")
            if resumed.rng_state is None:
                logger.message("the checkpoint has no random state for some ranks (fewer ranks wrote it)")
        logger.message(
            f"training {config.model.config} on {corpus.path} with {placement.world_size} rank(s), "
            f"{accumulation} micro-batch(es) of {config.batch.micro_batch_size} per rank per step, "
            f"from step {trainer.step} to {config.schedule.max_steps}"
        )
        with known_warnings_silenced():  # DeepSpeed's deprecated torch calls
            result = trainer.fit()
    finally:
        logger.close()
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return result


@click.command(
    "train",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Example: luke train --config configs/train/tiny.yaml data.corpus=corpus run_dir=runs/tiny "
    "optimizer.lr=1e-3",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Training config (YAML or JSON), e.g. configs/train/luke-large-stage1.yaml. Relative paths inside it "
    "are relative to the file.",
)
@click.option(
    "--allow-config-change",
    is_flag=True,
    help="When resuming, also apply changed settings not known to be safe to change within a run (optimizer.*, "
    "schedule.warmup_steps, DeepSpeed options besides ZeRO stage and precision), from the resume step on, "
    "recorded in starts.jsonl. Without it they are refused. schedule.max_steps, checkpoint.*, eval.*, logging.* "
    "may always change; the model, corpus, batch sizes, masking, seed, ZeRO stage and precision never "
    "(docs/STAGES.md, Training).",
)
@click.argument("overrides", nargs=-1)
def train_command(config_file: Path, allow_config_change: bool, overrides: tuple[str, ...]) -> None:
    """Run one pretraining stage with DeepSpeed (ZeRO 1/2/3; bf16, fp16 or fp32; offload).

    OVERRIDES are KEY=VALUE pairs with dotted keys that replace fields of the config, e.g.
    run_dir=runs/stage1 data.corpus=corpus batch.micro_batch_size=8 optimizer.lr=5e-4.

    \b
    Launch: alone (one CPU/GPU process), or under torchrun, the deepspeed launcher or srun —
    rank, world size and local rank come from RANK/WORLD_SIZE/LOCAL_RANK or SLURM_PROCID/SLURM_NTASKS/
    SLURM_LOCALID (see launch/). The run resumes from RUN_DIR/checkpoints/latest when there is one, with
    its recorded settings compared to these (see --allow-config-change); SIGTERM/SIGINT/SIGUSR1 save a
    checkpoint and stop (while the run is still starting: stop at once, nothing to save). Output also goes to
    RUN_DIR/logs/rank-N.log; training outlives a closed terminal.

    \b
    Exit codes: 0 the stage reached schedule.max_steps; 75 stopped on request with a checkpoint saved, or
    before training began (run the same command to resume; launch/train/slurm.sbatch requeues itself); 1 an
    error.
    """
    import torch

    set_deepspeed_defaults(gpu_available=torch.cuda.is_available())
    from pretraining.checkpoint import CheckpointError
    from pretraining.distributed import placement_from_environment
    from pretraining.preemption import StoppedBeforeTraining
    from pretraining.trainer import NonFiniteLossError

    stopped = f"stopped on request (exit code {exit_codes.STOPPED}; the same command resumes)"
    rank = placement_from_environment().rank
    try:
        config = load_config(config_file, list(overrides))
        result = run_training(config, allow_config_change)
    except (ConfigError, CheckpointError, NonFiniteLossError) as error:
        raise click.ClickException(str(error)) from error
    except StoppedBeforeTraining:
        if rank == 0:
            click.echo(f"{stopped} before training began")
        exit_codes.record_exit_status(exit_codes.STOPPED, rank)
        sys.exit(exit_codes.STOPPED)
    finished = result.step >= config.schedule.max_steps
    if rank == 0:
        state = "finished" if finished else stopped
        click.echo(f"{state} at step {result.step}; latest checkpoint: {result.last_checkpoint}")
    code = exit_codes.FINISHED if finished else exit_codes.STOPPED
    exit_codes.record_exit_status(code, rank)
    sys.exit(code)
