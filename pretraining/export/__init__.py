"""Export of a training checkpoint to a Hugging Face directory (``luke export``)."""

DEFAULT_TOLERANCE = 1e-4  # largest |difference| of hidden states and logits that verification accepts
