"""Sums of per-micro-batch figures, reduced over ranks into the metrics of a step or an evaluation."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from pretraining.references import ReferenceModels

_FIELDS = ("loss", "micro_batches", "mlm_loss", "mlm_correct", "mlm_count", "mep_loss", "mep_correct", "mep_count")
_FIELDS += ("samples", "word_tokens", "entity_tokens", "flag")
# pretraining.references' losses, each averaged over the positions of its task
REFERENCE_FIELDS = {"mlm_unigram_loss": "mlm", "mlm_bigram_loss": "mlm", "mep_unigram_loss": "mep"}
_FIELDS += (*REFERENCE_FIELDS, "reference_batches")


class StepMetrics:
    """Accumulates model outputs of micro-batches; :meth:`reduce` sums them over ranks (one all-reduce) and
    returns means weighted by the number of labelled positions. ``flag`` carries a per-rank boolean (e.g.
    "stop requested") through the same collective."""

    def __init__(self, device: torch.device) -> None:
        self.sums = torch.zeros(len(_FIELDS), dtype=torch.float64, device=device)

    def add(self, output: Any, batch: dict[str, torch.Tensor]) -> None:
        values = [output.loss.detach(), 1.0]
        for task in ("mlm", "mep"):
            count = getattr(output, f"{task}_count")
            if count is None:
                values += [0.0, 0.0, 0.0]
                continue
            count = count.detach().double()
            has_labels = count > 0
            loss = torch.where(has_labels, getattr(output, f"{task}_loss").detach().double() * count, 0.0)
            correct = torch.where(has_labels, getattr(output, f"{task}_accuracy").detach().double() * count, 0.0)
            values += [loss, correct, count]
        values += [
            batch["word_ids"].shape[0],
            batch["word_attention_mask"].sum(),
            batch["entity_attention_mask"].sum(),
            0.0,
        ]
        values = [torch.as_tensor(v, dtype=torch.float64, device=self.sums.device) for v in values]
        self.sums[: len(values)] += torch.stack(values)  # the reference fields come from add_references

    def add_references(self, references: ReferenceModels, batch: dict[str, torch.Tensor]) -> None:
        """The reference models' summed losses on the labelled positions of ``batch`` (see ``add``)."""
        unigram, bigram = references.word_losses(batch["word_ids"], batch["masked_lm_labels"])
        entities = references.entity_loss(batch["masked_entity_labels"])
        for name, value in (*zip(REFERENCE_FIELDS, (unigram, bigram, entities), strict=True), ("reference_batches", 1)):
            self.sums[_FIELDS.index(name)] += value

    def set_flag(self) -> None:
        self.sums[_FIELDS.index("flag")] = 1.0

    def reduce(self) -> dict[str, float]:
        sums = self.sums.clone()
        if dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(sums)
        total = dict(zip(_FIELDS, sums.tolist(), strict=True))
        result = {"loss": total["loss"] / max(total["micro_batches"], 1.0)}
        for task in ("mlm", "mep"):
            count = total[f"{task}_count"]
            result[f"{task}_loss"] = total[f"{task}_loss"] / count if count else float("nan")
            result[f"{task}_accuracy"] = total[f"{task}_correct"] / count if count else float("nan")
            result[f"{task}_count"] = count
        result.update(
            samples=total["samples"],
            word_tokens=total["word_tokens"],
            entity_tokens=total["entity_tokens"],
            flag=total["flag"],
        )
        if total["reference_batches"]:
            for name, task in REFERENCE_FIELDS.items():
                count = total[f"{task}_count"]
                result[name] = total[name] / count if count else float("nan")
        return result
