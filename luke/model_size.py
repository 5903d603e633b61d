"""Size of a LUKE configuration computed from its fields (no model is built): parameters, training FLOPs.

``python -m luke.model_size luke-large`` prints the parameter breakdown.
"""

from __future__ import annotations

import sys

from transformers import LukeConfig


def parameter_count(config: LukeConfig) -> dict[str, int]:
    """Distinct parameters of ``LukeForPretraining(config)`` per part (tied tensors counted once), and ``total``."""
    hidden, intermediate = config.hidden_size, config.intermediate_size
    entity_dim, tied = config.entity_emb_size, config.tie_word_embeddings

    def linear(inputs: int, outputs: int, bias: bool = True) -> int:
        return inputs * outputs + (outputs if bias else 0)

    positions_and_segments = (config.max_position_embeddings + config.type_vocab_size) * hidden
    queries = 4 if config.use_entity_aware_attention else 1
    layer = (
        (queries + 3) * linear(hidden, hidden)  # queries, key, value, attention output
        + linear(hidden, intermediate)
        + linear(intermediate, hidden)
        + 2 * 2 * hidden  # two LayerNorms
    )
    counts = {
        "word embeddings": config.vocab_size * hidden + positions_and_segments + 2 * hidden,
        "entity embeddings": config.entity_vocab_size * entity_dim
        + (linear(entity_dim, hidden, bias=False) if entity_dim != hidden else 0)
        + positions_and_segments
        + 2 * hidden,
        "encoder": config.num_hidden_layers * layer,
        "pooler (unused in pretraining)": linear(hidden, hidden),
        "LM head": linear(hidden, hidden)
        + 2 * hidden
        + (config.vocab_size if tied else linear(hidden, config.vocab_size) + config.vocab_size),
        "entity head": linear(hidden, entity_dim)
        + 2 * entity_dim
        + config.entity_vocab_size
        + (0 if tied else config.entity_vocab_size * entity_dim),
    }
    counts["total"] = sum(counts.values())
    return counts


def training_flops(
    config: LukeConfig,
    batch_size: int,
    num_words: int,
    num_entities: int,
    word_labels: int,
    entity_labels: int,
) -> int:
    """Model FLOPs of one forward + backward step (backward = 2 × forward), for throughput and MFU.

    Counts the matrix multiplications of the algorithm (2 FLOPs per multiply-add): per token and layer the
    projections (two queries per token in entity-aware mode: w2w + w2e for words, e2w + e2e for entities), key,
    value, attention output and feed-forward; the attention scores and weighted values over all
    ``num_words + num_entities`` tokens (as the four-matrix formulation needs them, not the zero blocks of the
    fused one); the entity embedding projection; the heads at the labelled positions only. Element-wise work
    (softmax, LayerNorm, GELU, embedding lookups) is not counted.
    """
    hidden, intermediate, entity_dim = config.hidden_size, config.intermediate_size, config.entity_emb_size
    tokens_per_sequence = num_words + num_entities
    queries = 2 if config.use_entity_aware_attention and num_entities else 1
    per_token_layer = (queries + 3) * hidden * hidden + 2 * hidden * intermediate
    attention_per_sequence_layer = 2 * tokens_per_sequence * tokens_per_sequence * hidden
    multiply_adds = (
        batch_size * config.num_hidden_layers * (tokens_per_sequence * per_token_layer + attention_per_sequence_layer)
    )
    if entity_dim != hidden:
        multiply_adds += batch_size * num_entities * entity_dim * hidden
    multiply_adds += word_labels * (hidden * hidden + hidden * config.vocab_size)
    multiply_adds += entity_labels * (hidden * entity_dim + entity_dim * config.entity_vocab_size)
    return 3 * 2 * multiply_adds


def main(argv: list[str]) -> None:
    from luke.configs import load_model_config

    for name in argv or ["luke-large"]:
        config = load_model_config(name)
        size = f"{config.num_hidden_layers} layers, hidden {config.hidden_size}"
        print(f"{name}: {size}, {config.entity_vocab_size:,} entities")
        for part, count in parameter_count(config).items():
            print(f"  {part:32s} {count:>13,d}  ({count / 1e6:.1f}M)")


if __name__ == "__main__":
    main(sys.argv[1:])
