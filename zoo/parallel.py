"""Running a recurrent layer over shards of its batch, one CPU thread per shard, at once.

Why: on the CPU a recurrent layer is a loop over time steps, each a small matrix product
(batch 32 x hidden 64 for the default recipe). A second OpenMP thread barely speeds up such a
step, so torch leaves most of the second core idle: oneDNN's LSTM runs a step of the forward
pass in about the same time on one core as on two. The reviews of a batch are independent of
each other, so the layer can instead run on halves of the batch, each on its own core, with one
thread each. The result is the same function of the same inputs, and the weight gradients are
the sum of the shards' gradients, added in a fixed order: only floating-point rounding differs
from the unsharded layer, and runs stay bitwise reproducible.

The trainer and the predictor open :func:`batch_shards` with the number of shards;
encoders call :func:`run_recurrent` on their torch RNN/GRU/LSTM layers. Outside that context,
on CUDA, for a batch of one, or when a multi-layer module's inter-layer dropout would draw
random numbers from several threads at once (which would make runs irreproducible), the layer
runs as usual.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from torch import nn

_SHARDS: contextvars.ContextVar[int] = contextvars.ContextVar("zoo_batch_shards", default=1)
_POOLS: dict[int, ThreadPoolExecutor] = {}


def resolve_shards(setting: int | str, device: torch.device) -> int:
    """The number of shards for ``train.cpu_shards``: ``auto`` is one per torch thread on the CPU."""
    if device.type != "cpu":
        return 1
    return torch.get_num_threads() if setting == "auto" else int(setting)


@contextlib.contextmanager
def batch_shards(count: int) -> Iterator[None]:
    """Within this context, :func:`run_recurrent` splits CPU batches into ``count`` shards.

    While it is open the calling thread runs its own work (embedding, head, optimizer step)
    on one thread: its idle OpenMP threads would otherwise spin on the cores the shards need,
    which made sharded training slower than unsharded in our measurements.
    """
    count = max(1, count)
    threads = torch.get_num_threads()
    if count > 1:
        _pool(count)
        torch.set_num_threads(1)
    token = _SHARDS.set(count)
    try:
        yield
    finally:
        _SHARDS.reset(token)
        if count > 1:
            torch.set_num_threads(threads)


def _pool(count: int) -> ThreadPoolExecutor:
    """A pool of ``count`` single-threaded workers, made once per count and kept.

    ``torch.set_num_threads`` in a worker also changes torch's process-wide default, so all the
    workers are started at once (a barrier makes each take one start-up task) and the
    caller's thread count is then put back.
    """
    if count not in _POOLS:
        threads = torch.get_num_threads()
        started = threading.Barrier(count)

        def single_threaded(_: int) -> None:
            torch.set_num_threads(1)
            started.wait()

        pool = ThreadPoolExecutor(count, thread_name_prefix="zoo-shard")
        list(pool.map(single_threaded, range(count)))
        torch.set_num_threads(threads)
        _POOLS[count] = pool
    return _POOLS[count]


def _shardable(layer: nn.RNNBase, x: torch.Tensor, count: int) -> bool:
    batch = x.size(0 if layer.batch_first else 1) if x.dim() == 3 else 1
    draws_dropout = layer.training and layer.dropout > 0 and layer.num_layers > 1
    return count > 1 and batch > 1 and x.device.type == "cpu" and not draws_dropout


def _thread_modes(grad: bool):
    """A context factory that re-enters, in a worker, the caller's inference and autocast modes.

    Both are thread-local in torch, so a worker would otherwise run in full precision and with
    gradients on whatever the caller asked for.
    """
    inference = torch.is_inference_mode_enabled()
    autocast = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None

    def enter() -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode() if inference else torch.set_grad_enabled(grad))
        if autocast is not None:
            stack.enter_context(torch.autocast("cpu", dtype=autocast))
        return stack

    return enter


def run_recurrent(layer: nn.RNNBase, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)``'s output states (every time step of the last layer), sharded when it pays.

    Only the output sequence is returned; encoders here read final states out of it by length.
    """
    count = _SHARDS.get()
    if not _shardable(layer, x, count):
        return layer(x)[0]
    dim = 0 if layer.batch_first else 1
    if not torch.is_grad_enabled():
        return torch.cat(_scored_shards(count, lambda shard: layer(shard)[0], x.chunk(count, dim)), dim)
    weights = [w for w in layer.parameters() if w.requires_grad]
    return _ShardedLayer.apply(layer, _pool(count), count, dim, _thread_modes(grad=True), x, *weights)


