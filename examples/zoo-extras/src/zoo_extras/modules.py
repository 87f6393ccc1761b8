"""The torch modules behind ``textcnn`` and ``highway`` (imported only when one is built)."""

from __future__ import annotations

import torch
from torch import nn

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


class TextCNN(nn.Module):
    """Embedded tokens ``(B, T, E)`` + lengths ``(B,)`` -> ``(B, channels * len(kernel_sizes))``.

    Padding invariance: positions at or past a review's length are zeroed before the
    convolutions, each convolution is wide (zero padding of ``k - 1`` on both sides, output
    position ``j`` reads inputs ``j-k+1 .. j``), and only the ``L + k - 1`` windows that touch a
    real token enter the max. Those windows see exactly what they would see if the review were
    alone and unpadded, so neither the amount nor the content of the padding matters.
    """

    def __init__(self, config, input_size: int) -> None:
        super().__init__()
        self.kernel_sizes = list(config.kernel_sizes)
        self.convs = nn.ModuleList(
            nn.Conv1d(input_size, config.channels, k, padding=k - 1) for k in self.kernel_sizes
        )
        self.activation = _ACTIVATIONS[config.activation]()
        self.dropout = nn.Dropout(config.dropout) if config.dropout else nn.Identity()
        self.output_size = config.channels * len(self.kernel_sizes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths = lengths.to(x.device).clamp(min=1)
        steps = x.size(1)
        real = torch.arange(steps, device=x.device)[None, :] < lengths[:, None]  # (B, T)
        x = (x * real.unsqueeze(2).to(x.dtype)).transpose(1, 2)  # (B, E, T), padding zeroed
        pooled = []
        for k, conv in zip(self.kernel_sizes, self.convs, strict=True):
            maps = self.activation(conv(x))  # (B, C, T + k - 1)
            windows = torch.arange(steps + k - 1, device=x.device)[None, :] < (lengths + k - 1)[:, None]
            pooled.append(maps.masked_fill(~windows.unsqueeze(1), float("-inf")).amax(dim=2))
        return self.dropout(torch.cat(pooled, dim=1))


class Highway(nn.Module):
    """``(B, D)`` -> highway layers -> logits ``(B, num_outputs)``."""

    def __init__(self, config, input_size: int, num_outputs: int) -> None:
        super().__init__()
        self.transforms = nn.ModuleList(nn.Linear(input_size, input_size) for _ in range(config.layers))
        self.gates = nn.ModuleList(nn.Linear(input_size, input_size) for _ in range(config.layers))
        for gate in self.gates:
            nn.init.constant_(gate.bias, config.gate_bias)
        self.activation = _ACTIVATIONS[config.activation]()
        self.dropout = nn.Dropout(config.dropout) if config.dropout else nn.Identity()
        self.output = nn.Linear(input_size, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for transform, gate in zip(self.transforms, self.gates, strict=True):
            x = self.dropout(x)
            g = torch.sigmoid(gate(x))
            x = g * self.activation(transform(x)) + (1 - g) * x
        return self.output(self.dropout(x))


def build_textcnn(config, input_size: int) -> TextCNN:
    """1-D CNN over time with masked max-over-time pooling."""
    return TextCNN(config, input_size)


def build_highway(config, input_size: int, num_outputs: int = 1) -> Highway:
    """Highway layers then linear logits."""
    return Highway(config, input_size, num_outputs)
