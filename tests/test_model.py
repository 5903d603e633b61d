"""Behaviour of LukeForPretraining beyond parity: fused attention, training switches, dtypes, edge cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from luke.configs import load_model_config
from luke.model import LukeForPretraining
from luke.modeling.attention import LukeSelfAttention
from luke.synthetic_batch import random_batch


def tiny_config(**overrides):
    return load_model_config("tiny", vocab_size=300, entity_vocab_size=200, type_vocab_size=2, **overrides)


def four_matrix_attention(attention: LukeSelfAttention, states: torch.Tensor, num_words: int, mask: torch.Tensor):
    """The paper's entity-aware attention written out: four score blocks, softmax, weighted values."""
    heads, size = attention.num_heads, attention.head_size

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], heads, size).transpose(1, 2)

    words, entities = states[:, :num_words], states[:, num_words:]
    key, value = split(attention.key(states)), split(attention.value(states))
    word_key, entity_key = key[:, :, :num_words], key[:, :, num_words:]
    scores = torch.cat(
        [
            torch.cat(
                [
                    split(attention.query(words)) @ word_key.transpose(-1, -2),
                    split(attention.w2e_query(words)) @ entity_key.transpose(-1, -2),
                ],
                dim=-1,
            ),
            torch.cat(
                [
                    split(attention.e2w_query(entities)) @ word_key.transpose(-1, -2),
                    split(attention.e2e_query(entities)) @ entity_key.transpose(-1, -2),
                ],
                dim=-1,
            ),
        ],
        dim=2,
    ) / math.sqrt(size)
    scores = scores.masked_fill(~mask, float("-inf"))
    context = scores.softmax(-1) @ value
    return context.transpose(1, 2).reshape(states.shape)


