"""Export of a training checkpoint to a Hugging Face directory (``luke export``)."""

DEFAULT_TOLERANCE = 1e-4  # largest |difference| of hidden states and logits that verification accepts
LUKE_DROPOUT = 0.1  # hidden and attention dropout of the released LUKE models: what fine-tuning starts with
