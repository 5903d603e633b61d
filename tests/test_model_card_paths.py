"""The exported model card names its sources symbolically (file and config names, checksums), never a local path."""

from __future__ import annotations

from transformers import LukeConfig

from pretraining.export.model_card import ModelCardFacts, render_model_card, without_local_paths


def test_model_card_holds_no_local_path():
    facts = ModelCardFacts(
        config=LukeConfig(vocab_size=100, entity_vocab_size=10, hidden_size=8, num_hidden_layers=1),
        tokenizer_class="MLukeTokenizer",
        num_parameters=1234,
        dtype="float32",
        lite=False,
        checkpoint="/tmp/demo/stage2/checkpoints/step-00000150",
        languages=["en"],
        corpus_metadata={
            "input_files": ["/root/.cache/luke-pipeline/enwiki-sample.xml.bz2"],
            "entity_vocab": {"checksum": "sha256:abc"},
        },
        training_config={"run_dir": "/tmp/demo/stage2", "data": {"corpus": "/tmp/demo/corpus"}, "seed": 42},
    )
    card = render_model_card(facts)
    assert "/tmp" not in card and "/root" not in card
    assert "`step-00000150`" in card and "`enwiki-sample.xml.bz2`" in card and "sha256:abc" in card
    assert without_local_paths({"a": ["/x/y.json", "relative/z", 3]}) == {"a": ["y.json", "relative/z", 3]}