def test_fused_entity_aware_attention_equals_four_query_matrices() -> None:
    torch.manual_seed(0)
    config = tiny_config(use_entity_aware_attention=True)
    attention = LukeSelfAttention(config).eval()
    for linear in attention.children():
        torch.nn.init.normal_(linear.bias)  # non-zero biases: the zero blocks must not leak them
    states = torch.randn(2, 11, config.hidden_size, requires_grad=True)
    mask = torch.ones(2, 1, 1, 11, dtype=torch.bool)
    mask[1, ..., 5:8] = False  # padded words
    mask[1, ..., 10:] = False  # a padded entity
    fused = attention(states, 8, mask)
    expected = four_matrix_attention(attention, states, 8, mask)
    torch.testing.assert_close(fused, expected, atol=1e-6, rtol=1e-5)
    (fused_grad,) = torch.autograd.grad(fused.square().sum(), states)
    (expected_grad,) = torch.autograd.grad(expected.square().sum(), states)
    torch.testing.assert_close(fused_grad, expected_grad, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("aware", [False, True], ids=["plain", "entity-aware"])
def test_one_fused_attention_call_per_layer(aware: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tiny_config(use_entity_aware_attention=aware, num_hidden_layers=3)
    model = LukeForPretraining(config)
    calls = []
    sdpa = F.scaled_dot_product_attention

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return sdpa(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", counting)
    batch = random_batch(config, torch.Generator().manual_seed(0))
    model(**batch)
    head_size = config.hidden_size // config.num_attention_heads
    assert len(calls) == 3
    assert all(shape[-1] == head_size * (2 if aware else 1) for shape in calls)


@pytest.mark.parametrize("aware", [False, True], ids=["plain", "entity-aware"])
def test_a_batch_without_padding_passes_no_mask_and_gives_the_same_outputs(
    aware: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    model = LukeForPretraining(tiny_config(use_entity_aware_attention=aware)).eval()
    batch = random_batch(model.config, torch.Generator().manual_seed(0), padded=False)
    masks = []
    sdpa = F.scaled_dot_product_attention

    def recording(*args, **kwargs):
        masks.append(kwargs["attn_mask"])
        return sdpa(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", recording)
    inputs = {name: value for name, value in batch.items() if "labels" not in name}
    layers = model.config.num_hidden_layers
    with torch.no_grad():
        model(**random_batch(model.config, torch.Generator().manual_seed(0)))  # padded: a mask in every layer
        unmasked = model.encode(**inputs)
        assert all(mask is not None for mask in masks[:layers]) and masks[layers:] == [None] * layers
        monkeypatch.setattr("luke.modeling.encoder.sdpa_mask", lambda mask: mask[:, None, None, :])
        masked = model.encode(**inputs)
    for without, with_mask in zip(unmasked, masked, strict=True):
        torch.testing.assert_close(without, with_mask, atol=1e-6, rtol=1e-5)


def test_dropout_is_active_in_training_only() -> None:
    model = LukeForPretraining(tiny_config())
    batch = random_batch(model.config, torch.Generator().manual_seed(0))
    model.train()
    assert not torch.equal(model(**batch).loss, model(**batch).loss)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(**batch).loss, model(**batch).loss)


@pytest.mark.parametrize("aware", [False, True], ids=["plain", "entity-aware"])
def test_gradient_checkpointing_gives_the_same_gradients(aware: bool) -> None:
    model = LukeForPretraining(tiny_config(use_entity_aware_attention=aware)).train()
    batch = random_batch(model.config, torch.Generator().manual_seed(0))

    def gradients() -> dict[str, torch.Tensor]:
        model.zero_grad()
        torch.manual_seed(7)  # same dropout masks in both runs (checkpointing replays the RNG state)
        model(**batch).loss.backward()
        return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    plain = gradients()
    model.gradient_checkpointing_enable()
    checkpointed = gradients()
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], msg=name)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("aware", [False, True], ids=["plain", "entity-aware"])
def test_half_precision_matches_float32(dtype: torch.dtype, aware: bool) -> None:
    torch.manual_seed(0)
    model = LukeForPretraining(tiny_config(use_entity_aware_attention=aware)).eval()
    batch = random_batch(model.config, torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = model(**batch)
    model.to(dtype)
    output = model(**batch)
    output.loss.backward()
    assert output.mlm_loss.dtype == torch.float32  # losses are computed in float32
    torch.testing.assert_close(output.mlm_loss, reference.mlm_loss, atol=0.05, rtol=0.01)
    torch.testing.assert_close(output.mep_loss, reference.mep_loss, atol=0.05, rtol=0.01)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_objectives_without_labels() -> None:
    model = LukeForPretraining(tiny_config())
    batch = random_batch(model.config, torch.Generator().manual_seed(0))
    inputs = {k: v for k, v in batch.items() if "labels" not in k}
    assert model(**inputs).loss is None

    output = model(**inputs, masked_entity_labels=batch["masked_entity_labels"])
    assert output.mlm_loss is None and torch.equal(output.loss, output.mep_loss)

    no_labels = torch.full_like(batch["masked_lm_labels"], -100)
    output = model(**inputs, masked_lm_labels=no_labels)
    assert output.mlm_count == 0 and output.loss == 0 and output.mlm_accuracy == 0
    output.loss.backward()  # still connected to the head: every rank runs the same graph
    assert model.lm_head.dense.weight.grad is not None


def test_stage_one_trains_only_entity_weights() -> None:
    model = LukeForPretraining(tiny_config())
    trainable = model.freeze_all_but_entity_weights()
    names = {name for name, p in model.named_parameters() if p.requires_grad}
    assert names == {
        name
        for name, _ in model.named_parameters()
        if name.startswith(("luke.entity_embeddings.", "entity_predictions."))
    }
    assert "luke.entity_embeddings.entity_embeddings.weight" in names
    assert trainable == sum(p.numel() for p in model.parameters() if p.requires_grad)
    model(**random_batch(model.config, torch.Generator().manual_seed(0))).loss.backward()
    assert model.luke.entity_embeddings.entity_embeddings.weight.grad is not None
    assert all(p.grad is None for name, p in model.named_parameters() if name not in names)


def test_entity_position_embedding_is_the_mean_over_the_mention() -> None:
    model = LukeForPretraining(tiny_config())
    table = model.luke.entity_embeddings.position_embeddings.weight
    positions = torch.tensor([[[3, 4, 5, -1], [7, -1, -1, -1], [-1, -1, -1, -1]]])
    with torch.no_grad():
        result = model.luke.entity_embeddings.mention_position_embeddings(positions)
    torch.testing.assert_close(result[0, 0], table[3:6].mean(0))
    torch.testing.assert_close(result[0, 1], table[7])
    assert torch.equal(result[0, 2], torch.zeros_like(table[0]))


def test_tiny_config_learns_on_cpu() -> None:
    """The tiny configuration overfits a fixed batch within a few dozen AdamW steps."""
    torch.manual_seed(0)
    model = LukeForPretraining(tiny_config()).train()
    batch = random_batch(model.config, torch.Generator().manual_seed(0), batch_size=4, num_words=32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        output = model(**batch)
        output.loss.backward()
        optimizer.step()
        losses.append(output.loss.item())
    assert losses[-1] < 0.5 * losses[0]
