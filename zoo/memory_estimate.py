"""Before the first step: will the largest training batch fit in memory?

Why: a batch too large for the machine does not fail with an error. The process grows until
the kernel's out-of-memory killer ends it without a word (``train.batch_size=4096`` on
full-length reviews grew to 24 GB). So the trainer asks, once, before the first step:

1. **The largest batch this process will run**, in padded tokens: ``train.batch_size``
   reviews (this process's shard of them, when distributed) padded to the longest training
   review after ``data.max_length``; bucketing puts that review among others as long, so this
   is the real size of the batch that holds it. ``train.max_tokens`` bounds it further.
2. **Bytes per padded token** of this model on this device, measured on a small batch (4
   reviews of 64 tokens). On CUDA it is the allocator's measured peak of a forward and backward
   pass (and of one with 32 tokens: the difference leaves out what does not grow with the
   batch). On the CPU, where torch keeps no such count, it is what autograd saves for the
   backward pass (the activations, weights left out) times :data:`CPU_BACKWARD_FACTOR` for
   their gradients.
   ``python benchmarks/memory_estimate.py`` compares that with the measured growth of a real
   training step; see ``benchmarks/README.md``.
3. **Memory available**: ``MemAvailable`` and any cgroup limit (less what the cgroup uses,
   page cache not counted) on Linux; the free memory of the device on CUDA.

If the estimate exceeds what is available, the run stops with a message naming the fields that
set the batch's size. The measurement runs with the random state and buffers restored, so the
run computes exactly what it would have computed without it. It costs one forward pass of
the small batch (on the CPU 0.1-0.25 s the first time, most of it oneDNN compiling the LSTM
kernel for that shape; see ``benchmarks/README.md``).
Where the available memory cannot be read (not Linux, no CUDA), nothing is checked;
``ZOO_MEMORY_CHECK=0`` skips the check (the CPU estimate errs high for LSTMs, up to 2.6 times).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from zoo.data.batching import check_token_budget
from zoo.errors import ZooError

#: Gradients of the saved activations, relative to the activations themselves, on the CPU. A
#: real training step grew by 0.8 to 2.5 times the saved bytes per token for the shipped
#: encoders run whole (LSTM 1.0, BiLSTM 0.8, GRU 1.7, RNN 2.5; benchmarks/memory_estimate.py).
CPU_BACKWARD_FACTOR = 2.0
#: The two small batches the bytes per token are measured on: reviews, then tokens each.
PROBE_REVIEWS, PROBE_TOKENS = 4, (32, 64)
#: Optimizer state per parameter, in parameter sizes (Adam and AdamW keep two moments).
OPTIMIZER_STATES = {"adam": 2, "adamw": 2, "sgd": 1}


class InsufficientMemory(ZooError):
    """The largest batch of a run would need more memory than the machine has available."""


@dataclass(frozen=True)
class MemoryEstimate:
    """What one training step of the largest batch needs, and what is available."""

    tokens: int
    per_token: float
    fixed: int
    available: int | None
    available_from: str

    @property
    def needed(self) -> int:
        """Bytes one step of the largest batch adds: activations, gradients, optimizer state."""
        return int(self.tokens * self.per_token) + self.fixed

    @property
    def fits(self) -> bool:
        return self.available is None or self.needed <= self.available


def largest_batch_tokens(lengths: np.ndarray, batch_size: int, max_tokens: int | None, world_size: int = 1) -> int:
    """Padded tokens of the largest batch (this process's shard of it) an epoch can hold."""
    longest = max(int(np.max(lengths)) if len(lengths) else 1, 1)
    tokens = math.ceil(min(batch_size, len(lengths)) / world_size) * longest
    if max_tokens is not None:  # a shard of a budgeted batch: its share, plus one review's rounding
        tokens = min(tokens, max_tokens if world_size == 1 else max_tokens // world_size + longest)
    return tokens


def check_training_memory(
    model: torch.nn.Module, spec: Any, lengths: np.ndarray, device: torch.device, world_size: int = 1,
    autocast: Callable[[], AbstractContextManager] | None = None,
) -> MemoryEstimate:
    """Refuse, with a message naming the fields to change, a run whose largest batch cannot fit.

    ``lengths`` are the training reviews' token counts; ``autocast`` makes the context the
    training step runs in (its precision changes the activations' size).
    """
    train = spec.train
    if spec.data.max_length is not None:
        lengths = np.minimum(lengths, spec.data.max_length)
    check_token_budget(lengths, train.max_tokens, world_size)
    available, available_from = available_memory(device)
    if os.environ.get("ZOO_MEMORY_CHECK", "1") == "0":
        available, available_from = None, "not checked (ZOO_MEMORY_CHECK=0)"
    if available is None:
        return MemoryEstimate(0, 0.0, 0, None, available_from)
    parameters = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    estimate = MemoryEstimate(
        tokens=largest_batch_tokens(lengths, train.batch_size, train.max_tokens, world_size),
        per_token=bytes_per_token(model, device, autocast),
        fixed=parameters * (1 + OPTIMIZER_STATES.get(train.optimizer.name, 2)),
        available=available,
        available_from=available_from,
    )
    if not estimate.fits:
        raise InsufficientMemory(_refusal(estimate, spec, lengths, device, world_size))
    return estimate


def _refusal(estimate: MemoryEstimate, spec: Any, lengths: np.ndarray, device: torch.device, world_size: int) -> str:
    train, gib = spec.train, 2**30
    longest = max(int(np.max(lengths)), 1)
    truncation = f"data.max_length is {spec.data.max_length}" if spec.data.max_length else "data.max_length is not set"
    shard = f" ({world_size} processes, each a shard)" if world_size > 1 else ""
    budget = f", train.max_tokens {train.max_tokens:,}" if train.max_tokens else ""
    fit = int((estimate.available - estimate.fixed) / estimate.per_token) * world_size
    hint = (f", or bound each batch with train.max_tokens (about {fit // 1000 * 1000:,} would fit)"
            if fit >= longest * world_size else "")
    return (
        f"the largest training batch would not fit in memory: train.batch_size {train.batch_size:,}{budget} "
        f"with reviews of up to {longest:,} tokens ({truncation}){shard} makes {estimate.tokens:,} padded tokens "
        f"in one step, at about {estimate.per_token / 1000:,.1f} kB each (measured on a small batch of this model "
        f"on {device.type}): about {estimate.needed / gib:,.1f} GiB, but {estimate.available / gib:,.1f} GiB is "
        f"available ({estimate.available_from}). Lower train.batch_size, set data.max_length{hint}."
        + (" (On the CPU the estimate can be up to 2.6 times too high; ZOO_MEMORY_CHECK=0 skips this check.)"
           if device.type == "cpu" else "")
    )


def bytes_per_token(
    model: torch.nn.Module, device: torch.device, autocast: Callable[[], AbstractContextManager] | None = None
) -> float:
    """Memory per padded token of one training step of ``model``, measured on a small batch.

    Leaves the model, its gradients and the random state exactly as they were.
    """
    grads = [p.grad for p in model.parameters()]
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    was_training = model.training
    model.train()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            if device.type == "cuda":
                small, large = (_cuda_step_peak(model, device, PROBE_REVIEWS, t, autocast) for t in PROBE_TOKENS)
                return max(large - small, 0) / (PROBE_REVIEWS * (PROBE_TOKENS[1] - PROBE_TOKENS[0]))
            saved = _cpu_saved_bytes(model, device, PROBE_REVIEWS, PROBE_TOKENS[1], autocast)
            return saved / (PROBE_REVIEWS * PROBE_TOKENS[1]) * CPU_BACKWARD_FACTOR
    finally:
        model.train(was_training)
        for p, grad in zip(model.parameters(), grads):
            p.grad = grad
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])


