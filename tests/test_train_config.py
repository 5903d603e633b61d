"""The training config: shipped stage configs load, overrides apply, bad values are named."""

import itertools
from pathlib import Path

import pytest

from pretraining.config import ConfigError, load_config, save_config
from pretraining.distributed import placement_from_environment
from pretraining.lr_schedule import warmup_linear_decay

ROOT = Path(__file__).resolve().parents[1]
TRAIN_CONFIGS = sorted((ROOT / "configs" / "train").glob("*.yaml"))
REQUIRED = ["data.corpus=/corpus", "run_dir=/run"]


def write(tmp_path, text):
    path = tmp_path / "train.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: p.stem)
def test_shipped_stage_configs_are_valid(path):
    config = load_config(path, REQUIRED)
    assert Path(config.deepspeed).is_file()
    assert Path(config.model.config).is_file() or config.model.init == "pretrained"  # whose config is init_from's
    if "stage" in path.stem:  # LUKE's recipe: global batch 2048, AdamW 0.9/0.999/1e-6, decay 0.01, warmup 2500
        assert config.batch.global_batch_size == 2048
        optimizer = config.optimizer
        assert (optimizer.betas, optimizer.eps, optimizer.weight_decay) == ((0.9, 0.999), 1e-6, 0.01)
        assert config.schedule.warmup_steps == 2500
        stage1 = "stage1" in path.stem
        assert config.model.train_only_entity_weights is stage1
        assert config.optimizer.lr == (5e-4 if stage1 else 1e-5)
        assert config.model.init == ("roberta" if stage1 else "checkpoint")


def test_overrides_take_dotted_paths_and_typed_values(tmp_path):
    config = load_config(
        ROOT / "configs/train/tiny.yaml",
        [*REQUIRED, "optimizer.lr=1e-4", "optimizer.betas=[0.8, 0.99]", "eval.every_steps=0", "data.num_workers=0"],
    )
    assert config.optimizer.lr == 1e-4 and config.optimizer.betas == (0.8, 0.99)
    assert config.eval.every_steps == 0 and config.data.num_workers == 0
    assert config.run_dir == "/run"
    save_config(config, tmp_path / "resolved.json")
    assert load_config(tmp_path / "resolved.json") == config


def test_relative_paths_in_a_file_are_relative_to_the_file(tmp_path):
    (tmp_path / "ds.json").write_text("{}")
    config = load_config(write(tmp_path, "deepspeed: ds.json\nmodel: {config: tiny}\n"), REQUIRED)
    assert config.deepspeed == str(tmp_path / "ds.json")
    assert config.model.config == "tiny"  # a named config, not a path


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optimiser.lr=1"], "unknown config key optimiser (did you mean optimizer?)"),
        (["optimizer.learning_rate=1"], "unknown config key optimizer.learning_rate"),
        (["optimizer.lr=fast"], "optimizer.lr must be a number"),
        (["schedule.max_steps=1.5"], "schedule.max_steps must be an integer"),
        (["model.init=magic"], "model.init must be one of"),
        (["model.init=roberta"], "model.init_from is required"),
        (["optimizer.betas=[0.9]"], "optimizer.betas must be a list of 2 values"),
        (["batch.micro_batch_size=0"], "batch.micro_batch_size must be positive"),
        (["batch.micro_batch_size=4096"], "batch.micro_batch_size=4096 is larger than batch.global_batch_size"),
        (["schedule.warmup_steps=5000", "schedule.max_steps=10"], "schedule.warmup_steps=5000 exceeds"),
        (["data.masking.masked_lm_prob=1.5"], "data.masking: masking option masked_lm_prob must be a probability"),
        (["data.masked_lm_prob=0.2"], "unknown config key data.masked_lm_prob"),
        (["run_dir="], "run_dir is required"),
        (["lr"], "must look like key=value"),
    ],
)
def test_bad_values_are_named(overrides, message):
    with pytest.raises(ConfigError) as error:
        load_config(ROOT / "configs/train/tiny.yaml", [*REQUIRED, *overrides])
    assert message in str(error.value)


def test_unknown_key_in_a_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key batch\.size \(known: global_batch_size, micro_batch"):
        load_config(write(tmp_path, "batch:\n  size: 3\n"), REQUIRED)


def test_impossible_batch_sizes_for_the_world_size_are_named():
    config = load_config(ROOT / "configs/train/luke-large-stage1.yaml", REQUIRED)
    assert config.gradient_accumulation_steps(world_size=8) == 2048 // (16 * 8)
    with pytest.raises(ConfigError, match=r"batch.global_batch_size=2048 is not a multiple of .* 16 × 3 = 48"):
        config.gradient_accumulation_steps(world_size=3)


def test_learning_rate_warms_up_then_decays_linearly_to_zero():
    factors = [warmup_linear_decay(step, warmup_steps=4, max_steps=12) for step in range(13)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4] == 1.0 and factors[8] == 0.5 and factors[12] == 0.0
    assert all(a >= b for a, b in itertools.pairwise(factors[3:]))


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, (0, 1, 0)),
        ({"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1"}, (5, 8, 1)),
        ({"SLURM_PROCID": "9", "SLURM_NTASKS": "16", "SLURM_LOCALID": "1"}, (9, 16, 1)),
        ({"RANK": "1", "WORLD_SIZE": "2", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, (1, 2, 0)),
    ],
)
def test_rank_and_world_size_come_from_the_launcher(environ, expected):
    placement = placement_from_environment(environ)
    assert (placement.rank, placement.world_size, placement.local_rank) == expected
