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


def check_shapes(model: TextClassifier, model_spec: BaseModel, registry: Registry) -> None:
    """Run a tiny made-up batch through ``model`` and check its encoder's and head's outputs.

    Why: an encoder or head of a plugin that breaks the shape contract (docs/plugins.md) would
    otherwise fail deep inside the loss or the next layer with torch's traceback, naming neither
    the component nor its plugin. Evaluation mode without gradients draws no random numbers and
    changes no weights or buffers, so a run computes exactly what it would without the check.
    """
    from zoo.errors import PluginError, ZooError

    device = model.embedding.weight.device
    ids = (torch.arange(6) % max(model.embedding.num_embeddings - 1, 1) + 1).view(2, 3).to(device)
    lengths = torch.tensor([3, 2], dtype=torch.int64)
    expected = {"encoder": (2, model.encoder.output_size), "head": (2, model.num_outputs)}

    def blame(kind: str, problem: str) -> PluginError:
        name = getattr(model_spec, kind).type
        plugin = registry.get(kind, name).plugin
        return PluginError(f"{kind} '{name}' from plugin {plugin.name} ({plugin}) {problem}; "
                           "see docs/plugins.md, The component interfaces")

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            value: torch.Tensor = model.embedding(ids)
            for kind, call in (("encoder", lambda x: model.encoder(x, lengths)), ("head", model.head)):
                try:
                    value = call(value)
                except ZooError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the plugin's own failure, reported as its
                    raise blame(kind, f"failed on a batch of 2 texts: {type(exc).__name__}: {exc}") from exc
                if not isinstance(value, torch.Tensor) or tuple(value.shape) != expected[kind]:
                    got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                    raise blame(kind, f"returned {got} for a batch of 2 texts, expected a tensor of shape "
                                      f"{expected[kind]} (batch, {'output_size' if kind == 'encoder' else 'outputs'})")
    finally:
        model.train(was_training)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class _SkipFills(torch.overrides.TorchFunctionMode):
    """Initialisers and in-place fills do nothing: a ``meta`` tensor holds no values to fill.

    Why it matters: torch fills a ``meta`` tensor at random through Python reference code that
    imports ``torch._dynamo`` on first use, which took 0.8 s of every command that loads a run
    (``zoo predict`` started in 2.4 s). Shapes and dtypes, all that is read here, are unchanged.
    Only meta tensors are skipped: a plugin may fill a tensor of its own on the CPU and read it
    (to size a layer, say), and must read what it wrote.
    """

    _FILLS = frozenset(getattr(torch.Tensor, name) for name in (
        "normal_", "uniform_", "zero_", "fill_", "bernoulli_", "random_", "exponential_", "geometric_",
        "log_normal_", "cauchy_"))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if func in self._FILLS or (getattr(func, "__module__", None) == "torch.nn.init" and name.endswith("_")):
            target = args[0] if args else kwargs.get("tensor")
            if getattr(target, "is_meta", False):
                return target
        return func(*args, **kwargs)


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

    with torch.device("meta"), _SkipFills():
        model = build_model(model_spec, vocab_size, num_outputs, registry)
    state = {name: (tuple(value.shape), value.dtype) for name, value in model.state_dict().items()}
    total = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    if total > max_parameters:
        raise ZooError(
            f"{where} describes a model of {total:,} parameters (with a vocabulary of {vocab_size:,} tokens), "
            f"more than the {max_parameters:,} zoo builds; if that is really intended, raise --max-parameters"
        )
    return state
