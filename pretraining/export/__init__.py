"""Export of a training checkpoint to a Hugging Face directory (``luke export``)."""
