"""``LukeForPretraining``: the LUKE encoder with masked-word (MLM) and masked-entity (MEP) objectives.

Parameter names are those of ``transformers.LukeForMaskedLM``, so a state dict moves between the two with no
renaming. Ties: with ``config.tie_word_embeddings`` (the default), the LM decoder shares the word embeddings,
the entity decoder shares the entity embeddings, and ``lm_head.bias`` is ``lm_head.decoder.bias``. (transformers
5.x ties the last two but no longer the LM decoder; LUKE and RoBERTa tie it, and so do we. A state dict of
ours loads into transformers as is: the two keys hold equal values.)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import LukeConfig

from luke.modeling.encoder import LukeEncoderModel
from luke.modeling.heads import EntityPredictionHead, LukeLMHead, masked_prediction
from luke.modeling.roberta_init import RobertaInitReport, initialize_from_roberta


@dataclass
class PretrainingOutput:
    """Losses and metrics of one pretraining step; an objective without labels in the call has ``None`` fields.

    ``loss`` is the sum of the objectives' mean cross-entropies; ``*_count`` is the number of labelled positions
    (for weighting when logging over steps and ranks).
    """

    loss: torch.Tensor | None
    mlm_loss: torch.Tensor | None = None
    mlm_accuracy: torch.Tensor | None = None
    mlm_count: torch.Tensor | None = None
    mep_loss: torch.Tensor | None = None
    mep_accuracy: torch.Tensor | None = None
    mep_count: torch.Tensor | None = None


class LukeForPretraining(nn.Module):
    """LUKE for pretraining: ``luke`` (encoder), ``lm_head`` (MLM) and ``entity_predictions`` (MEP)."""

    def __init__(self, config: LukeConfig) -> None:
        super().__init__()
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(
                f"hidden_size {config.hidden_size} is not a multiple of num_attention_heads "
                f"{config.num_attention_heads}"
            )
        self.config = config
        self.luke = LukeEncoderModel(config)
        self.lm_head = LukeLMHead(config)
        self.entity_predictions = EntityPredictionHead(config)
        self.apply(self._init_weights)
        self.tie_weights()

    # ----------------------------------------------------------------------------------------- weights
    def _init_weights(self, module: nn.Module) -> None:
        """transformers' initialisation: normal(0, initializer_range) weights, zero biases, unit LayerNorms,
        zero padding rows."""
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
            if module.padding_idx is not None:
                nn.init.zeros_(module.weight.data[module.padding_idx])
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, LukeLMHead | EntityPredictionHead):
            nn.init.zeros_(module.bias)

    @property
    def tied_weights(self) -> dict[str, str]:
        """Tied parameters, ``{tied name: source name}``: each pair is one tensor under two names."""
        if not self.config.tie_word_embeddings:
            return {}
        return {
            "lm_head.decoder.weight": "luke.embeddings.word_embeddings.weight",
            "lm_head.bias": "lm_head.decoder.bias",
            "entity_predictions.decoder.weight": "luke.entity_embeddings.entity_embeddings.weight",
        }

    def tie_weights(self) -> None:
        """Make each tied name of ``tied_weights`` refer to its source parameter."""
        for tied, source in self.tied_weights.items():
            module_name, _, attribute = tied.rpartition(".")
            setattr(self.get_submodule(module_name), attribute, self.get_parameter(source))

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        """``nn.Module.load_state_dict`` where tied names may be absent (safetensors files drop them). When a tied
        name and its source both come with different values, the source wins, with a warning naming them."""
        state_dict = dict(state_dict)
        for tied, source in self.tied_weights.items():
            if source not in state_dict:
                if tied not in state_dict:
                    continue  # both absent: reported as missing by a strict load
                state_dict[source] = state_dict[tied]
            elif tied in state_dict and not torch.equal(state_dict[tied], state_dict[source]):
                warnings.warn(
                    f"{tied} is tied to {source} in this model but the state dict holds different values for them: "
                    f"loading {source} into both",
                    stacklevel=2,
                )
            state_dict[tied] = state_dict[source]
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def freeze_all_but_entity_weights(self) -> int:
        """LUKE's first stage: train only the entity embeddings (table, projection, position, segment, LayerNorm)
        and the entity head; every other parameter is frozen. Returns the number of trainable parameters."""
        self.requires_grad_(False)
        self.luke.entity_embeddings.requires_grad_(True)
        self.entity_predictions.requires_grad_(True)
        return sum(parameter.numel() for parameter in self.parameters() if parameter.requires_grad)

    def gradient_checkpointing_enable(self) -> None:
        """Recompute each layer's activations in backward instead of storing them (training mode only)."""
        self.luke.encoder.gradient_checkpointing = True

    def gradient_checkpointing_disable(self) -> None:
        self.luke.encoder.gradient_checkpointing = False

    def compile_layers(self, backend: str = "inductor") -> None:
        """``torch.compile`` each encoder layer in place (the state dict keeps its keys); embeddings, heads and the
        choice of attention mask stay eager."""
        for layer in self.luke.encoder.layer:
            layer.compile(backend=backend)

    # ----------------------------------------------------------------------------------------- forward
    def encode(
        self,
        word_ids: torch.Tensor,
        word_attention_mask: torch.Tensor,
        word_segment_ids: torch.Tensor,
        entity_ids: torch.Tensor | None = None,
        entity_position_ids: torch.Tensor | None = None,
        entity_attention_mask: torch.Tensor | None = None,
        entity_segment_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Last-layer word hidden states (B × W × hidden) and entity hidden states (B × E × hidden; None
        without entities). Inputs as in :meth:`forward`."""
        return self.luke(
            word_ids,
            word_attention_mask,
            word_segment_ids,
            entity_ids,
            entity_position_ids,
            entity_attention_mask,
            entity_segment_ids,
        )

    def forward(
        self,
        word_ids: torch.Tensor,
        word_attention_mask: torch.Tensor,
        word_segment_ids: torch.Tensor,
        entity_ids: torch.Tensor | None = None,
        entity_position_ids: torch.Tensor | None = None,
        entity_attention_mask: torch.Tensor | None = None,
        entity_segment_ids: torch.Tensor | None = None,
        masked_lm_labels: torch.Tensor | None = None,
        masked_entity_labels: torch.Tensor | None = None,
    ) -> PretrainingOutput:
        """Losses and metrics of the objectives whose labels are given (−100 = no label at that position).

        Shapes: ``word_*`` and ``masked_lm_labels`` B × W; ``entity_ids``, ``entity_attention_mask``,
        ``entity_segment_ids`` and ``masked_entity_labels`` B × E; ``entity_position_ids`` B × E ×
        max_mention_length, the word positions of each entity's mention, −1 padded.
        """
        word_states, entity_states = self.encode(
            word_ids,
            word_attention_mask,
            word_segment_ids,
            entity_ids,
            entity_position_ids,
            entity_attention_mask,
            entity_segment_ids,
        )
        output = PretrainingOutput(loss=None)
        if masked_lm_labels is not None:
            mlm = masked_prediction(self.lm_head, word_states, masked_lm_labels)
            output.mlm_loss, output.mlm_accuracy, output.mlm_count = mlm.loss, mlm.accuracy, mlm.count
            output.loss = mlm.loss
        if masked_entity_labels is not None:
            if entity_states is None:
                raise ValueError("masked_entity_labels given without entity_ids")
            mep = masked_prediction(self.entity_predictions, entity_states, masked_entity_labels)
            output.mep_loss, output.mep_accuracy, output.mep_count = mep.loss, mep.accuracy, mep.count
            output.loss = mep.loss if output.loss is None else output.loss + mep.loss
        return output

    # ----------------------------------------------------------------------------------------- init
    @classmethod
    def from_roberta(cls, name_or_path: str, config: LukeConfig) -> tuple[LukeForPretraining, RobertaInitReport]:
        """A model initialised from a RoBERTa / XLM-R masked-LM checkpoint (a Hugging Face directory or hub name);
        returns ``(model, report)``. See :func:`luke.modeling.roberta_init.initialize_from_roberta`."""
        model = cls(config)
        report = initialize_from_roberta(model, name_or_path)
        return model, report