def _scored_shards(count: int, score: Callable[[Any], torch.Tensor], parts: Iterable[Any]) -> list[torch.Tensor]:
    """``score(part)`` for each part, on the ``count`` workers, without gradients: in the caller's
    inference and autocast modes."""
    modes = _thread_modes(grad=False)

    def scored(part: Any) -> torch.Tensor:
        with modes():
            return score(part)

    return list(_pool(count).map(scored, parts))


def final_states(states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``(B, H)``: each review's state at its last token, from batch-first ``(B, T, H)`` states."""
    index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, states.size(2))
    return states.gather(1, index).squeeze(1)


def run_recurrent_last(layer: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``final_states(run_recurrent(layer, x), lengths)`` for a batch-first ``layer``, the same values.

    Without gradients, each shard's worker picks its own reviews' final states, so the states of
    every time step are never concatenated: scoring 256 long reviews held that concatenation
    (256 x 2,500 tokens x 64 floats: 164 MB) on top of the shards' own outputs, and copying it
    took about a tenth of ``zoo predict``'s scoring.
    """
    count = _SHARDS.get()
    if torch.is_grad_enabled() or not layer.batch_first or not _shardable(layer, x, count):
        return final_states(run_recurrent(layer, x), lengths)
    parts = zip(x.chunk(count, 0), lengths.chunk(count, 0))
    return torch.cat(_scored_shards(count, lambda part: final_states(layer(part[0])[0], part[1]), parts), 0)


class _ShardedLayer(torch.autograd.Function):
    """Forward and backward of a recurrent layer, each shard on its own worker thread.

    Each worker records its shard's autograd graph; the backward pass asks each graph for the
    gradients of its shard and of the weights, then adds the weights' gradients shard by shard.
    """

    @staticmethod
    def forward(ctx, layer, pool, count, dim, modes, x, *weights):
        wants_input_grad = x.requires_grad

        def forward_shard(shard: torch.Tensor):
            shard = shard.detach().requires_grad_(wants_input_grad)
            with modes():
                return shard, layer(shard)[0]

        ctx.parts = list(pool.map(forward_shard, x.chunk(count, dim)))
        ctx.pool, ctx.dim, ctx.weights, ctx.wants_input_grad = pool, dim, weights, wants_input_grad
        return torch.cat([out.detach() for _, out in ctx.parts], dim)

    @staticmethod
    def backward(ctx, grad):
        weights, wants_input_grad = ctx.weights, ctx.wants_input_grad

        def backward_shard(part):
            (shard, out), grad_out = part
            inputs = [shard, *weights] if wants_input_grad else weights
            return torch.autograd.grad(out, inputs, grad_out)

        sizes = [out.size(ctx.dim) for _, out in ctx.parts]
        results = list(ctx.pool.map(backward_shard, zip(ctx.parts, grad.split(sizes, ctx.dim))))
        ctx.parts = None  # free the shards' graphs now, not when the outer graph goes
        input_grad = torch.cat([r[0] for r in results], ctx.dim) if wants_input_grad else None
        first = 1 if wants_input_grad else 0
        weight_grads = [functools.reduce(torch.add, column) for column in zip(*(r[first:] for r in results))]
        return (None, None, None, None, None, input_grad, *weight_grads)
