"""Building blocks of the LUKE model (embeddings, fused attention, encoder, heads, RoBERTa initialisation)."""
