"""One recurrent encoder over torch's RNN, GRU and LSTM layers, exact for padded batches.

Input: embedded tokens ``(B, T, E)`` and each review's length ``(B,)``; output ``(B, D)``.
A padded position never changes the result: a unidirectional layer is causal, so its states at
a review's real positions do not depend on the padding after them, and pooling reads only those
positions; a bidirectional layer runs on a packed sequence so that its right-to-left pass starts
at each review's last real token rather than at the padding.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

_LAYERS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RecurrentEncoder(nn.Module):
    """Embedded tokens ``(B, T, E)`` + lengths ``(B,)`` -> one vector per review ``(B, D)``."""

    def __init__(self, cell: str, input_size: int, config) -> None:
        super().__init__()
        extra = {"nonlinearity": config.nonlinearity} if cell == "rnn" else {}
        self.rnn = _LAYERS[cell](
            input_size,
            config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
            batch_first=True,
            **extra,
        )
        self.pooling = config.pooling
        self.directions = 2 if config.bidirectional else 1
        self.output_size = config.hidden_size * self.directions

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.directions == 1:
            states, _ = self.rnn(x)
            if self.pooling == "last":
                index = (lengths - 1).to(states.device).view(-1, 1, 1).expand(-1, 1, states.size(2))
                return states.gather(1, index).squeeze(1)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            packed_states, hidden = self.rnn(packed)
            if self.pooling == "last":
                final = hidden[0] if isinstance(hidden, tuple) else hidden  # LSTM: (h, c)
                return torch.cat([final[-2], final[-1]], dim=1)
            states, _ = pad_packed_sequence(packed_states, batch_first=True, total_length=x.size(1))
        mask = torch.arange(states.size(1), device=states.device)[None, :] < lengths.to(states.device)[:, None]
        mask = mask.unsqueeze(2)
        if self.pooling == "mean":
            return (states * mask).sum(1) / lengths.to(states.device).clamp(min=1).unsqueeze(1).to(states.dtype)
        return states.masked_fill(~mask, float("-inf")).max(1).values


def build_rnn(config, input_size: int) -> RecurrentEncoder:
    return RecurrentEncoder("rnn", input_size, config)


def build_gru(config, input_size: int) -> RecurrentEncoder:
    return RecurrentEncoder("gru", input_size, config)


def build_lstm(config, input_size: int) -> RecurrentEncoder:
    return RecurrentEncoder("lstm", input_size, config)
