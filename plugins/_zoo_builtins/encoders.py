"""Built-in recurrent encoders ``rnn``, ``gru`` and ``lstm``: configs and registration.

The modules themselves live in :mod:`_zoo_builtins.recurrent` and are imported only when an
encoder is built, so registering them costs no torch import.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from zoo import hookimpl


class RecurrentConfig(BaseModel):
    """Options shared by the recurrent encoders."""

    model_config = ConfigDict(extra="forbid")

    hidden_size: PositiveInt = Field(64, le=65_536, description="Units per direction and layer.")
    num_layers: PositiveInt = Field(1, le=64, description="Stacked recurrent layers.")
    bidirectional: bool = Field(False, description="Also read each review right to left.")
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Dropout between stacked layers (needs num_layers > 1)."
    )
    pooling: Literal["last", "mean", "max"] = Field(
        "last",
        description="How the sequence becomes one vector: the last hidden state (per direction), "
        "or the mean or max of the hidden states over the review's real tokens.",
    )

    @model_validator(mode="after")
    def _dropout_needs_layers(self) -> RecurrentConfig:
        if self.dropout > 0 and self.num_layers == 1:
            raise ValueError("dropout acts between stacked layers; set num_layers > 1 or dropout: 0")
        return self


class RNNConfig(RecurrentConfig):
    """Options of the plain (Elman) RNN encoder."""

    nonlinearity: Literal["tanh", "relu"] = "tanh"


@hookimpl
def register_components(registry) -> None:
    registry.register(
        "encoder", "rnn", config=RNNConfig, factory="_zoo_builtins.recurrent:build_rnn",
        description="Elman RNN (tanh or relu); suffers vanishing gradients on long reviews.",
    )
    registry.register(
        "encoder", "gru", config=RecurrentConfig, factory="_zoo_builtins.recurrent:build_gru",
        description="Gated recurrent unit encoder.",
    )
    registry.register(
        "encoder", "lstm", config=RecurrentConfig, factory="_zoo_builtins.recurrent:build_lstm",
        description="Long short-term memory encoder (the reference IMDB model's).",
    )
