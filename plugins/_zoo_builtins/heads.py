"""Built-in heads ``mlp`` and ``linear``: configs and registration.

A head maps the encoder's ``(B, D)`` to logits ``(B, num_outputs)``; the sigmoid belongs to the
loss and to prediction, never to the head.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from zoo import hookimpl


class MLPConfig(BaseModel):
    """Hidden layers with an activation between them, then a linear output layer."""

    model_config = ConfigDict(extra="forbid")

    hidden_sizes: list[Annotated[PositiveInt, Field(le=65_536)]] = Field(
        [64], max_length=64, description="Width of each hidden layer."
    )
    activation: Literal["relu", "tanh", "gelu"] = "relu"
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout before each linear layer.")


class LinearConfig(BaseModel):
    """A single linear layer from the encoder's vector to the logits."""

    model_config = ConfigDict(extra="forbid")

    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout before the linear layer.")


def build_mlp(config: MLPConfig, input_size: int, num_outputs: int = 1):
    """Linear -> activation (repeated per hidden size) -> linear logits."""
    from torch import nn

    activation = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}[config.activation]
    layers: list[nn.Module] = []
    width = input_size
    for size in [*config.hidden_sizes, num_outputs]:
        if config.dropout:
            layers.append(nn.Dropout(config.dropout))
        layers += [nn.Linear(width, size), activation()]
        width = size
    return nn.Sequential(*layers[:-1])  # no activation after the logits


def build_linear(config: LinearConfig, input_size: int, num_outputs: int = 1):
    """One linear layer to the logits."""
    return build_mlp(MLPConfig(hidden_sizes=[], dropout=config.dropout), input_size, num_outputs)


@hookimpl
def register_components(registry) -> None:
    registry.register(
        "head", "mlp", config=MLPConfig, factory=build_mlp,
        description="Hidden layers with an activation, then linear logits (reference: [64], relu).",
    )
    registry.register(
        "head", "linear", config=LinearConfig, factory=build_linear,
        description="One linear layer from the encoder's vector to the logits.",
    )
