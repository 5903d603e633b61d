"""What an exported model predicts for a masked entity and a masked word, through plain transformers calls.

The example is a validation sequence whose linked entity is the one most often linked in training (a tiny
model can only know entities it saw), masked together with a nearby word; each prediction is shown with the
rank of the right answer among all ids.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import torch

CONTEXT_TOKENS = 24  # tokens of context kept on each side of the mention
TOP_K = 5
EXPECTATION = (
    "what to expect: a 2-layer model trained for a few CPU minutes on 206 pages learns frequent words and "
    "phrases, and barely the entities, which rarely recur across pages; the same commands with LUKE-large on "
    "full Wikipedia (2 × 98K steps of 2048 sequences on GPUs) make a model like studio-ousia/luke-large"
)


def _is_whole_word(tokens: list[str], index: int) -> bool:
    """A token that starts a word, is made of at least 3 letters, and is followed by another word's start."""
    piece, following = tokens[index], tokens[index + 1] if index + 1 < len(tokens) else "▁"
    word = piece.lstrip("▁Ġ")
    return piece[:1] in ("▁", "Ġ") and len(word) >= 3 and word.isalpha() and following[:1] in ("▁", "Ġ", "<")


def context_start(tokens: list[str], mention_start: int, context: int = CONTEXT_TOKENS) -> int:
    """Where the example's text starts among the ``context`` tokens before the mention: at the first sentence
    start there, else at the first word start (never mid-word), else at the mention."""
    earliest = max(0, mention_start - context)
    word_starts = [i for i in range(earliest, mention_start + 1) if i == 0 or tokens[i][:1] in ("▁", "Ġ")]
    sentence_starts = [i for i in word_starts if i == 0 or tokens[i - 1].endswith((".", "!", "?"))]
    return (sentence_starts or word_starts or [mention_start])[0]


def _example_mention(corpus) -> tuple[dict, int]:
    """(validation row, mention index) of the mention whose entity is linked most often in training."""
    from luke.demo_losses import FIRST_ENTITY_ID, column_values

    train_counts = np.bincount(column_values(corpus.split("train"), "entity_ids"))
    validation = corpus.split("validation")
    best = (-1, None, 0)
    for row in (validation[i] for i in range(len(validation))):
        for mention, entity_id in enumerate(row["entity_ids"].tolist()):
            count = int(train_counts[entity_id]) if FIRST_ENTITY_ID <= entity_id < len(train_counts) else 0
            if count > best[0]:
                best = (count, row, mention)
    return best[1], best[2]


def _rank(scores: torch.Tensor, correct: int) -> int:
    return int((scores > scores[correct]).sum()) + 1


def show_predictions(model_dir: Path, corpus_dir: Path, top_k: int = TOP_K) -> None:
    """Mask the example's entity and a nearby word, and print the exported model's top-k entities and words
    with the right answers' ranks (the model and tokenizer are loaded with the Auto classes)."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from luke.quiet import transformers_progress_bars_off
    from preprocessing.corpus import Corpus

    with transformers_progress_bars_off():
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        model = AutoModelForMaskedLM.from_pretrained(str(model_dir), local_files_only=True).eval()
    titles = {entity_id: title for title, entity_id in tokenizer.entity_vocab.items()}
    row, mention = _example_mention(Corpus.open(corpus_dir))
    start, end = int(row["entity_starts"][mention]), int(row["entity_ends"][mention])
    word_ids = row["word_ids"].tolist()
    offset = context_start(tokenizer.convert_ids_to_tokens(word_ids), start)
    window = word_ids[offset : end + CONTEXT_TOKENS]
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
    masked_word, word_id = tokens[word_position].lstrip("▁Ġ"), int(encoding["input_ids"][0, word_position])
    encoding["input_ids"][0, word_position] = tokenizer.mask_token_id
    with torch.no_grad():
        output = model(**encoding)

    shown = tokenizer.decode(encoding["input_ids"][0, 1:-1], clean_up_tokenization_spaces=False)
    shown = " ".join(shown.replace(tokenizer.mask_token, f" {tokenizer.mask_token}").split())
    click.echo(f"validation text: {shown}")
    entity_id = int(row["entity_ids"][mention])
    entity_scores = output.entity_logits[0, 0].softmax(-1)
    click.echo(
        f"masked entity: the mention {mention_text!r}, linked to {titles.get(entity_id)!r}: rank "
        f"{_rank(entity_scores, entity_id):,} of {len(entity_scores):,}"
    )
    _echo_top(entity_scores, top_k, lambda i: titles.get(i, str(i)))
    word_scores = output.logits[0, word_position].softmax(-1)
    click.echo(f"masked word: {masked_word!r}: rank {_rank(word_scores, word_id):,} of {len(word_scores):,}")
    _echo_top(word_scores, top_k, lambda i: tokenizer.convert_ids_to_tokens(i).lstrip("▁Ġ"))
    click.echo(EXPECTATION)


def _echo_top(scores: torch.Tensor, top_k: int, name) -> None:
    values, ids = scores.topk(top_k)
    for rank, (score, index) in enumerate(zip(values.tolist(), ids.tolist(), strict=True), 1):
        click.echo(f"  {rank}. {name(index)}  ({score:.2%})")
