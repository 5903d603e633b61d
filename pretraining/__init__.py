"""DeepSpeed pretraining of LUKE from a corpus directory, and export to Hugging Face."""
