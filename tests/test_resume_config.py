"""Resuming a real run (tiny model, DeepSpeed on CPU) with changed settings: adjustable ones apply from the resume
step with the learning rate of the new schedule, fixed ones are refused in one line, guarded ones need
--allow-config-change; an unchanged config resumes exactly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from training_runs import ROOT, run, run_ok, single_process, tiny_overrides, train_losses

from pretraining.lr_schedule import warmup_linear_decay
from pretraining.metrics_log import read_metrics

pytestmark = pytest.mark.slow

LR, WARMUP = 2e-3, 2  # tiny.yaml's lr, tiny_overrides' warmup


@pytest.fixture(scope="module")
def corpus(sample_bpe_corpus):
    return sample_bpe_corpus


def run_args(corpus: Path, run_dir: Path, *extra: str, max_steps: int = 4) -> list[str]:
    overrides = tiny_overrides(
        corpus, run_dir, schedule__max_steps=max_steps, checkpoint__every_steps=2, checkpoint__keep_last=3
    )
    return [*overrides, *extra]


@pytest.fixture(scope="module")
def finished_run(corpus, deepspeed_cpu_env, tmp_path_factory) -> Path:
    """4 steps of the tiny model (lr 2e-3, 2 warmup steps), checkpoints at steps 2 and 4."""
    run_dir = tmp_path_factory.mktemp("resume-config") / "run"
    run_ok(single_process(run_args(corpus, run_dir)), deepspeed_cpu_env)
    return run_dir


def copy_run(finished_run: Path, tmp_path: Path) -> Path:
    return shutil.copytree(finished_run, tmp_path / "run")


def rates(run_dir: Path) -> dict[int, float]:
    return {record["step"]: record["lr"] for record in read_metrics(run_dir, "train")}


def last_start(run_dir: Path) -> dict:
    return json.loads((run_dir / "starts.jsonl").read_text().splitlines()[-1])


def expected_rates(lr: float, max_steps: int, steps: range) -> dict[int, float]:
    """The logged rate of step s (1-based) is the schedule's for optimizer step s - 1."""
    return {step: lr * warmup_linear_decay(step - 1, WARMUP, max_steps) for step in steps}


def error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.returncode != 0 and len(lines) == 1, result.stdout[-2000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_longer_schedule_continues_at_its_own_rates(finished_run, corpus, deepspeed_cpu_env, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    result = run_ok(single_process(run_args(corpus, run_dir, max_steps=8)), deepspeed_cpu_env)
    assert "finished at step 8" in result.stdout
    assert "settings changed from step 4 on:" in result.stdout and "schedule.max_steps: 4 → 8" in result.stdout
    logged = rates(run_dir)
    assert sorted(logged) == list(range(1, 9))
    assert {step: logged[step] for step in range(1, 5)} == expected_rates(LR, 4, range(1, 5))
    resumed = {step: logged[step] for step in range(5, 9)}
    assert resumed == pytest.approx(expected_rates(LR, 8, range(5, 9)), rel=1e-12) and min(resumed.values()) > 0
    assert json.loads((run_dir / "config.json").read_text())["schedule"]["max_steps"] == 8
    start = last_start(run_dir)
    assert start["step"] == 4 and start["resumed_from"] == "step-00000004"
    changes = {change["field"]: change for change in start["changed"]}
    assert changes["schedule.max_steps"] == {"field": "schedule.max_steps", "old": 4, "new": 8, "kind": "adjustable"}
    assert set(changes) == {"schedule.max_steps", "run_dir"}  # the copy lies elsewhere


@pytest.mark.parametrize("change", ["batch", "model"])
def test_a_fixed_change_is_refused_in_one_line(change, finished_run, corpus, deepspeed_cpu_env, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    if change == "batch":
        extra, named = ["batch.micro_batch_size=2"], "batch.micro_batch_size: 4 → 2"
    else:
        model = json.loads((ROOT / "configs" / "model" / "tiny.json").read_text())
        (tmp_path / "wider.json").write_text(json.dumps({**model, "intermediate_size": 256}))
        extra, named = [f"model.config={tmp_path / 'wider.json'}"], "model.config.intermediate_size: 128 → 256"
    before = {name: (run_dir / name).read_text() for name in ("config.json", "starts.jsonl")}
    result = run(single_process(run_args(corpus, run_dir, *extra, "--allow-config-change")), deepspeed_cpu_env)
    line = error_line(result)
    assert named in line and "cannot resume with changed settings" in line, line
    assert {name: (run_dir / name).read_text() for name in before} == before


def test_a_guarded_change_needs_allow_config_change(finished_run, corpus, deepspeed_cpu_env, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    args = run_args(corpus, run_dir, "optimizer.lr=4e-3", max_steps=6)
    line = error_line(run(single_process(args), deepspeed_cpu_env))
    assert "optimizer.lr: 0.002 → 0.004" in line and "--allow-config-change" in line, line
    assert "schedule.max_steps: 4" not in line  # adjustable: no flag needed
    assert json.loads((run_dir / "config.json").read_text())["optimizer"]["lr"] == LR

    result = run_ok(single_process([*args, "--allow-config-change"]), deepspeed_cpu_env)
    assert "finished at step 6" in result.stdout
    resumed = {step: rate for step, rate in rates(run_dir).items() if step > 4}
    assert resumed == pytest.approx(expected_rates(4e-3, 6, range(5, 7)), rel=1e-12)
    assert json.loads((run_dir / "config.json").read_text())["optimizer"]["lr"] == 4e-3
    changes = {change["field"]: change for change in last_start(run_dir)["changed"]}
    assert changes["optimizer.lr"] == {"field": "optimizer.lr", "old": LR, "new": 4e-3, "kind": "guarded"}


def test_an_unchanged_config_resumes_exactly(finished_run, corpus, deepspeed_cpu_env, tmp_path):
    run_dir = copy_run(finished_run, tmp_path)
    shutil.rmtree(run_dir / "checkpoints" / "step-00000004")
    (run_dir / "checkpoints" / "latest").write_text("step-00000002")
    result = run_ok(single_process(run_args(corpus, run_dir)), deepspeed_cpu_env)
    assert "resumed from checkpoint step-00000002 at step 2" in result.stdout
    assert "settings changed from step 2 on: run_dir:" in result.stdout  # the copy lies elsewhere; nothing else
    assert train_losses(run_dir) == train_losses(finished_run) and rates(run_dir) == rates(finished_run)
    assert [change["field"] for change in last_start(run_dir)["changed"]] == ["run_dir"]
