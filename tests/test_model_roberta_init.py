"""Initialisation of LukeForPretraining from a RoBERTa masked-LM checkpoint saved in a directory."""

from __future__ import annotations

import pytest
import torch
from transformers import RobertaConfig, RobertaForMaskedLM

from luke.configs import load_model_config
from luke.model import LukeForPretraining


@pytest.fixture(scope="module")
def roberta_dir(tmp_path_factory) -> str:
    torch.manual_seed(0)
    config = RobertaConfig(
        vocab_size=300,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=64,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
    )
    model = RobertaForMaskedLM(config)
    with torch.no_grad():  # non-trivial values everywhere, so that a missed copy shows
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    path = tmp_path_factory.mktemp("roberta")
    model.save_pretrained(path)
    return str(path)


def luke_config(**overrides):
    fields = {"vocab_size": 302, "entity_vocab_size": 50, "max_position_embeddings": 64, **overrides}
    return load_model_config("tiny", **fields)


@pytest.mark.parametrize("aware", [False, True], ids=["plain", "entity-aware"])
def test_word_only_outputs_equal_roberta(roberta_dir: str, aware: bool) -> None:
    model, report = LukeForPretraining.from_roberta(roberta_dir, luke_config(use_entity_aware_attention=aware))
    roberta = RobertaForMaskedLM.from_pretrained(roberta_dir).eval()
    model.eval()
    generator = torch.Generator().manual_seed(0)
    word_ids = torch.randint(3, 300, (3, 20), generator=generator)
    mask = torch.ones_like(word_ids)
    word_ids[1, 12:], mask[1, 12:] = 1, 0
    with torch.no_grad():
        states, _ = model.encode(word_ids, mask, torch.zeros_like(word_ids))
        reference = roberta(input_ids=word_ids, attention_mask=mask, output_hidden_states=True)
        torch.testing.assert_close(states, reference.hidden_states[-1], atol=1e-5, rtol=0)
        logits = model.lm_head(states)[..., :300]
        torch.testing.assert_close(logits, reference.logits, atol=1e-4, rtol=1e-5)

    layer = model.luke.encoder.layer[0].attention.self
    if aware:
        for name in ("w2e_query", "e2w_query", "e2e_query"):
            assert torch.equal(getattr(layer, name).weight, layer.query.weight)
        assert len(report.derived) == 2 * 3 * 2  # layers × queries × (weight, bias)
    assert any("word_embeddings" in line and "(300, 64) → (302, 64)" in line for line in report.resized)
    assert all(
        key.startswith(("luke.entity_embeddings.", "entity_predictions.", "luke.pooler."))
        for key in report.missing_keys
    )
    assert "luke.entity_embeddings.entity_embeddings.weight" in report.missing_keys
    assert not report.unexpected_keys
    assert "freshly initialised" in str(report)


def test_mismatched_config_is_an_error(roberta_dir: str) -> None:
    with pytest.raises(
        ValueError, match=r"word_embeddings\.weight of shape \(302, 128\) from a checkpoint tensor of shape \(300, 64\)"
    ):
        LukeForPretraining.from_roberta(roberta_dir, luke_config(hidden_size=128))


def test_missing_checkpoint_is_an_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="cannot load a masked-LM checkpoint from"):
        LukeForPretraining.from_roberta(str(tmp_path / "nothing-here"), luke_config())
