"""Checkpoints read back by resume, stage 2's start and export: verified against their manifest, never
unpickled beyond tensors and the checkpoint classes, and only used with the vocabularies they were trained on.
Real `luke train` runs (DeepSpeed on CPU) on the sample corpus."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch
from training_runs import run, run_ok, single_process, tiny_overrides, train_losses

from pretraining.manifest import files_under, hash_files, read_manifest, write_manifest
from pretraining.safe_load import weights_only_loads

pytestmark = pytest.mark.slow

OPTIM_STATES = "zero_pp_rank_0_mp_rank_00_optim_states.pt"
MODEL_STATES = "mp_rank_00_model_states.pt"


@pytest.fixture(scope="module")
def corpus(sample_bpe_corpus):
    return sample_bpe_corpus


def run_args(corpus: Path, run_dir: Path, max_steps: int, **fields) -> list[str]:
    return tiny_overrides(
        corpus, run_dir, schedule__max_steps=max_steps, checkpoint__every_steps=2, checkpoint__keep_last=3, **fields
    )


@pytest.fixture(scope="module")
def trained_run(corpus, deepspeed_cpu_env, tmp_path_factory) -> Path:
    """4 steps of the tiny model, checkpoints at steps 2 and 4."""
    run_dir = tmp_path_factory.mktemp("integrity") / "run"
    run_ok(single_process(run_args(corpus, run_dir, 4)), deepspeed_cpu_env)
    return run_dir


def copy_run(trained_run: Path, tmp_path: Path) -> Path:
    return shutil.copytree(trained_run, tmp_path / "run")


def overwrite_4_kib(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        handle.write(os.urandom(4096))


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


def test_manifest_lists_every_file_with_its_size_and_digest(trained_run):
    for tag in ("step-00000002", "step-00000004"):
        tag_dir = trained_run / "checkpoints" / tag
        manifest = read_manifest(tag_dir).files
        assert sorted(manifest) == files_under(tag_dir)
        assert {OPTIM_STATES, MODEL_STATES, "rng/rank-00000.pt", "trainer_state.json"} <= set(manifest)
        assert manifest == hash_files(tag_dir, manifest)  # hashed while written = hashed from disk
    checksums = json.loads((trained_run / "run_info.json").read_text())["vocabulary_checksums"]
    assert set(checksums) == {"tokenizer", "entity_vocab"} and all(v.startswith("sha256:") for v in checksums.values())


def test_resume_falls_back_past_a_damaged_checkpoint(trained_run, corpus, deepspeed_cpu_env, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    overwrite_4_kib(run_dir / "checkpoints" / "step-00000004" / OPTIM_STATES)
    output = run_ok(single_process(run_args(corpus, run_dir, 6)), deepspeed_cpu_env).stdout
    assert (
        f"checkpoint {run_dir / 'checkpoints' / 'step-00000004'} is damaged: {OPTIM_STATES} differs from its digest "
        "in the manifest" in output
    ), output
    assert "resuming from step-00000002, the newest intact checkpoint" in output
    assert "resumed from checkpoint step-00000002 at step 2" in output and "finished at step 6" in output
    # steps 3 and 4 were trained again from the intact checkpoint: the same losses as the first time
    original, resumed = train_losses(trained_run), train_losses(run_dir)
    assert [resumed[step] for step in (3, 4)] == [original[step] for step in (3, 4)]


def test_truncated_model_states_are_named_in_one_line(trained_run, corpus, deepspeed_cpu_env, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    for tag in ("step-00000002", "step-00000004"):
        states = run_dir / "checkpoints" / tag / MODEL_STATES
        states.write_bytes(states.read_bytes()[:1000])
    result = run(single_process(run_args(corpus, run_dir, 6)), deepspeed_cpu_env)
    assert result.returncode != 0
    [line] = error_lines(result.stderr)
    assert "no intact checkpoint to resume from" in line and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"{MODEL_STATES} has 1,000 bytes, the manifest says" in line and "step-00000002" in line
    # a checkpoint saved before manifests existed: the torch file itself is found unreadable, named
    (run_dir / "checkpoints" / "step-00000004" / "manifest.json").unlink()
    (run_dir / "checkpoints" / "step-00000002" / "manifest.json").unlink()
    result = run(single_process(run_args(corpus, run_dir, 6)), deepspeed_cpu_env)
    [line] = error_lines(result.stderr)
    assert f"{MODEL_STATES} is unreadable" in line, result.stderr[-3000:]


class Payload:
    """Pickled as a call of os.system: what a malicious checkpoint would run when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant_payload(tag_dir: Path, marker: Path) -> Path:
    """Add the payload to the checkpoint's model states and rewrite its manifest, as an attacker with write
    access would: the manifest cannot catch it, the pickle scan must."""
    states = tag_dir / MODEL_STATES
    with weights_only_loads():
        content = torch.load(states, weights_only=True)
    content["payload"] = Payload(marker)
    torch.save(content, states)
    write_manifest(tag_dir, hash_files(tag_dir, files_under(tag_dir)))
    return states


