"""The demo's reading of its losses: validation start and end next to the references logged on the same positions."""

from __future__ import annotations

import json

from luke.demo_losses import context_verdict, exported_model_note, stage_losses

REFERENCES = {"mlm_unigram_loss": 6.64, "mlm_bigram_loss": 5.6, "mep_unigram_loss": 10.3}


def _run(tmp_path, end_mlm: float):
    records = [
        {"step": 0, "split": "validation", "mlm_loss": 8.3, "mep_loss": 9.7, **REFERENCES},
        {"step": 20, "split": "train", "mlm_loss": 6.0, "mep_loss": 9.1},
        {"step": 20, "split": "validation", "mlm_loss": end_mlm, "mep_loss": 9.8, **REFERENCES},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    (tmp_path / "model_config.json").write_text(json.dumps({"vocab_size": 4000, "entity_vocab_size": 16827}))
    return tmp_path


def test_stage_losses_show_start_end_and_the_references_of_the_same_positions(tmp_path):
    lines = stage_losses(_run(tmp_path, 6.66)).splitlines()
    assert lines[1].split()[-5:] == ["8.30", "6.66", "6.64", "5.60", "8.29"]
    assert lines[2].split()[-5:] == ["9.70", "9.80", "10.30", "—", "9.73"]
    assert "not under the unigram: it learned word frequencies, not context" in lines[3]
    assert "rarely recur" in lines[4]
    assert "not a useful starting point for fine-tuning" in exported_model_note(tmp_path)


def test_context_is_claimed_only_0_3_nats_under_the_unigram():
    assert "barely context" in context_verdict(6.5, 6.64, 5.6)
    assert "reads context, short of the bigram (5.60)" in context_verdict(6.2, 6.64, 5.6)
    assert "reads context, and beats the bigram" in context_verdict(5.5, 6.64, 5.6)
