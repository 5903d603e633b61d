"""Resuming with changed settings: each field's kind, the differences found, the one-line refusals, and the
learning-rate schedule a resumed scheduler follows."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from pretraining.config import ConfigError, TrainConfig, load_config
from pretraining.config_changes import (
    FIELD_KINDS,
    RunSettings,
    check_changes,
    check_resume_step,
    config_changes,
    field_kind,
    flatten,
)
from pretraining.lr_schedule import build_lr_scheduler, follow_schedule, warmup_linear_decay

DEEPSPEED = {"zero_optimization": {"stage": 2}, "train_batch_size": 8, "gradient_accumulation_steps": 2}
METADATA = {"format_version": 2, "splits": {"train": {"sequences": 100}}}
CHECKSUMS = {"tokenizer": "sha256:aa", "entity_vocab": "sha256:bb"}
REQUIRED = ["run_dir=run", "deepspeed=ds.json", "data.corpus=corpus", "model.config=tiny.json"]


def settings(*overrides: str, deepspeed=DEEPSPEED, model=None, metadata=METADATA, checksums=CHECKSUMS) -> RunSettings:
    config = load_config(None, [*REQUIRED, *overrides])
    return RunSettings.resolved(config, model or {"hidden_size": 64}, deepspeed, metadata, checksums)


def changed(recorded: RunSettings, current: RunSettings) -> dict[str, tuple]:
    return {change.field: (change.old, change.new, change.kind) for change in config_changes(recorded, current)}


def test_every_field_of_the_training_config_is_classified():
    fields = flatten(dataclasses.asdict(TrainConfig()))
    unlisted = [name for name in fields if not any(name == p or name.startswith(p + ".") for p in FIELD_KINDS)]
    assert not unlisted
    assert field_kind("batch.micro_batch_size") == "fixed" and field_kind("model.config") == "adjustable"
    assert field_kind("model.gradient_checkpointing") == "adjustable" and field_kind("model.init_from") == "fixed"
    assert field_kind("optimizer.lr") == "guarded" and field_kind("schedule.max_steps") == "adjustable"
    assert field_kind("data.masking.masked_lm_prob") == "fixed" and field_kind("new_section.field") == "guarded"


def test_an_unchanged_config_has_no_changes():
    assert config_changes(settings(), settings()) == []


def test_each_change_has_its_kind():
    recorded = settings()
    current = settings("schedule.max_steps=42", "optimizer.lr=0.5", "batch.micro_batch_size=2", "seed=7")
    assert changed(recorded, current) == {
        "schedule.max_steps": (1000, 42, "adjustable"),
        "optimizer.lr": (1e-5, 0.5, "guarded"),
        "batch.micro_batch_size": (4, 2, "fixed"),
        "seed": (42, 7, "fixed"),
    }


def test_deepspeed_files_are_compared_by_content():
    recorded = settings()
    moved = settings("deepspeed=elsewhere/ds.json")
    assert changed(recorded, moved) == {"deepspeed": ("ds.json", "elsewhere/ds.json", "adjustable")}
    # accumulation follows the world size and batch sizes (compared as batch.*): not a DeepSpeed setting
    zero3 = {"zero_optimization": {"stage": 3, "overlap_comm": True}, "gradient_accumulation_steps": 1}
    assert changed(recorded, settings(deepspeed=zero3)) == {
        "deepspeed.zero_optimization.stage": (2, 3, "fixed"),
        "deepspeed.zero_optimization.overlap_comm": (None, True, "guarded"),
    }
    bf16 = {**DEEPSPEED, "bf16": {"enabled": True}}
    assert changed(recorded, settings(deepspeed=bf16)) == {"deepspeed.bf16.enabled": (False, True, "fixed")}
    unrecorded = dataclasses.replace(recorded, deepspeed=None)
    assert changed(unrecorded, moved) == {"deepspeed": ("ds.json", "elsewhere/ds.json", "guarded")}


def test_the_model_and_the_corpus_are_compared_by_content():
    recorded = settings()
    assert changed(recorded, settings(model={"hidden_size": 128})) == {"model.config.hidden_size": (64, 128, "fixed")}
    assert changed(recorded, settings("data.corpus=moved")) == {"data.corpus": ("corpus", "moved", "adjustable")}
    other = {**METADATA, "splits": {"train": {"sequences": 99}}}
    assert changed(recorded, settings("data.corpus=other", metadata=other)) == {
        "data.corpus": ("corpus", "other", "adjustable"),
        "data.corpus (another corpus: splits differ)": ("corpus", "other", "fixed"),
    }
    swapped = {**CHECKSUMS, "entity_vocab": "sha256:cc"}
    assert changed(recorded, settings(checksums=swapped)) == {
        "data.corpus (another corpus: entity_vocab differ)": ("corpus", "corpus", "fixed")
    }
    assert changed(dataclasses.replace(recorded, vocabulary_checksums={}), settings(checksums=swapped)) == {}


def test_refusals_are_one_line_naming_fields_and_values():
    recorded = settings()
    with pytest.raises(ConfigError) as fixed:
        check_changes(config_changes(recorded, settings("batch.micro_batch_size=2", "optimizer.lr=0.5")), True)
    assert "batch.micro_batch_size: 4 → 2" in str(fixed.value) and "optimizer.lr" not in str(fixed.value)
    guarded = config_changes(recorded, settings("optimizer.lr=0.5", "schedule.max_steps=42"))
    with pytest.raises(ConfigError) as refused:
        check_changes(guarded, False)
    message = str(refused.value)
    assert "optimizer.lr: 1e-05 → 0.5" in message and "--allow-config-change" in message and "\n" not in message
    assert "schedule.max_steps:" not in message
    check_changes(guarded, True)
    check_changes(config_changes(recorded, settings("schedule.max_steps=42", "logging.every_steps=1")), False)
    with pytest.raises(ConfigError, match=r"schedule.max_steps=42 is below step 50"):
        check_resume_step(load_config(None, [*REQUIRED, "schedule.max_steps=42"]), 50)


@pytest.mark.parametrize(("new_lr", "new_max_steps"), [(2e-3, 4), (2e-3, 8), (5e-3, 10)])
def test_a_restored_scheduler_follows_the_schedule_of_this_run(new_lr, new_max_steps):
    """A run of 4 steps (warmup 2) saved at its end, restored into a scheduler built from the new config."""
    weight = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.AdamW([weight], lr=2e-3)
    scheduler = build_lr_scheduler(optimizer, warmup_steps=2, max_steps=4)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    saved_lr = optimizer.param_groups[0]["lr"]
    saved = (optimizer.state_dict(), scheduler.state_dict())

    optimizer = torch.optim.AdamW([weight], lr=new_lr)
    scheduler = build_lr_scheduler(optimizer, warmup_steps=2, max_steps=new_max_steps)
    optimizer.load_state_dict(saved[0])
    scheduler.load_state_dict(saved[1])
    follow_schedule(scheduler, new_lr)
    rates = []
    for _ in range(4, new_max_steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates == [new_lr * warmup_linear_decay(step, 2, new_max_steps) for step in range(4, new_max_steps)]
    assert all(rate > 0 for rate in rates)
    if new_max_steps == 4:  # unchanged: exactly the rate the checkpoint saved
        assert optimizer.param_groups[0]["lr"] == saved_lr
