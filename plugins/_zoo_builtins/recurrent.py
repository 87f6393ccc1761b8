"""One recurrent encoder over torch's RNN, GRU and LSTM layers, exact for padded batches.

Input: embedded tokens ``(B, T, E)`` and each review's length ``(B,)``; output ``(B, D)``.
A padded position never changes the result, without packing:

- a left-to-right layer is causal, so its states at a review's real positions do not depend
  on the padding after them, and pooling reads only those positions;
- the right-to-left pass of a bidirectional encoder runs as a left-to-right layer over each
  review reversed *within its own length* (the padding stays at the end), and its states are
  put back in the original order.

Both directions therefore run on plain padded tensors, which lets torch use its fused CPU
(oneDNN) and cuDNN kernels; packed sequences are several times slower on the CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.parallel import final_states, run_recurrent, run_recurrent_last

_LAYERS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def reverse_within_length(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """``(B, T)`` time indices that reverse each row's first ``length`` steps, keeping the rest.

    Applying the permutation twice gives the identity, so it also undoes itself.
    """
    t = torch.arange(steps, device=lengths.device).unsqueeze(0)
    last = (lengths - 1).unsqueeze(1)
    return torch.where(t <= last, last - t, t)


def _gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return x.gather(1, index.unsqueeze(2).expand(-1, -1, x.size(2)))


class RecurrentEncoder(nn.Module):
    """Embedded tokens ``(B, T, E)`` + lengths ``(B,)`` -> one vector per review ``(B, D)``."""

    def __init__(self, cell: str, input_size: int, config) -> None:
        super().__init__()
        extra = {"nonlinearity": config.nonlinearity} if cell == "rnn" else {}
        hidden = config.hidden_size
        self.pooling = config.pooling
        self.bidirectional = config.bidirectional
        self.dropout = nn.Dropout(config.dropout)
        if not self.bidirectional:
            self.rnn = _LAYERS[cell](input_size, hidden, num_layers=config.num_layers,
                                     dropout=config.dropout, batch_first=True, **extra)
            self.output_size = hidden
            return
        # One (left-to-right, right-to-left) pair of single-layer modules per layer.
        self.layers = nn.ModuleList(
            nn.ModuleList(
                _LAYERS[cell](input_size if i == 0 else 2 * hidden, hidden, batch_first=True, **extra)
                for _ in range(2)
            )
            for i in range(config.num_layers)
        )
        self.output_size = 2 * hidden

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths = lengths.to(x.device)
        if self.bidirectional:
            states, last = self._bidirectional(x, lengths)
            if self.pooling == "last":
                return last
        elif self.pooling == "last":
            return run_recurrent_last(self.rnn, x, lengths)
        else:
            states = run_recurrent(self.rnn, x)
        mask = (torch.arange(states.size(1), device=x.device)[None, :] < lengths[:, None]).unsqueeze(2)
        if self.pooling == "mean":
            return (states * mask).sum(1) / lengths.clamp(min=1).unsqueeze(1).to(states.dtype)
        return states.masked_fill(~mask, float("-inf")).max(1).values

    def _bidirectional(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """States ``(B, T, 2H)`` in the original order, and the final state of each direction."""
        reverse = reverse_within_length(lengths, x.size(1))
        for depth, (left, right) in enumerate(self.layers):
            if depth:
                x = self.dropout(x)
            forward_states = run_recurrent(left, x)
            backward_states = run_recurrent(right, _gather_time(x, reverse))
            last = torch.cat([final_states(forward_states, lengths), final_states(backward_states, lengths)], 1)
            x = torch.cat([forward_states, _gather_time(backward_states, reverse)], 2)
        return x, last


def build_rnn(config, input_size: int) -> RecurrentEncoder:
    return RecurrentEncoder("rnn", input_size, config)


def build_gru(config, input_size: int) -> RecurrentEncoder:
    return RecurrentEncoder("gru", input_size, config)


def build_lstm(config, input_size: int) -> RecurrentEncoder:
    return RecurrentEncoder("lstm", input_size, config)
