"""What a demo stage's losses mean: its validation losses at start and end, next to references on the same positions.

Validation masks every chosen word and entity (``pretraining.loaders.validation_masking``), so the model cannot
copy its answer, and the trainer logs with its losses those of two models that cannot read the sequence, on the
very same positions (``pretraining.references``): the *unigram* (the train split's frequencies) and, for words,
the *bigram* (which sees the input token before each masked one). *uniform* is a guess among all ids, ``ln(size)``.
A model under the unigram learned more than frequencies: it reads context.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from pretraining.metrics_log import read_metrics

FIRST_ENTITY_ID = 3  # ids 0, 1, 2: [PAD], [UNK], [MASK]
CONTEXT_GAP = 0.3  # nats under the unigram that show a model reads context, not only frequencies


def column_values(split, column: str) -> np.ndarray:
    """Every value of a list column of a corpus split, flattened."""
    import pyarrow as pa

    arrays = [
        pa.ipc.open_file(pa.memory_map(str(path))).read_all().column(column).combine_chunks().flatten().to_numpy()
        for path in split.shard_files
    ]
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)


def stage_losses(run_dir: Path) -> str:
    """A small table of the stage's validation losses (first and last evaluation) and the references on the same
    positions, then what the masked-word figures say."""
    validation = read_metrics(run_dir, "validation")
    first, last = validation[0], validation[-1]
    sizes = json.loads((run_dir / "model_config.json").read_text(encoding="utf-8"))
    rows = [
        ("masked words", "mlm", last.get("mlm_bigram_loss"), sizes["vocab_size"]),
        ("masked entities", "mep", None, sizes["entity_vocab_size"]),
    ]
    lines = [f"  {'validation loss (nats)':<24}{'start':>7}{'end':>7}{'unigram':>9}{'bigram':>8}{'uniform':>9}"]
    for name, task, bigram, size in rows:
        shown_bigram = f"{bigram:>8.2f}" if bigram is not None else f"{'—':>8}"
        lines.append(
            f"  {name:<24}{first[f'{task}_loss']:>7.2f}{last[f'{task}_loss']:>7.2f}"
            f"{last[f'{task}_unigram_loss']:>9.2f}{shown_bigram}{math.log(size):>9.2f}"
        )
    lines.append("  " + context_verdict(last["mlm_loss"], last["mlm_unigram_loss"], last["mlm_bigram_loss"]))
    if last["mep_unigram_loss"] > math.log(sizes["entity_vocab_size"]):
        lines.append(
            "  (the train split's entity frequencies predict validation mentions worse than a uniform guess: "
            "the sample's entities rarely recur across pages)"
        )
    return "\n".join(lines)


def context_verdict(loss: float, unigram: float, bigram: float) -> str:
    """What a masked-word loss says next to the unigram and bigram losses on the same positions."""
    gap = unigram - loss
    if gap >= CONTEXT_GAP:
        beyond = "and beats the bigram" if loss < bigram else f"short of the bigram ({bigram:.2f})"
        return f"masked words: {gap:.2f} nats under the unigram on the same positions: it reads context, {beyond}"
    if gap > 0:
        return f"masked words: only {gap:.2f} nats under the unigram: it learned word frequencies, barely context"
    return "masked words: not under the unigram: it learned word frequencies, not context"


def exported_model_note(run_dir: Path) -> str:
    """What the exported model is and is not good for, from its last validation."""
    last = read_metrics(run_dir, "validation")[-1]
    gap = last["mlm_unigram_loss"] - last["mlm_loss"]
    if gap >= CONTEXT_GAP:
        return (
            "this exported model shows the pipeline works end to end and that the model reads context on a few CPU "
            "minutes of 206 pages; it is a toy: far too small and too briefly trained to be a starting point for "
            "fine-tuning (that takes LUKE-large's recipe on full Wikipedia, on GPUs)"
        )
    return (
        f"this exported model shows the pipeline works end to end; it reads little or no context (masked words "
        f"{gap:.2f} nats under the unigram), so it is not a useful starting point for fine-tuning (random weights "
        "start better): that takes LUKE-large's recipe on full Wikipedia, on GPUs"
    )
