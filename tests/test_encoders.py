"""The recurrent encoders against hand computation, and their exactness on padded batches."""

from __future__ import annotations

import pytest
import torch

from zoo.plugins import get_registry


def build_encoder(spec: dict, input_size: int) -> torch.nn.Module:
    return get_registry().build("encoder", spec, input_size=input_size)


def test_rnn_encoder_reproduces_the_reference_hand_check():
    """nn.RNN(5, 2) under seed 1 on inputs of 1s, 2s, 3s: the tutorial's printed states.

    The three prefixes of the sequence go in as one padded batch, so the `last` pooling of
    each row is the state after 1, 2 and 3 steps.
    """
    torch.manual_seed(1)
    encoder = build_encoder({"type": "rnn", "hidden_size": 2}, input_size=5)
    x = torch.stack([torch.full((3, 5), 0.0)] * 3)
    for row, length in enumerate((1, 2, 3)):
        for t in range(length):
            x[row, t] = float(t + 1)
    states = encoder(x, torch.tensor([1, 2, 3]))
    expected = torch.tensor(
        [[-0.3519801, 0.52525216], [-0.68424344, 0.76074266], [-0.8649416, 0.90466356]]
    )
    torch.testing.assert_close(states, expected, rtol=0, atol=1e-6)


def test_rnn_encoder_matches_the_formula():
    """h_t = tanh(W_xh x_t + b_xh + W_hh h_{t-1} + b_hh), computed step by step."""
    torch.manual_seed(0)
    encoder = build_encoder({"type": "rnn", "hidden_size": 3}, input_size=4)
    x = torch.randn(1, 6, 4)
    rnn = encoder.rnn
    h = torch.zeros(3)
    for t in range(6):
        h = torch.tanh(rnn.weight_ih_l0 @ x[0, t] + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ h + rnn.bias_hh_l0)
    torch.testing.assert_close(encoder(x, torch.tensor([6]))[0], h, rtol=0, atol=1e-6)


def _lstm_by_hand(layer, x):
    w_i, w_f, w_g, w_o = layer.weight_ih_l0.chunk(4)
    u_i, u_f, u_g, u_o = layer.weight_hh_l0.chunk(4)
    b = layer.bias_ih_l0 + layer.bias_hh_l0
    b_i, b_f, b_g, b_o = b.chunk(4)
    h = c = torch.zeros(layer.hidden_size)
    states = []
    for x_t in x:
        f = torch.sigmoid(w_f @ x_t + u_f @ h + b_f)
        i = torch.sigmoid(w_i @ x_t + u_i @ h + b_i)
        c_tilde = torch.tanh(w_g @ x_t + u_g @ h + b_g)
        c = c * f + i * c_tilde
        o = torch.sigmoid(w_o @ x_t + u_o @ h + b_o)
        h = o * torch.tanh(c)
        states.append(h)
    return torch.stack(states)


def _gru_by_hand(layer, x):
    w_r, w_z, w_n = layer.weight_ih_l0.chunk(3)
    u_r, u_z, u_n = layer.weight_hh_l0.chunk(3)
    bi_r, bi_z, bi_n = layer.bias_ih_l0.chunk(3)
    bh_r, bh_z, bh_n = layer.bias_hh_l0.chunk(3)
    h = torch.zeros(layer.hidden_size)
    states = []
    for x_t in x:
        r = torch.sigmoid(w_r @ x_t + bi_r + u_r @ h + bh_r)
        z = torch.sigmoid(w_z @ x_t + bi_z + u_z @ h + bh_z)
        n = torch.tanh(w_n @ x_t + bi_n + r * (u_n @ h + bh_n))
        h = (1 - z) * n + z * h
        states.append(h)
    return torch.stack(states)


@pytest.mark.parametrize("cell, by_hand", [("lstm", _lstm_by_hand), ("gru", _gru_by_hand)])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_gated_encoders_match_their_gate_equations(cell, by_hand, pooling):
    torch.manual_seed(2)
    encoder = build_encoder({"type": cell, "hidden_size": 5, "pooling": pooling}, input_size=3)
    x = torch.randn(1, 7, 3)
    states = by_hand(encoder.rnn, x[0])
    expected = {"last": states[-1], "mean": states.mean(0), "max": states.max(0).values}[pooling]
    torch.testing.assert_close(encoder(x, torch.tensor([7]))[0], expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_padding_never_changes_the_result(cell, pooling, bidirectional, num_layers):
    """A review alone and the same review in a padded batch give the same vector."""
    torch.manual_seed(3)
    spec = {"type": cell, "hidden_size": 4, "pooling": pooling, "bidirectional": bidirectional,
            "num_layers": num_layers}
    encoder = build_encoder(spec, input_size=3).eval()
    lengths = torch.tensor([5, 2, 9, 1])
    batch = torch.randn(4, 9, 3) * 3  # padding positions hold garbage on purpose
    together = encoder(batch, lengths)
    assert together.shape == (4, encoder.output_size)
    assert encoder.output_size == 4 * (2 if bidirectional else 1)
    for row, length in enumerate(lengths.tolist()):
        alone = encoder(batch[row : row + 1, :length], lengths[row : row + 1])
        torch.testing.assert_close(together[row : row + 1], alone, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_bidirectional_encoder_equals_torchs_packed_bidirectional_layer(cell):
    """The reversed-within-length trick gives exactly what a packed bidirectional layer gives."""
    torch.manual_seed(4)
    encoder = build_encoder({"type": cell, "hidden_size": 3, "bidirectional": True, "num_layers": 2,
                             "dropout": 0.3, "pooling": "last"}, input_size=2).eval()
    reference = getattr(torch.nn, cell.upper())(2, 3, num_layers=2, bidirectional=True, batch_first=True)
    with torch.no_grad():
        for depth, (left, right) in enumerate(encoder.layers):
            for name, value in left.named_parameters():
                getattr(reference, name.replace("l0", f"l{depth}")).copy_(value)
            for name, value in right.named_parameters():
                getattr(reference, name.replace("l0", f"l{depth}") + "_reverse").copy_(value)
    x, lengths = torch.randn(3, 6, 2), torch.tensor([6, 2, 4])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    _, hidden = reference(packed)
    final = hidden[0] if cell == "lstm" else hidden
    torch.testing.assert_close(encoder(x, lengths), torch.cat([final[-2], final[-1]], 1), rtol=0, atol=1e-6)
    encoder.pooling = "mean"
    states, _ = torch.nn.utils.rnn.pad_packed_sequence(reference(packed)[0], batch_first=True)
    expected = states.sum(1) / lengths[:, None]
    torch.testing.assert_close(encoder(x, lengths), expected, rtol=0, atol=1e-6)


def test_reverse_within_length_is_its_own_inverse():
    from _zoo_builtins.recurrent import reverse_within_length

    index = reverse_within_length(torch.tensor([3, 1, 5]), 5)
    assert index.tolist() == [[2, 1, 0, 3, 4], [0, 1, 2, 3, 4], [4, 3, 2, 1, 0]]
    assert torch.equal(index.gather(1, index), torch.arange(5).expand(3, 5))


def test_relu_rnn_and_dropout_between_layers_are_built():
    encoder = build_encoder(
        {"type": "rnn", "nonlinearity": "relu", "num_layers": 2, "dropout": 0.5}, input_size=3
    )
    assert encoder.rnn.nonlinearity == "relu"
    assert encoder.rnn.dropout == 0.5
    bidirectional = build_encoder({"type": "rnn", "nonlinearity": "relu", "bidirectional": True}, input_size=3)
    assert all(layer.nonlinearity == "relu" for pair in bidirectional.layers for layer in pair)
