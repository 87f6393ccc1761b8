"""Sharded recurrent layers: the same outputs and gradients as the whole batch, reproducibly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo.parallel import batch_shards, final_states, resolve_shards, run_recurrent, run_recurrent_last
from zoo.plugins import get_registry


def outputs_and_grads(layer: nn.RNNBase, x: torch.Tensor, shards: int) -> tuple[torch.Tensor, ...]:
    """The layer's output, and the gradients of a fixed weighting of it, under ``shards``."""
    x = x.detach().requires_grad_()
    with batch_shards(shards):
        out = run_recurrent(layer, x)
    weighting = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    grads = torch.autograd.grad((out * weighting).sum(), [x, *layer.parameters()])
    return (out.detach(), *grads)


@pytest.mark.parametrize("cell", [nn.RNN, nn.GRU, nn.LSTM])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("batch", [2, 5, 32])
def test_sharded_layer_matches_the_whole_batch(cell, batch_first, batch):
    """In float64, so that only the order of additions can differ."""
    torch.manual_seed(0)
    layer = cell(6, 8, num_layers=2, batch_first=batch_first).double()
    x = torch.randn((batch, 7, 6) if batch_first else (7, batch, 6), dtype=torch.float64)
    whole = outputs_and_grads(layer, x, shards=1)
    sharded = outputs_and_grads(layer, x, shards=2)
    for expected, got in zip(whole, sharded, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_sharded_gradients_are_bitwise_reproducible():
    torch.manual_seed(0)
    layer = nn.LSTM(6, 8, batch_first=True)
    x = torch.randn(9, 11, 6)
    first = outputs_and_grads(layer, x, shards=3)
    for _ in range(3):
        for a, b in zip(first, outputs_and_grads(layer, x, shards=3), strict=True):
            assert torch.equal(a, b)


def test_sharding_runs_the_layer_once_per_shard_on_the_workers():
    layer = nn.GRU(4, 4, batch_first=True)
    seen = []
    layer.register_forward_hook(lambda module, args, out: seen.append(args[0].size(0)))
    x = torch.randn(7, 3, 4, requires_grad=True)
    with batch_shards(2):
        out = run_recurrent(layer, x)
    assert sorted(seen) == [3, 4]
    assert type(out.grad_fn).__name__ == "_ShardedLayerBackward"


@pytest.mark.parametrize(
    "case",
    ["one shard", "one review", "inter-layer dropout while training"],
)
def test_layers_that_must_not_be_sharded_run_whole(case):
    layer = nn.LSTM(4, 4, num_layers=2, dropout=0.5 if "dropout" in case else 0.0, batch_first=True)
    seen = []
    layer.register_forward_hook(lambda module, args, out: seen.append(args[0].size(0)))
    x = torch.randn(1 if case == "one review" else 6, 3, 4)
    with batch_shards(1 if case == "one shard" else 2):
        run_recurrent(layer, x)
    assert seen == [x.size(0)]


def test_inter_layer_dropout_is_sharded_in_evaluation():
    layer = nn.LSTM(4, 4, num_layers=2, dropout=0.5, batch_first=True).eval()
    x = torch.randn(6, 3, 4)
    with torch.no_grad(), batch_shards(2):
        sharded = run_recurrent(layer, x)
    with torch.no_grad():
        torch.testing.assert_close(sharded, layer(x)[0])


def test_workers_follow_inference_mode_and_autocast():
    torch.manual_seed(0)
    layer = nn.LSTM(4, 8, batch_first=True)
    x = torch.randn(6, 5, 4)
    with torch.inference_mode(), batch_shards(2):
        out = run_recurrent(layer, x)
    assert out.is_inference()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        whole = layer(x)[0]
        with batch_shards(2):
            sharded = run_recurrent(layer, x)
    assert sharded.dtype == whole.dtype == torch.bfloat16
    torch.testing.assert_close(sharded, whole)


def test_frozen_weights_and_inputs_without_gradients():
    layer = nn.GRU(4, 4, batch_first=True)
    layer.weight_hh_l0.requires_grad_(False)
    x = torch.randn(4, 3, 4)  # no gradient wanted for the input
    with batch_shards(2):
        out = run_recurrent(layer, x)
    out.sum().backward()
    assert layer.weight_hh_l0.grad is None
    whole = nn.GRU(4, 4, batch_first=True)
    whole.load_state_dict(layer.state_dict())
    whole(x)[0].sum().backward()
    torch.testing.assert_close(layer.weight_ih_l0.grad, whole.weight_ih_l0.grad)


def test_the_caller_runs_single_threaded_inside_and_gets_its_threads_back():
    before = torch.get_num_threads()
    with batch_shards(2):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_auto_is_one_shard_per_cpu_thread_and_none_off_the_cpu():
    assert resolve_shards("auto", torch.device("cpu")) == torch.get_num_threads()
    assert resolve_shards(3, torch.device("cpu")) == 3
    assert resolve_shards("auto", torch.device("cuda")) == 1


@pytest.mark.parametrize("bidirectional", [False, True])
def test_encoders_give_the_same_vectors_sharded(bidirectional):
    torch.manual_seed(0)
    encoder = get_registry().build(
        "encoder", {"type": "lstm", "hidden_size": 8, "bidirectional": bidirectional, "pooling": "mean"},
        input_size=5,
    )
    x = torch.randn(6, 9, 5)
    lengths = torch.tensor([9, 1, 4, 7, 2, 9])
    whole = encoder(x, lengths)
    with batch_shards(2):
        sharded = encoder(x, lengths)
    torch.testing.assert_close(sharded, whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", [nn.RNN, nn.GRU, nn.LSTM])
@pytest.mark.parametrize("grad", [False, True])
def test_final_states_are_those_of_the_whole_sequence_bit_for_bit(cell, grad):
    """Scoring picks each review's last state inside its shard's worker: the very values the
    whole batch's states give, never their concatenation."""
    torch.manual_seed(0)
    layer = cell(6, 8, num_layers=2, batch_first=True)
    x = torch.randn(9, 11, 6)
    lengths = torch.tensor([11, 1, 5, 11, 3, 7, 2, 9, 4])
    expected = torch.stack([layer(x[b : b + 1, : int(n)])[0][0, -1] for b, n in enumerate(lengths)])
    with torch.set_grad_enabled(grad), batch_shards(2):
        got = run_recurrent_last(layer, x, lengths)
        whole = final_states(run_recurrent(layer, x), lengths)
    assert torch.equal(got.detach(), whole.detach())
    torch.testing.assert_close(got.detach(), expected.detach())
