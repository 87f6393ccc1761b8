"""Recurrent layers that keep their time dimension dynamic when a model is exported.

torch.export traces a model once. torch's own decompositions of ``aten.lstm``, ``aten.gru`` and
``aten.rnn_tanh``/``rnn_relu`` loop over the time steps in Python, which fixes the sequence length
of the traced graph to the example's. Inside :func:`dynamic_recurrent_layers`, each of them is
traced as a ``while_loop`` instead: torch ships that for LSTM and GRU
(``torch.export._patches``), and :func:`_rnn_while_loop` is the same for the plain RNN. The
exported program (``--format torch``) runs those loops; the ONNX exporter keeps the ops whole and
writes ONNX's own ``LSTM``/``GRU`` nodes, and ``RNN`` nodes through :data:`ONNX_TRANSLATIONS`
(torch's ONNX exporter has no translation for the plain RNN).

Both use private torch modules, pinned by the project's torch version and covered by the export
tests for every built-in encoder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import partial
from typing import Any

import torch
from torch._decomp.decompositions import _rnn_helper, gather_params, rnn_cell
from torch._higher_order_ops.while_loop import while_loop
from torch.export._patches import (
    _clone_tensors_that_alias,
    _register_rnn_while_loop_decomposition,
    register_gru_while_loop_decomposition,
    register_lstm_while_loop_decomposition,
)


def _one_layer(inp, hidden, params, has_biases, reverse=False, hidden_fn=None):
    """One direction of one RNN layer over ``inp`` ``(T, B, E)`` as a ``while_loop`` over time
    (torch's ``one_layer_while_loop_gru`` with the RNN cell)."""
    ih_weight, hh_weight = params[0], params[1]
    ih_bias = params[2] if has_biases else None
    hh_bias = params[3] if has_biases else None
    projected = torch.nn.functional.linear(inp, ih_weight, ih_bias)
    projected = projected.flip(0) if reverse else projected
    hh_weight, hh_bias = _clone_tensors_that_alias((hh_weight, hh_bias))
    state = hidden.unsqueeze(0)
    outputs = torch.empty(projected.size(0), *state.shape[1:], dtype=state.dtype, device=state.device)

    def cond_fn(step, outputs, state):
        return step < projected.size(0)

    def body_fn(step, outputs, state):
        i = step.item()
        torch._check_is_size(i)
        torch._check_is_size(i, max=projected.size(0) - 1)
        state = hidden_fn(projected[i], state, None, None, hh_weight, hh_bias)
        outputs = outputs.clone()
        outputs[i] = state.squeeze(0)
        return step + 1, outputs, state

    _, outputs, state = while_loop(cond_fn, body_fn, [torch.tensor(0, dtype=torch.int64), outputs, state])
    return (outputs.flip(0) if reverse else outputs), state.squeeze(0)


def _rnn_while_loop(nonlinearity):
    def rnn(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
        params = gather_params(params, has_biases, False)
        out, finals = _rnn_helper(input, list(hx.unbind(0)), params, has_biases, num_layers, dropout, train,
                                  bidirectional, batch_first, partial(_one_layer, hidden_fn=rnn_cell(nonlinearity)))
        return out, torch.stack(finals, 0)

    return rnn


@contextlib.contextmanager
def dynamic_recurrent_layers() -> Iterator[None]:
    """Within this context, tracing keeps LSTM, GRU and RNN layers' sequence length dynamic."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(register_lstm_while_loop_decomposition())
        stack.enter_context(register_gru_while_loop_decomposition())
        for op, nonlinearity in ((torch.ops.aten.rnn_tanh.input, torch.tanh), (torch.ops.aten.rnn_relu.input, torch.relu)):
            stack.enter_context(_register_rnn_while_loop_decomposition(op, _rnn_while_loop(nonlinearity)))
        yield


def _onnx_rnn(activation: str):
    """``aten.rnn_<activation>.input`` as ONNX ``RNN`` nodes, one per layer (onnxscript, traced)."""
    from onnxscript.onnx_opset import opset18 as op

    def rnn(input, hx, params, has_biases: bool, num_layers: int, dropout: float, train: bool,
            bidirectional: bool, batch_first: bool) -> Any:
        directions = 2 if bidirectional else 1
        per_direction = 4 if has_biases else 2
        if batch_first:
            input = op.Transpose(input, perm=[1, 0, 2])
        finals = []
        for layer in range(num_layers):
            initial = op.Slice(hx, [layer * directions], [(layer + 1) * directions], axes=[0])
            w, r, b = [], [], []
            for direction in range(directions):
                first = (layer * directions + direction) * per_direction
                w.append(op.Unsqueeze(params[first], [0]))
                r.append(op.Unsqueeze(params[first + 1], [0]))
                if has_biases:  # ONNX's B is [Wb, Rb]: torch's two biases end to end
                    b.append(op.Unsqueeze(op.Concat(params[first + 2], params[first + 3], axis=0), [0]))
            bias = op.Concat(*b, axis=0) if has_biases else None
            states, final = op.RNN(input, op.Concat(*w, axis=0), op.Concat(*r, axis=0), bias, None, initial,
                                   activations=[activation] * directions, hidden_size=hx.shape[2],
                                   direction="bidirectional" if bidirectional else "forward")
            # (T, directions, B, H) -> (T, B, directions * H), torch's layout
            input = op.Reshape(op.Transpose(states, perm=[0, 2, 1, 3]), op.Constant(value_ints=[0, 0, -1]))
            finals.append(final)
        if batch_first:
            input = op.Transpose(input, perm=[1, 0, 2])
        return input, op.Concat(*finals, axis=0)

    return rnn


def onnx_translations() -> dict[Any, Any]:
    """The ONNX translations torch's exporter lacks, for its ``custom_translation_table``."""
    return {torch.ops.aten.rnn_tanh.input: _onnx_rnn("Tanh"), torch.ops.aten.rnn_relu.input: _onnx_rnn("Relu")}
