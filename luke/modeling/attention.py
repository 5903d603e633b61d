"""LUKE self-attention over [words; entities] in one ``scaled_dot_product_attention`` call per layer.

Plain mode: one query projection for every token, as LUKE was pretrained.

Entity-aware mode (the paper's four query matrices): the score of query token i against key token j uses the
query projection chosen by the pair of token types, ``query`` (word→word), ``w2e_query`` (word→entity),
``e2w_query`` (entity→word) or ``e2e_query`` (entity→entity). It becomes one fused call by doubling the head
size of queries and keys with zero blocks:

    word query     [q_w2w ; q_w2e]        word key    [k ; 0]
    entity query   [q_e2w ; q_e2e]        entity key  [0 ; k]

so that ``[q_a ; q_b] · [k ; 0] = q_a · k`` and ``[q_a ; q_b] · [0 ; k] = q_b · k``: every score is exactly the
one of the four-matrix formulation. The scale stays ``1/sqrt(head_size)`` (passed explicitly, not derived
from the doubled size), and the values are zero-padded to the same doubled size (fused kernels want equal
query/value head sizes) and the padding sliced off the output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import LukeConfig


class LukeSelfAttention(nn.Module):
    """Multi-head self-attention over the concatenated words and entities (parameter names as in transformers)."""

    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.use_entity_aware_attention = config.use_entity_aware_attention
        self.dropout_prob = config.attention_probs_dropout_prob
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        if self.use_entity_aware_attention:
            self.w2e_query = nn.Linear(config.hidden_size, config.hidden_size)
            self.e2w_query = nn.Linear(config.hidden_size, config.hidden_size)
            self.e2e_query = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor, num_words: int, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """Attend over ``hidden_states`` (B × (words + entities) × hidden, words first).

        ``attention_mask`` is boolean, B × 1 × 1 × (words + entities), True where a token may be attended to, or
        None when every token may (no padding: SDPA may then take its flash backend).
        Returns the attention context, B × (words + entities) × hidden.
        """
        batch_size, length, _ = hidden_states.shape
        key = self._split_heads(self.key(hidden_states))
        value = self._split_heads(self.value(hidden_states))
        if self.use_entity_aware_attention and length > num_words:
            query, key, value = self._entity_aware_query_key_value(hidden_states, num_words, key, value)
        else:
            query = self._split_heads(self.query(hidden_states))
        context = F.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=attention_mask,
            dropout_p=self.dropout_prob if self.training else 0.0,
            scale=self.head_size**-0.5,
        )
        return context[..., : self.head_size].transpose(1, 2).reshape(batch_size, length, -1)

    def _entity_aware_query_key_value(
        self, hidden_states: torch.Tensor, num_words: int, key: torch.Tensor, value: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries and keys of doubled head size with zero blocks (see the module docstring), padded values."""
        words, entities = hidden_states[:, :num_words], hidden_states[:, num_words:]
        word_query = torch.cat([self._split_heads(self.query(words)), self._split_heads(self.w2e_query(words))], dim=-1)
        entity_query = torch.cat(
            [self._split_heads(self.e2w_query(entities)), self._split_heads(self.e2e_query(entities))], dim=-1
        )
        query = torch.cat([word_query, entity_query], dim=2)
        size = self.head_size
        key = torch.cat([F.pad(key[:, :, :num_words], (0, size)), F.pad(key[:, :, num_words:], (size, 0))], dim=2)
        return query, key, F.pad(value, (0, size))

    def _split_heads(self, projected: torch.Tensor) -> torch.Tensor:
        """B × L × hidden → B × heads × L × head_size."""
        batch_size, length, _ = projected.shape
        return projected.view(batch_size, length, self.num_heads, self.head_size).transpose(1, 2)
