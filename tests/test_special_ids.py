"""The model config's special ids come from the corpus tokenizer: `<s>` trains, padding never does, and a run
resumed with other recorded ids keeps training with those."""

from __future__ import annotations

import json

import pytest
import torch
from training_runs import TINY, run_ok, single_process, tiny_overrides

from luke.modeling.embeddings import word_position_ids
from preprocessing.corpus import Corpus
from pretraining.config import load_config
from pretraining.data import TokenizerInfo
from pretraining.distributed import ProcessPlacement
from pretraining.loaders import build_loaders
from pretraining.model_setup import build_model, resolve_model_config

pytestmark = pytest.mark.slow


def _padded_batch(loader) -> dict[str, torch.Tensor]:
    """The first batch of ``loader`` that holds padding and a masked entity."""
    return next(
        batch
        for batch in loader
        if not batch["word_attention_mask"].all() and batch["masked_entity_labels"].ne(-100).any()
    )


@pytest.mark.parametrize("corpus_fixture", ["enwiki_corpus", "enwiki_sp_corpus"])
def test_one_step_trains_bos_and_never_the_padding_row(corpus_fixture, request, tmp_path):
    corpus_dir = request.getfixturevalue(corpus_fixture)
    corpus = Corpus.open(corpus_dir)
    tokenizer = TokenizerInfo.from_pretrained(corpus.tokenizer_path)
    config = load_config(TINY, tiny_overrides(corpus_dir, tmp_path / "run", optimizer__weight_decay=0.0))
    model_config = resolve_model_config(config, corpus, tokenizer)
    pad, bos, eos = tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id
    assert (model_config.pad_token_id, model_config.bos_token_id, model_config.eos_token_id) == (pad, bos, eos)
    assert len({pad, bos, eos}) == 3

    torch.manual_seed(0)
    model = build_model(config, model_config, corpus)
    train_loader, _ = build_loaders(config, corpus, tokenizer, model_config, ProcessPlacement(0, 1, 0))
    batch = _padded_batch(train_loader)
    assert (batch["word_ids"][:, 0] == bos).all() and (
        batch["word_ids"][~batch["word_attention_mask"].bool()] == pad
    ).all()
    positions = word_position_ids(batch["word_ids"], model_config.pad_token_id)
    assert (positions[:, 0] == pad + 1).all()  # <s> is the first real position, not padding
    assert (positions[~batch["word_attention_mask"].bool()] == pad).all()

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    output = model(**batch)
    # The word rows also get gradients from the tied MLM decoder; MEP reads the words through the encoder only.
    output.mep_loss.backward(retain_graph=True)
    word_gradient = model.luke.embeddings.word_embeddings.weight.grad
    assert word_gradient[bos].any() and word_gradient[eos].any() and not word_gradient[pad].any()
    optimizer.zero_grad()
    output.loss.backward()
    position_gradient = model.luke.embeddings.position_embeddings.weight.grad
    assert position_gradient[pad + 1].any() and not position_gradient[pad].any()
    optimizer.step()
    positions_after = model.luke.embeddings.position_embeddings.weight
    assert not positions_after[pad].any() and positions_after[pad + 1].any()  # the padding row stays zero


def _steps(corpus_dir, run_dir, steps: int) -> list[str]:
    return tiny_overrides(corpus_dir, run_dir, schedule__max_steps=steps, checkpoint__every_steps=2)


def test_a_run_resumes_with_the_special_ids_it_recorded(enwiki_sp_corpus, deepspeed_cpu_env, tmp_path):
    run_dir = tmp_path / "run"
    tokenizer = TokenizerInfo.from_pretrained(Corpus.open(enwiki_sp_corpus).tokenizer_path)
    run_ok(single_process(_steps(enwiki_sp_corpus, run_dir, 2)), deepspeed_cpu_env)
    recorded = json.loads((run_dir / "model_config.json").read_text())
    assert {name: recorded[name] for name in tokenizer.model_config_ids} == tokenizer.model_config_ids
    assert tokenizer.model_config_ids == {"pad_token_id": 3, "bos_token_id": 1, "eos_token_id": 2}

    # A run started before the ids came from the tokenizer recorded RoBERTa's: it keeps training with them.
    old_ids = {"pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}
    (run_dir / "model_config.json").write_text(json.dumps(recorded | old_ids))
    resumed = run_ok(single_process(_steps(enwiki_sp_corpus, run_dir, 4)), deepspeed_cpu_env)
    assert "resumed from checkpoint step-00000002 at step 2" in resumed.stdout
    assert "resuming with the special ids this run was trained with: pad_token_id 1 (tokenizer: 3)" in resumed.stdout
    assert "cannot resume" not in resumed.stdout + resumed.stderr
    kept = json.loads((run_dir / "model_config.json").read_text())
    assert {name: kept[name] for name in old_ids} == old_ids
