"""The demo's reference losses: training frequencies measured on validation ids, and the uniform guess."""

from __future__ import annotations

import json
import math

import numpy as np

from luke.demo_losses import Reference, References, stage_losses, unigram_loss


def test_unigram_loss_is_the_add_one_cross_entropy_of_validation_under_training_counts():
    train, validation = np.array([0, 0, 0, 1]), np.array([0, 2])
    probabilities = np.array([4, 2, 1]) / 7  # counts + 1 over a vocabulary of 3
    expected = -(math.log(probabilities[0]) + math.log(probabilities[2])) / 2
    assert math.isclose(unigram_loss(train, validation, 3), expected)


def test_stage_losses_show_start_end_and_references(tmp_path):
    records = [
        {"step": 0, "split": "validation", "mlm_loss": 8.3, "mep_loss": 9.7},
        {"step": 10, "split": "train", "mlm_loss": 8.0, "mep_loss": 9.6},
        {"step": 20, "split": "train", "mlm_loss": 6.0, "mep_loss": 9.1},
        {"step": 20, "split": "validation", "mlm_loss": 6.2, "mep_loss": 9.8},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    table = stage_losses(tmp_path, References(Reference(6.7, 8.3), Reference(10.3, 9.7)))
    lines = table.splitlines()
    assert lines[1].split()[-4:] == ["8.30", "6.20", "6.70", "8.30"]
    assert lines[2].split()[-4:] == ["9.70", "9.80", "10.30", "9.70"]
    assert lines[3].split()[-4:] == ["9.60", "9.10", "10.30", "9.70"]
    assert "rarely recur" in lines[4]
