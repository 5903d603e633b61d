"""What an exported model predicts for a masked entity and a masked word, through plain transformers calls."""

from __future__ import annotations

from pathlib import Path

import click
import torch

CONTEXT_TOKENS = 24  # tokens of context kept on each side of the mention
TOP_K = 5


def _is_whole_word(tokens: list[str], index: int) -> bool:
    """A token that starts a word, is made of at least 3 letters, and is followed by another word's start."""
    piece, following = tokens[index], tokens[index + 1] if index + 1 < len(tokens) else "▁"
    word = piece.lstrip("▁Ġ")
    return piece[:1] in ("▁", "Ġ") and len(word) >= 3 and word.isalpha() and following[:1] in ("▁", "Ġ", "<")


def show_predictions(model_dir: Path, corpus_dir: Path, top_k: int = TOP_K) -> None:
    """Take a validation sequence with a linked mention, mask that entity and one word, and print the exported
    model's top-k entities and words (the model and tokenizer are loaded with the Auto classes)."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from preprocessing.corpus import Corpus

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModelForMaskedLM.from_pretrained(str(model_dir), local_files_only=True).eval()
    titles = {entity_id: title for title, entity_id in tokenizer.entity_vocab.items()}
    corpus = Corpus.open(corpus_dir)
    split = corpus.split("validation" if "validation" in corpus.split_names else "train")
    row = next(row for row in (split[i] for i in range(len(split))) if (row["entity_ids"] > 2).any())
    mention = int((row["entity_ids"] > 2).argmax())
    start, end = int(row["entity_starts"][mention]), int(row["entity_ends"][mention])
    offset = max(0, start - CONTEXT_TOKENS)
    window = row["word_ids"][offset : end + CONTEXT_TOKENS].tolist()
    start, end = start - offset, end - offset

    def decode(ids: list[int]) -> str:
        return tokenizer.decode(ids, clean_up_tokenization_spaces=False)

    text, through_mention, mention_text = decode(window), decode(window[:end]), decode(window[start:end]).strip()
    span = (len(through_mention) - len(mention_text), len(through_mention))
    encoding = tokenizer(text, entity_spans=[span], return_tensors="pt")  # no entities given: [MASK]
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"][0].tolist())
    in_mention = set(encoding["entity_position_ids"][0, 0].tolist())
    candidates = [i for i in range(1, len(tokens) - 1) if i not in in_mention and _is_whole_word(tokens, i)]
    word_position = min(candidates, key=lambda i: abs(i - max(in_mention)))
    masked_word = tokens[word_position].lstrip("▁Ġ")
    encoding["input_ids"][0, word_position] = tokenizer.mask_token_id
    with torch.no_grad():
        output = model(**encoding)

    shown = tokenizer.decode(encoding["input_ids"][0, 1:-1], clean_up_tokenization_spaces=False)
    shown = " ".join(shown.replace(tokenizer.mask_token, f" {tokenizer.mask_token}").split())
    click.echo(f"validation text: {shown}")
    click.echo(
        f"masked entity: the mention {mention_text!r} (linked to {titles.get(int(row['entity_ids'][mention]))!r})"
    )
    entity_scores, entity_ids = output.entity_logits[0, 0].softmax(-1).topk(top_k)
    for rank, (score, entity_id) in enumerate(zip(entity_scores.tolist(), entity_ids.tolist(), strict=True), 1):
        click.echo(f"  {rank}. {titles.get(entity_id, entity_id)}  ({score:.3f})")
    click.echo(f"masked word: {masked_word!r}")
    word_scores, word_ids = output.logits[0, word_position].softmax(-1).topk(top_k)
    for rank, (score, word_id) in enumerate(zip(word_scores.tolist(), word_ids.tolist(), strict=True), 1):
        click.echo(f"  {rank}. {tokenizer.convert_ids_to_tokens(word_id).lstrip('▁Ġ')}  ({score:.3f})")
