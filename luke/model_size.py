"""Parameter count of a LUKE configuration, computed from its fields (no model is built).

``python -m luke.model_size luke-large`` prints the breakdown.
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