def luke(*args: str) -> list[str]:
    return [sys.executable, "-m", "luke.cli", *map(str, args)]


@pytest.mark.parametrize("command", ["export", "resume", "init"])
def test_a_malicious_pickle_is_refused_and_never_runs(command, trained_run, corpus, deepspeed_cpu_env, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    marker = tmp_path / "PWNED"
    states = plant_payload(run_dir / "checkpoints" / "step-00000004", marker)
    if command == "export":
        argv = luke("export", run_dir, "--output", tmp_path / "exported")
    elif command == "resume":
        argv = single_process(run_args(corpus, run_dir, 6))
    else:
        argv = single_process(
            run_args(corpus, tmp_path / "stage2", 2, model__init="checkpoint", model__init_from=run_dir)
        )
    result = run(argv, deepspeed_cpu_env)
    assert result.returncode != 0 and not marker.exists()
    lines = error_lines(result.stderr)
    assert lines and all(line == lines[0] for line in lines), result.stderr[-3000:]  # one line (per rank)
    assert f"refusing to load {states}: its pickle names posix.system" in lines[0]
    assert "Traceback" not in result.stderr


def test_stage2_init_from_a_damaged_checkpoint_is_refused(trained_run, corpus, deepspeed_cpu_env, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    overwrite_4_kib(run_dir / "checkpoints" / "step-00000004" / OPTIM_STATES)
    stage2 = run_args(corpus, tmp_path / "stage2", 2, model__init="checkpoint", model__init_from=run_dir)
    result = run(single_process(stage2), deepspeed_cpu_env)
    assert result.returncode != 0
    [line] = error_lines(result.stderr)
    assert f"step-00000004 is damaged: {OPTIM_STATES} differs from its digest" in line, result.stderr[-3000:]


def swap_two_entities(corpus: Path, tmp_path: Path) -> Path:
    """A copy of ``corpus`` whose entity vocabulary gives two entities each other's ids: same sizes, other ids."""
    other = shutil.copytree(corpus, tmp_path / "swapped-corpus")
    path = other / "entity_vocab.jsonl"
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    entries[3]["entities"], entries[4]["entities"] = entries[4]["entities"], entries[3]["entities"]
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    return other


def test_stage2_init_from_a_run_on_other_vocabularies_is_refused(
    trained_run, corpus, enwiki_sp_corpus, deepspeed_cpu_env, tmp_path
):
    info = json.loads((trained_run / "run_info.json").read_text())
    recorded = info["vocabulary_checksums"]
    # another corpus (SentencePiece trained by build-corpus, its own entity vocabulary): other sizes too
    stage2 = run_args(enwiki_sp_corpus, tmp_path / "a", 2, model__init="checkpoint", model__init_from=trained_run)
    result = run(single_process(stage2), deepspeed_cpu_env)
    assert result.returncode != 0
    [line] = error_lines(result.stderr)
    assert "size mismatch" not in result.stderr and "Traceback" not in result.stderr
    assert f"model.init_from: run {trained_run} was trained with other vocabularies than corpus" in line
    for key in ("tokenizer", "entity_vocab"):
        assert f"{recorded[key]} ({info[key]})" in line, line
    assert str(enwiki_sp_corpus / "tokenizer") in line and str(enwiki_sp_corpus / "entity_vocab.jsonl") in line
    # the same sizes, two entities swapped: would load silently and mean something else
    swapped = swap_two_entities(corpus, tmp_path)
    stage2 = run_args(swapped, tmp_path / "b", 2, model__init="checkpoint", model__init_from=trained_run)
    result = run(single_process(stage2), deepspeed_cpu_env)
    [line] = error_lines(result.stderr)
    assert f"entity vocabulary {recorded['entity_vocab']}" in line and "tokenizer sha256" not in line
    # the corpus it was trained on: stage 2 starts
    stage2 = run_args(corpus, tmp_path / "c", 2, model__init="checkpoint", model__init_from=trained_run)
    assert "finished at step 2" in run_ok(single_process(stage2), deepspeed_cpu_env).stdout
