"""The LUKE transformer: post-LayerNorm layers over [words; entities], and the encoder model ``luke``."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers import LukeConfig
from transformers.activations import ACT2FN

from luke.modeling.attention import LukeSelfAttention
from luke.modeling.embeddings import EntityEmbeddings, WordEmbeddings


def sdpa_mask(attention_mask: torch.Tensor) -> torch.Tensor | None:
    """The B × 1 × 1 × L boolean mask for ``scaled_dot_product_attention`` of a B × L padding mask, or None when
    no token is padding: a mask rules out SDPA's flash backend, and packed rows rarely need one."""
    if bool(attention_mask.all()):
        return None
    return attention_mask[:, None, None, :]


class DenseResidualNorm(nn.Module):
    """``LayerNorm(input + dropout(dense(x)))``: the output block after attention and after the feed-forward."""

    def __init__(self, config: LukeConfig, in_features: int) -> None:
        super().__init__()
        self.dense = nn.Linear(in_features, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(residual + self.dropout(self.dense(hidden_states)))


class LukeAttention(nn.Module):
    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        self.self = LukeSelfAttention(config)
        self.output = DenseResidualNorm(config, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor, num_words: int, attention_mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(hidden_states, num_words, attention_mask), hidden_states)


class LukeIntermediate(nn.Module):
    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = ACT2FN[config.hidden_act]

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states))


class LukeLayer(nn.Module):
    """Self-attention then feed-forward, each with a residual connection and LayerNorm."""

    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        self.attention = LukeAttention(config)
        self.intermediate = LukeIntermediate(config)
        self.output = DenseResidualNorm(config, config.intermediate_size)

    def forward(self, hidden_states: torch.Tensor, num_words: int, attention_mask: torch.Tensor | None) -> torch.Tensor:
        attention_output = self.attention(hidden_states, num_words, attention_mask)
        return self.output(self.intermediate(attention_output), attention_output)


class LukeEncoder(nn.Module):
    """The stack of layers, with optional activation checkpointing (recompute each layer in backward)."""

    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(LukeLayer(config) for _ in range(config.num_hidden_layers))
        self.gradient_checkpointing = False

    def forward(self, hidden_states: torch.Tensor, num_words: int, attention_mask: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layer:
            if self.gradient_checkpointing and self.training:
                hidden_states = checkpoint(layer, hidden_states, num_words, attention_mask, use_reentrant=False)
            else:
                hidden_states = layer(hidden_states, num_words, attention_mask)
        return hidden_states


class LukePooler(nn.Module):
    """transformers' pooler (dense + tanh over the first token). Pretraining never uses it; it exists so that
    the state dict has exactly the keys of ``transformers.LukeForMaskedLM`` and is frozen."""

    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.requires_grad_(False)


class LukeEncoderModel(nn.Module):
    """Embeddings of words and entities, then the transformer over their concatenation."""

    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        self.embeddings = WordEmbeddings(config)
        self.entity_embeddings = EntityEmbeddings(config)
        self.encoder = LukeEncoder(config)
        self.pooler = LukePooler(config)

    def forward(
        self,
        word_ids: torch.Tensor,
        word_attention_mask: torch.Tensor,
        word_segment_ids: torch.Tensor,
        entity_ids: torch.Tensor | None = None,
        entity_position_ids: torch.Tensor | None = None,
        entity_attention_mask: torch.Tensor | None = None,
        entity_segment_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Word hidden states (B × W × hidden) and entity hidden states (B × E × hidden, or None when no
        entities are given)."""
        hidden_states = self.embeddings(word_ids, word_segment_ids)
        attention_mask = word_attention_mask.bool()
        num_words = word_ids.shape[1]
        if entity_ids is not None:
            entity_states = self.entity_embeddings(entity_ids, entity_position_ids, entity_segment_ids)
            hidden_states = torch.cat([hidden_states, entity_states], dim=1)
            attention_mask = torch.cat([attention_mask, entity_attention_mask.bool()], dim=1)
        hidden_states = self.encoder(hidden_states, num_words, sdpa_mask(attention_mask))
        if entity_ids is None:
            return hidden_states, None
        return hidden_states[:, :num_words], hidden_states[:, num_words:]
