"""Bad input to `luke train`: a clear message naming the problem, nothing already saved lost."""

import json
import shutil

import pytest
from click.testing import CliRunner
from training_runs import TINY, run, run_ok, single_process, tiny_overrides

from luke.cli import main
from pretraining.checkpoint import latest_tag


@pytest.fixture(scope="module")
def corpus(sample_bpe_corpus):
    return sample_bpe_corpus


def train(*args):
    return CliRunner().invoke(main, ["train", "--config", str(TINY), *map(str, args)])


def assert_refused(result, *fragments):
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for fragment in fragments:
        assert fragment in result.output, result.output


def copy_corpus(corpus, tmp_path):
    return shutil.copytree(corpus, tmp_path / "corpus")


def test_missing_corpus(tmp_path):
    result = train(f"data.corpus={tmp_path / 'nowhere'}", f"run_dir={tmp_path / 'run'}")
    assert_refused(result, "data.corpus:", "nowhere does not exist")
    assert not (tmp_path / "run").exists()


def test_incomplete_corpus(corpus, tmp_path):
    broken = copy_corpus(corpus, tmp_path)
    (broken / "metadata.json").unlink()
    result = train(f"data.corpus={broken}", f"run_dir={tmp_path / 'run'}")
    assert_refused(result, "metadata.json is missing", "was `luke build-corpus` interrupted?")


def test_corpus_of_another_schema_version(corpus, tmp_path):
    other = copy_corpus(corpus, tmp_path)
    metadata = json.loads((other / "metadata.json").read_text())
    metadata["format_version"] = 4
    (other / "metadata.json").write_text(json.dumps(metadata))
    result = train(f"data.corpus={other}", f"run_dir={tmp_path / 'run'}")
    assert_refused(result, "format_version 4 is not supported")


def test_model_config_that_does_not_fit_the_corpus(corpus, tmp_path):
    # configs/model/tiny.json has vocab_size 1000 and entity_vocab_size 1000; the corpus has more of both.
    result = train(f"data.corpus={corpus}", f"run_dir={tmp_path}", "model.vocab_sizes_from_corpus=false")
    assert_refused(result, "model.config", "vocab_size 1000 is smaller than the", "tokens of the corpus tokenizer")
    model_config = json.loads((TINY.parent.parent / "model" / "tiny.json").read_text())
    model_config["vocab_size"] = 100_000
    (tmp_path / "model.json").write_text(json.dumps(model_config))
    result = train(
        f"data.corpus={corpus}",
        f"run_dir={tmp_path}",
        "model.vocab_sizes_from_corpus=false",
        f"model.config={tmp_path / 'model.json'}",
    )
    assert_refused(result, "entity_vocab_size 1000 differs from the", "entity_vocab.jsonl")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optimizer.momentum=0.9"], "unknown config key optimizer.momentum"),
        (["batch.global_batch_size=10", "batch.micro_batch_size=4"], "batch.global_batch_size=10 is not a multiple"),
        (["optimizer.bias_correction=false"], "optimizer.bias_correction=false needs DeepSpeed's Adam"),
    ],
)
def test_bad_config(corpus, tmp_path, overrides, message):
    assert_refused(train(f"data.corpus={corpus}", f"run_dir={tmp_path}", *overrides), message)


def test_deepspeed_file_that_sets_what_the_training_config_owns(corpus, tmp_path):
    (tmp_path / "ds.json").write_text(json.dumps({"train_batch_size": 64, "zero_optimization": {"stage": 2}}))
    result = train(f"data.corpus={corpus}", f"run_dir={tmp_path}", f"deepspeed={tmp_path / 'ds.json'}")
    assert_refused(result, "sets ['train_batch_size']", "remove them from the DeepSpeed file")


@pytest.mark.slow
def test_nan_loss_stops_without_touching_the_saved_checkpoint(corpus, deepspeed_cpu_env, tmp_path):
    overrides = tiny_overrides(corpus, tmp_path, schedule__max_steps=8, checkpoint__every_steps=2)
    result = run(single_process(overrides, fault=True), deepspeed_cpu_env, fault="nan-loss-at-step:4")
    assert result.returncode != 0
    assert "the training loss is nan at step 2" in result.stderr, result.stderr[-3000:]
    # Step 2 ran forward passes 3 and 4: the checkpoint of step 2 was never written; nothing is latest yet.
    assert latest_tag(tmp_path / "checkpoints") is None
    result = run(single_process(overrides, fault=True), deepspeed_cpu_env, fault="nan-loss-at-step:7")
    assert "the training loss is nan at step 4" in result.stderr and "'step-00000002' is intact" in result.stderr
    assert latest_tag(tmp_path / "checkpoints") == "step-00000002"
    assert not (tmp_path / "checkpoints" / "step-00000004").exists()


@pytest.mark.slow
def test_full_disk_while_checkpointing_keeps_the_previous_checkpoint(corpus, deepspeed_cpu_env, tmp_path):
    overrides = tiny_overrides(corpus, tmp_path, schedule__max_steps=6, checkpoint__every_steps=2)
    result = run(single_process(overrides, fault=True), deepspeed_cpu_env, fault="disk-full-at:step-00000004")
    assert result.returncode != 0
    assert "could not save checkpoint 'step-00000004'" in result.stderr, result.stderr[-3000:]
    assert "No space left on device" in result.stderr
    assert "the previous checkpoint 'step-00000002' is intact" in result.stderr
    checkpoints = tmp_path / "checkpoints"
    assert latest_tag(checkpoints) == "step-00000002" and not (checkpoints / "step-00000004").exists()
    # Space is back: the same command resumes from step 2 and finishes.
    output = run_ok(single_process(overrides), deepspeed_cpu_env).stdout
    assert "finished at step 6" in output and latest_tag(checkpoints) == "step-00000006"
