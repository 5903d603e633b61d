"""Word and entity input embeddings, named and computed as in ``transformers``' ``LukeEmbeddings`` and
``LukeEntityEmbeddings``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import LukeConfig


def word_position_ids(word_ids: torch.Tensor, padding_idx: int) -> torch.Tensor:
    """RoBERTa's position ids: ``padding_idx + 1, padding_idx + 2, ...`` for real tokens, ``padding_idx`` for
    padding (fairseq's ``make_positions``, as transformers computes them from the ids)."""
    not_padding = word_ids.ne(padding_idx).int()
    return (torch.cumsum(not_padding, dim=1) * not_padding).long() + padding_idx


class WordEmbeddings(nn.Module):
    """Token + position + segment embeddings of the words, then LayerNorm and dropout."""

    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        self.padding_idx = config.pad_token_id
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, config.hidden_size, padding_idx=config.pad_token_id
        )
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, word_ids: torch.Tensor, word_segment_ids: torch.Tensor) -> torch.Tensor:
        positions = word_position_ids(word_ids, self.padding_idx)
        embeddings = (
            self.word_embeddings(word_ids)
            + self.position_embeddings(positions)
            + self.token_type_embeddings(word_segment_ids)
        )
        return self.dropout(self.LayerNorm(embeddings))


class EntityEmbeddings(nn.Module):
    """Entity + mention-position + segment embeddings of the entities, then LayerNorm and dropout.

    The entity table has ``entity_emb_size`` columns, projected to ``hidden_size`` by ``entity_embedding_dense``
    when the two differ. The position embedding of an entity is the mean of the position embeddings of its
    mention's tokens; ``entity_position_ids`` (B × E × max_mention_length) is padded with −1, and an entity
    whose positions are all −1 gets a zero position embedding.
    """

    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        self.entity_embeddings = nn.Embedding(config.entity_vocab_size, config.entity_emb_size, padding_idx=0)
        if config.entity_emb_size != config.hidden_size:
            self.entity_embedding_dense = nn.Linear(config.entity_emb_size, config.hidden_size, bias=False)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self, entity_ids: torch.Tensor, entity_position_ids: torch.Tensor, entity_segment_ids: torch.Tensor
    ) -> torch.Tensor:
        embeddings = self.entity_embeddings(entity_ids)
        if hasattr(self, "entity_embedding_dense"):
            embeddings = self.entity_embedding_dense(embeddings)
        return self.dropout(
            self.LayerNorm(
                embeddings
                + self.mention_position_embeddings(entity_position_ids)
                + self.token_type_embeddings(entity_segment_ids)
            )
        )

    def mention_position_embeddings(self, entity_position_ids: torch.Tensor) -> torch.Tensor:
        """Mean position embedding of each mention, as one weighted ``embedding_bag`` (no B×E×M×H tensor)."""
        batch_size, num_entities, max_mention_length = entity_position_ids.shape
        weight = self.position_embeddings.weight
        in_mention = entity_position_ids.ne(-1).to(weight.dtype)
        mean_weights = in_mention / in_mention.sum(dim=-1, keepdim=True).clamp(min=1)
        bags = F.embedding_bag(
            entity_position_ids.clamp(min=0).view(-1, max_mention_length),
            weight,
            per_sample_weights=mean_weights.view(-1, max_mention_length),
            mode="sum",
        )
        return bags.view(batch_size, num_entities, -1)