def _probe_batch(model: torch.nn.Module, device: torch.device, reviews: int, tokens: int) -> tuple[torch.Tensor, ...]:
    """Made-up ids (no random numbers drawn), full lengths, labels."""
    vocab = max(getattr(getattr(model, "embedding", None), "num_embeddings", 2), 2)
    ids = (torch.arange(reviews * tokens) % (vocab - 1) + 1).view(reviews, tokens)
    return ids.to(device), torch.full((reviews,), tokens, dtype=torch.int64), torch.ones(reviews, device=device)


def _step(model, device, reviews, tokens, autocast) -> torch.Tensor:
    ids, lengths, labels = _probe_batch(model, device, reviews, tokens)
    with autocast() if autocast is not None else contextlib.nullcontext():
        logits = model(ids, lengths).float()
    return F.binary_cross_entropy_with_logits(logits.reshape(reviews, -1)[:, 0], labels)


def _cpu_saved_bytes(model, device, reviews, tokens, autocast) -> int:
    """Bytes of the storages autograd saves for the backward pass of one forward, weights left out.

    The weights are there anyway and do not grow with the batch; what is left is activations,
    nearly all of them proportional to the batch's tokens, so one small batch is enough (a
    second shape would cost oneDNN a second kernel compilation, about 0.1 s).
    """
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        _step(model, device, reviews, tokens, autocast)
    return sum(saved.values())


def _cuda_step_peak(model, device, reviews, tokens, autocast) -> int:
    """The allocator's peak over a forward and backward pass, above what was allocated before.

    Measured on two batch shapes: the difference leaves out the weights' gradients and any
    workspace that does not grow with the batch.
    """
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    _step(model, device, reviews, tokens, autocast).backward()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - before
    for p in model.parameters():
        p.grad = None
    return peak


def available_memory(device: torch.device) -> tuple[int | None, str]:
    """Bytes this process can still allocate on ``device``, and where that figure comes from."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return free + cached, f"free memory of {device}"
    if device.type != "cpu":
        return None, f"unknown for {device.type}"
    figures = [(value, source) for value, source in [_meminfo_available(), *_cgroup_room()] if value is not None]
    return min(figures) if figures else (None, "unknown on this system")


def _meminfo_available() -> tuple[int | None, str]:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
    except (OSError, ValueError):
        pass
    return None, ""


def _cgroup_room() -> list[tuple[int | None, str]]:
    """Limit minus usage (page cache not counted) of this process's memory cgroup and its parents."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    rooms = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2
            base, files = Path("/sys/fs/cgroup"), ("memory.max", "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):  # cgroup v1
            base, files = Path("/sys/fs/cgroup/memory"), ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
        else:
            continue
        folder = base / path.lstrip("/")
        for level in [folder, *folder.parents]:
            if not str(level).startswith(str(base)):
                break
            rooms.append(_room(level, *files))
    return [room for room in rooms if room[0] is not None]


def _room(folder: Path, limit_file: str, usage_file: str, cache_key: str) -> tuple[int | None, str]:
    try:
        limit = (folder / limit_file).read_text().strip()
        if limit == "max" or int(limit) >= 2**60:  # no limit at this level
            return None, ""
        usage = int((folder / usage_file).read_text())
        stat = dict(line.split() for line in (folder / "memory.stat").read_text().splitlines() if " " in line)
    except (OSError, ValueError):
        return None, ""
    return int(limit) - usage + int(stat.get(cache_key, 0)), f"cgroup limit {folder / limit_file}"
