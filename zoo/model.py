"""The classifier every spec assembles: Embedding (padding index 0) -> encoder -> head."""

from __future__ import annotations

import torch
from pydantic import BaseModel
from torch import nn

from zoo.limits import MAX_PARAMETERS
from zoo.registry import Registry


class TextClassifier(nn.Module):
    """Token ids ``(B, T)`` and lengths ``(B,)`` -> logits ``(B,)`` (binary) or ``(B, C)``."""

    def __init__(self, embedding: nn.Embedding, encoder: nn.Module, head: nn.Module,
                 embedding_dropout: float = 0.0, num_outputs: int = 1) -> None:
        super().__init__()
        self.num_outputs = num_outputs
        self.embedding = embedding
        self.dropout = nn.Dropout(embedding_dropout) if embedding_dropout else nn.Identity()
        self.encoder = encoder
        self.head = head

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        vectors = self.encoder(self.dropout(self.embedding(ids)), lengths)
        logits = self.head(vectors)
        return logits.squeeze(-1) if logits.size(-1) == 1 else logits


def build_model(
    model_spec: BaseModel, vocab_size: int, num_outputs: int = 1, registry: Registry | None = None
) -> TextClassifier:
    """Build the classifier of ``spec.model`` for a vocabulary of ``vocab_size`` tokens and the
    task's ``num_outputs`` logits (see :attr:`zoo.task.Task.num_outputs`).

    Modules are created in data-flow order (embedding, encoder, head), so a given
    ``torch.manual_seed`` gives the same initial weights as a hand-written model of that order.
    """
    if registry is None:
        from zoo.plugins import get_registry

        registry = get_registry()
    embedding = nn.Embedding(vocab_size, model_spec.embedding.dim, padding_idx=0)
    encoder = registry.build("encoder", model_spec.encoder, input_size=model_spec.embedding.dim)
    output_size = getattr(encoder, "output_size", None)
    if not isinstance(output_size, int):
        from zoo.errors import PluginError

        plugin = registry.get("encoder", model_spec.encoder.type).plugin
        raise PluginError(
            f"encoder '{model_spec.encoder.type}' from plugin {plugin.name} ({plugin}) built a "
            "module without an integer 'output_size' attribute; encoders must declare it"
        )
    head = registry.build("head", model_spec.head, input_size=output_size, num_outputs=num_outputs)
    return TextClassifier(embedding, encoder, head, model_spec.embedding.dropout, num_outputs)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def planned_state(
    model_spec: BaseModel, vocab_size: int, num_outputs: int, registry: Registry | None = None,
    max_parameters: int = MAX_PARAMETERS, where: str = "the spec",
) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """``{name: (shape, dtype)}`` of the state dict :func:`build_model` would make, allocating nothing.

    The model is built on torch's ``meta`` device, so a spec asking for a huge model costs no
    memory; one of more than ``max_parameters`` values is refused with a
    :class:`~zoo.errors.ZooError` naming ``where`` it came from, before anything is allocated.
    """
    from zoo.errors import ZooError

    with torch.device("meta"):
        model = build_model(model_spec, vocab_size, num_outputs, registry)
    state = {name: (tuple(value.shape), value.dtype) for name, value in model.state_dict().items()}
    total = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    if total > max_parameters:
        raise ZooError(
            f"{where} describes a model of {total:,} parameters (with a vocabulary of {vocab_size:,} tokens), "
            f"more than the {max_parameters:,} zoo builds; if that is really intended, raise --max-parameters"
        )
    return state
