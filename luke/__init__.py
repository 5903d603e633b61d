"""LUKE: entity-aware language models (Yamada et al., EMNLP 2020), pretrained from Wikipedia."""

__version__ = "0.1.0"
