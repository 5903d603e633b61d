"""``torch.compile`` of the encoder layers (``model.compile: true``): the same training losses as eager."""

from __future__ import annotations

import pytest
import torch

from luke.configs import load_model_config
from luke.model import LukeForPretraining
from luke.synthetic_batch import random_batch


def training_losses(aware: bool, compiled: bool, steps: int = 3) -> list[float]:
    """Losses of ``steps`` AdamW steps of a tiny model without dropout, padded and unpadded batches in turn."""
    config = load_model_config(
        "tiny",
        vocab_size=300,
        entity_vocab_size=200,
        type_vocab_size=2,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        use_entity_aware_attention=aware,
    )
    torch.manual_seed(0)
    model = LukeForPretraining(config).train()
    if compiled:
        model.compile_layers()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for index in range(steps):
        batch = random_batch(config, torch.Generator().manual_seed(index), padded=index % 2 == 0)
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return losses


@pytest.mark.slow
@pytest.mark.parametrize("aware", [False, True], ids=["plain", "entity-aware"])
def test_compiled_layers_train_with_the_losses_of_eager(aware: bool) -> None:
    eager = training_losses(aware, compiled=False)
    compiled = training_losses(aware, compiled=True)
    assert compiled == pytest.approx(eager, abs=1e-5)


def test_the_training_option_compiles_every_encoder_layer() -> None:
    from pretraining.config import load_config
    from pretraining.config_changes import field_kind
    from pretraining.model_setup import build_model

    required = ["run_dir=run", "deepspeed=ds.json", "data.corpus=corpus", "model.config=tiny.json"]
    model_config = load_model_config("tiny", vocab_size=300, entity_vocab_size=200)
    eager = build_model(load_config(None, required), model_config, corpus=None)  # random init reads no corpus
    compiled = build_model(load_config(None, [*required, "model.compile=true"]), model_config, corpus=None)
    assert all(layer._compiled_call_impl is None for layer in eager.luke.encoder.layer)
    assert all(layer._compiled_call_impl is not None for layer in compiled.luke.encoder.layer)
    assert compiled.state_dict().keys() == eager.state_dict().keys()
    assert field_kind("model.compile") == "adjustable"
