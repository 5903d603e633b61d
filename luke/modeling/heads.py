"""Pretraining heads (masked words, masked entities), evaluated only where a label is set."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import LukeConfig
from transformers.activations import ACT2FN

IGNORE_INDEX = -100


class LukeLMHead(nn.Module):
    """RoBERTa's LM head: dense, GELU, LayerNorm, decoder over the word vocabulary (``bias`` is the decoder's
    bias, as in transformers)."""

    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(F.gelu(self.dense(features))))


class EntityPredictionHeadTransform(nn.Module):
    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.entity_emb_size)
        self.activation = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.entity_emb_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.activation(self.dense(hidden_states)))


class EntityPredictionHead(nn.Module):
    """Transform to ``entity_emb_size``, then scores over the whole entity vocabulary."""

    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        self.transform = EntityPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.entity_emb_size, config.entity_vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.entity_vocab_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return F.linear(self.transform(hidden_states), self.decoder.weight, self.bias)


@dataclass
class MaskedPrediction:
    """One objective's result: mean cross-entropy and accuracy over the labelled positions, and their count."""

    loss: torch.Tensor
    accuracy: torch.Tensor
    count: torch.Tensor


def masked_prediction(head: nn.Module, hidden_states: torch.Tensor, labels: torch.Tensor) -> MaskedPrediction:
    """Apply ``head`` only at the positions of ``hidden_states`` whose label is not −100.

    The loss is computed in float32 whatever the model's dtype. With no labelled position the loss and
    accuracy are zero (the loss still depends on the head's parameters, so every rank runs the same graph).
    """
    labelled = labels.ne(IGNORE_INDEX)
    targets = labels[labelled]
    logits = head(hidden_states[labelled]).float()
    count = labelled.sum()
    denominator = count.clamp(min=1)
    loss = F.cross_entropy(logits, targets, reduction="sum") / denominator
    correct = (logits.argmax(dim=-1) == targets).sum()
    return MaskedPrediction(loss=loss, accuracy=correct / denominator, count=count)
