"""Named model configurations, and the parameter count and training FLOPs computed from a configuration."""

from __future__ import annotations

import json

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from luke.configs import available_model_configs, load_model_config
from luke.model import LukeForPretraining
from luke.model_size import parameter_count, training_flops
from luke.synthetic_batch import random_batch


def test_named_configs() -> None:
    assert set(available_model_configs()) >= {"luke-large", "luke-base", "tiny"}
    large = load_model_config("luke-large")
    assert (large.num_hidden_layers, large.hidden_size, large.num_attention_heads, large.intermediate_size) == (
        24,
        1024,
        16,
        4096,
    )
    assert (large.entity_emb_size, large.entity_vocab_size) == (256, 500_000)
    base = load_model_config("luke-base")
    assert (base.num_hidden_layers, base.hidden_size, base.num_attention_heads, base.intermediate_size) == (
        12,
        768,
        12,
        3072,
    )
    tiny = load_model_config("tiny", vocab_size=123, entity_vocab_size=45, pad_token_id=120)
    assert (tiny.vocab_size, tiny.entity_vocab_size, tiny.pad_token_id) == (123, 45, 120)
    assert tiny.num_hidden_layers <= 2 and tiny.hidden_size <= 128


def test_config_from_a_file_and_from_a_directory(tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 32, "num_attention_heads": 4}))
    assert load_model_config(tmp_path / "config.json").hidden_size == 32
    assert load_model_config(tmp_path).num_attention_heads == 4


def test_bad_configs_are_named(tmp_path) -> None:
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"num_hiden_layers": 3}))
    with pytest.raises(
        ValueError, match=r"unknown LukeConfig field\(s\) \['num_hiden_layers'\] in model config .*typo"
    ):
        load_model_config(typo)
    typo.write_text("{not json")
    with pytest.raises(ValueError, match="typo.json is not valid JSON"):
        load_model_config(typo)
    with pytest.raises(ValueError, match="unknown model config 'luke-huge'.*luke-large"):
        load_model_config("luke-huge")
    with pytest.raises(ValueError, match=r"unknown LukeConfig field\(s\) \['hiden_size'\]"):
        load_model_config("tiny", hiden_size=32)
    with pytest.raises(ValueError, match="not a multiple of num_attention_heads"):
        load_model_config("tiny", hidden_size=30, num_attention_heads=4)


@pytest.mark.parametrize("name", ["luke-large", "luke-base", "tiny"])
def test_parameter_count_from_the_config_equals_the_model(name: str) -> None:
    config = load_model_config(name)
    with torch.device("meta"):  # no memory allocated, even for luke-large
        model = LukeForPretraining(config)
    counts = parameter_count(config)
    print(f"\n{name}: {counts['total']:,} parameters ({counts['total'] / 1e6:.1f}M)")
    assert counts["total"] == sum(p.numel() for p in model.parameters())


def test_luke_large_has_the_papers_size() -> None:
    """The paper's LUKE-large: 483M parameters, 128M of them entity embeddings (500K × 256)."""
    counts = parameter_count(load_model_config("luke-large"))
    total, entities = counts["total"] / 1e6, counts["entity embeddings"] / 1e6
    print(f"\nluke-large: {total:.1f}M parameters, entity embeddings {entities:.1f}M")
    assert abs(counts["total"] - 483e6) / 483e6 < 0.01
    assert round(counts["entity embeddings"] / 1e6) == 129


@pytest.mark.parametrize("aware", [False, True], ids=["plain", "entity-aware"])
def test_training_flops_equal_the_counted_matrix_multiplications(aware: bool) -> None:
    config = load_model_config(
        "tiny",
        vocab_size=300,
        entity_vocab_size=200,
        attention_probs_dropout_prob=0.0,
        use_entity_aware_attention=aware,
    )
    model = LukeForPretraining(config).train()
    batch = random_batch(config, torch.Generator().manual_seed(0), batch_size=3, num_words=24, num_entities=6)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:  # attention as plain matmuls
        model(**batch).loss.backward()
    word_labels = int(batch["masked_lm_labels"].ne(-100).sum())
    entity_labels = int(batch["masked_entity_labels"].ne(-100).sum())
    expected = training_flops(config, 3, 24, 6, word_labels, entity_labels)
    # the fused entity-aware call multiplies doubled heads: its attention matmuls cost twice the algorithm's
    attention = 3 * 2 * 3 * config.num_hidden_layers * 2 * 30 * 30 * config.hidden_size
    assert counter.get_total_flops() == expected + (attention if aware else 0)
