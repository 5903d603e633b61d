"""Our LUKE against ``transformers.LukeForMaskedLM`` on the same weights: hidden states, logits at the labels,
losses, gradients and state dicts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import LukeConfig, LukeForMaskedLM

from luke.configs import load_model_config
from luke.model import LukeForPretraining
from luke.synthetic_batch import random_batch, transformers_inputs

SMALL_VOCABS = {"vocab_size": 300, "entity_vocab_size": 200, "type_vocab_size": 2}
CONFIGS = {
    "tiny": lambda aware: load_model_config("tiny", use_entity_aware_attention=aware, **SMALL_VOCABS),
    # base width (hidden 768, 12 heads, FFN 3072, entity_emb_size 256), two layers to keep the test fast
    "base-width": lambda aware: load_model_config(
        "luke-base", num_hidden_layers=2, use_entity_aware_attention=aware, **SMALL_VOCABS
    ),
}


def build_pair(config: LukeConfig, seed: int = 0) -> tuple[LukeForPretraining, LukeForMaskedLM]:
    """Our model with random weights, and transformers' model holding the same weights; both in eval mode."""
    torch.manual_seed(seed)
    ours = LukeForPretraining(config).eval()
    theirs = LukeForMaskedLM(config).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return ours, theirs


@pytest.mark.parametrize("aware", [False, True], ids=["plain", "entity-aware"])
@pytest.mark.parametrize("size", list(CONFIGS))
def test_outputs_match_transformers(size: str, aware: bool) -> None:
    config = CONFIGS[size](aware)
    ours, theirs = build_pair(config)
    batch = random_batch(config, torch.Generator().manual_seed(1))
    assert batch["masked_lm_labels"].ne(-100).any() and batch["masked_entity_labels"].ne(-100).any()
    with torch.no_grad():
        word_states, entity_states = ours.encode(**{k: v for k, v in batch.items() if "labels" not in k})
        output = ours(**batch)
        reference = theirs(**transformers_inputs(batch), output_hidden_states=True)

    torch.testing.assert_close(word_states, reference.hidden_states[-1], atol=1e-5, rtol=0)
    torch.testing.assert_close(entity_states, reference.entity_hidden_states[-1], atol=1e-5, rtol=0)

    for head, states, labels, logits, loss, accuracy, count in (
        (
            ours.lm_head,
            word_states,
            batch["masked_lm_labels"],
            reference.logits,
            output.mlm_loss,
            output.mlm_accuracy,
            output.mlm_count,
        ),
        (
            ours.entity_predictions,
            entity_states,
            batch["masked_entity_labels"],
            reference.entity_logits,
            output.mep_loss,
            output.mep_accuracy,
            output.mep_count,
        ),
    ):
        labelled = labels.ne(-100)
        with torch.no_grad():
            torch.testing.assert_close(head(states[labelled]), logits[labelled], atol=1e-4, rtol=1e-5)
        full_cross_entropy = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        torch.testing.assert_close(loss, full_cross_entropy, atol=1e-5, rtol=1e-5)
        assert count == labelled.sum()
        expected_accuracy = (logits[labelled].argmax(-1) == labels[labelled]).float().mean()
        torch.testing.assert_close(accuracy.float(), expected_accuracy)
    torch.testing.assert_close(output.mlm_loss, reference.mlm_loss, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(output.mep_loss, reference.mep_loss, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(output.loss, reference.loss, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("aware", [False, True], ids=["plain", "entity-aware"])
def test_gradients_match_transformers(aware: bool) -> None:
    config = CONFIGS["tiny"](aware)
    ours, theirs = build_pair(config)
    batch = random_batch(config, torch.Generator().manual_seed(2))
    ours(**batch).loss.backward()
    theirs(**transformers_inputs(batch)).loss.backward()
    their_parameters = dict(theirs.named_parameters(remove_duplicate=False))
    # transformers 5.x does not tie the LM decoder to the word embeddings; ours does, so our word-embedding
    # gradient is the sum of their two.
    their_parameters["luke.embeddings.word_embeddings.weight"].grad += their_parameters["lm_head.decoder.weight"].grad
    compared = 0
    for name, parameter in ours.named_parameters():
        if parameter.requires_grad:
            expected = their_parameters[name].grad
            torch.testing.assert_close(parameter.grad, expected, atol=2e-5, rtol=1e-4, msg=name)
            compared += 1
    assert compared == len([p for p in ours.parameters() if p.requires_grad]) > 30


def test_words_only_match_transformers() -> None:
    config = CONFIGS["tiny"](True)
    ours, theirs = build_pair(config)
    batch = random_batch(config, torch.Generator().manual_seed(3))
    word_inputs = {key: batch[key] for key in ("word_ids", "word_attention_mask", "word_segment_ids")}
    with torch.no_grad():
        word_states, entity_states = ours.encode(**word_inputs)
        reference = theirs(**transformers_inputs(word_inputs), output_hidden_states=True)
        output = ours(**word_inputs, masked_lm_labels=batch["masked_lm_labels"])
    assert entity_states is None
    torch.testing.assert_close(word_states, reference.hidden_states[-1], atol=1e-5, rtol=0)
    assert output.mep_loss is None and torch.equal(output.loss, output.mlm_loss)


def test_state_dict_round_trips_with_transformers() -> None:
    config = CONFIGS["tiny"](True)
    ours, theirs = build_pair(config)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}

    torch.manual_seed(5)
    back = LukeForPretraining(config)
    result = back.load_state_dict(theirs.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in ours.state_dict().items():
        assert torch.equal(back.state_dict()[key], value), key
    # ties survive the load, as in transformers
    assert back.lm_head.decoder.weight is back.luke.embeddings.word_embeddings.weight
    assert back.entity_predictions.decoder.weight is back.luke.entity_embeddings.entity_embeddings.weight
    assert back.lm_head.bias is back.lm_head.decoder.bias


def test_state_dict_without_tied_names_loads() -> None:
    """A checkpoint that stores each tied tensor once (safetensors) loads, and the ties are filled in."""
    config = CONFIGS["tiny"](False)
    source, _ = build_pair(config)
    state = {k: v for k, v in source.state_dict().items() if k not in source.tied_weights}
    target = LukeForPretraining(config)
    target.load_state_dict(state, strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_state_dict_with_untied_values_warns_and_uses_the_source() -> None:
    config = CONFIGS["tiny"](False)
    source, theirs = build_pair(config)
    state = theirs.state_dict()
    state["lm_head.decoder.weight"] = torch.randn_like(state["lm_head.decoder.weight"])
    target = LukeForPretraining(config)
    with pytest.warns(UserWarning, match=r"lm_head\.decoder\.weight is tied to luke\.embeddings\.word_embeddings"):
        target.load_state_dict(state)
    assert torch.equal(target.lm_head.decoder.weight, source.luke.embeddings.word_embeddings.weight)


def test_transformers_checkpoint_directory_round_trip(tmp_path) -> None:
    """Our weights saved by transformers (safetensors drop tied names) load back into both models unchanged."""
    config = CONFIGS["tiny"](True)
    ours, theirs = build_pair(config)
    theirs.save_pretrained(tmp_path)
    reloaded = LukeForMaskedLM.from_pretrained(tmp_path).eval()
    state = load_file(tmp_path / "model.safetensors")
    assert "entity_predictions.decoder.weight" not in state and "lm_head.bias" not in state  # stored once

    back = LukeForPretraining(config).eval()
    back.load_state_dict(state, strict=True)
    batch = random_batch(config, torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = ours(**batch)
        for output in (back(**batch), reloaded(**transformers_inputs(batch))):
            torch.testing.assert_close(output.loss, expected.loss, atol=1e-5, rtol=1e-5)
