"""Wikipedia dump → corpus directory (Arrow shards, entity vocabulary, tokenizer), as Apache Beam jobs."""
