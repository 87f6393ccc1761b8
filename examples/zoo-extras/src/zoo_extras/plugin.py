"""The plugin: config models and registration. Imports pydantic and zoo's hook marker only.

The factories are given as ``"module:function"`` strings, so torch (and :mod:`zoo_extras.modules`)
is imported only when a spec builds one of these components: ``zoo list`` stays fast.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

from zoo import hookimpl


class TextCNNConfig(BaseModel):
    """1-D convolutions over time, one bank per kernel size, masked max-over-time pooling.

    Each bank is a "wide" convolution (zero padding of k-1 on both sides) over the review's
    real tokens only, so even a one-token review has windows, and padding never changes the
    result. The vector is the concatenation of every bank's max: output_size = channels x
    len(kernel_sizes).
    """

    model_config = ConfigDict(extra="forbid")

    kernel_sizes: list[PositiveInt] = Field(
        [3, 4, 5], min_length=1, description="Width in tokens of each convolution bank (one bank per size)."
    )
    channels: PositiveInt = Field(64, description="Filters per bank; output_size = channels x len(kernel_sizes).")
    activation: Literal["relu", "tanh", "gelu"] = Field("relu", description="Applied to each convolution output.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the pooled vector (training only).")


class HighwayConfig(BaseModel):
    """Highway layers, y = g * act(W x) + (1 - g) * x with a learned gate g, then linear logits."""

    model_config = ConfigDict(extra="forbid")

    layers: NonNegativeInt = Field(1, le=8, description="Highway layers before the output layer (0: linear).")
    activation: Literal["relu", "tanh", "gelu"] = Field("relu", description="Of each layer's transform.")
    gate_bias: float = Field(
        -1.0, description="Initial bias of the gates; negative values start the layers close to identity."
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout before each layer and the output.")


class CharNgramsConfig(BaseModel):
    """Character n-grams of each lowercased word, fastText style (words wrapped in < and >)."""

    model_config = ConfigDict(extra="forbid")

    n_min: PositiveInt = Field(3, description="Shortest n-gram, in characters (boundaries count).")
    n_max: PositiveInt = Field(5, le=10, description="Longest n-gram, in characters.")
    boundaries: bool = Field(True, description="Wrap each word in '<' and '>' so prefixes and suffixes differ.")
    words: bool = Field(True, description="Also emit each whole word as a token.")
    strip_html: bool = Field(True, description="Replace HTML tags such as <br /> by spaces first.")

    @model_validator(mode="after")
    def _ordered(self) -> CharNgramsConfig:
        if self.n_min > self.n_max:
            raise ValueError(f"n_min ({self.n_min}) must not exceed n_max ({self.n_max})")
        return self


@hookimpl
def register_components(registry) -> None:
    registry.register(
        "encoder", "textcnn", config=TextCNNConfig, factory="zoo_extras.modules:build_textcnn",
        description="1-D CNN over time (several kernel sizes), masked max-over-time pooling.",
    )
    registry.register(
        "head", "highway", config=HighwayConfig, factory="zoo_extras.modules:build_highway",
        description="Highway layers (gated carry of the input), then linear logits.",
    )
    registry.register(
        "tokenizer", "char-ngrams", config=CharNgramsConfig, factory="zoo_extras.tokenizers:build_char_ngrams",
        description="Character n-grams of each word (fastText style), optionally with the words.",
    )
