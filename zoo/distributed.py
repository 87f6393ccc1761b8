"""Multi-process training on PyTorch's own engine: ``torchrun ... -m zoo train SPEC``.

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; zoo then joins the process group
(``nccl`` on CUDA, ``gloo`` on the CPU) and splits every batch of ``train.batch_size`` reviews
into one contiguous shard per rank. Every rank computes the same batch list from ``(seed,
epoch)``, so the ranks stay in step, and a global step sees exactly the reviews a single process
would see in that step. Rank 0 alone writes the run directory and shows progress.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Distributed:
    """This process's place among the training processes (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, indices: np.ndarray) -> np.ndarray:
        """This rank's contiguous part of one global batch."""
        if not self.enabled:
            return indices
        return np.array_split(indices, self.world_size)[self.rank]

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over the ranks (in place) and return it."""
        if self.enabled:
            torch.distributed.all_reduce(tensor)
        return tensor

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank."""
        if not self.enabled:
            return [value]
        values: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(values, value)
        return values

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if not self.enabled:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]


def from_environment(device: torch.device) -> Distributed:
    """Join the process group that torchrun describes, or run alone if there is none."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    dist = Distributed(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist


def shutdown(dist: Distributed) -> None:
    """Leave the process group (after the last collective call)."""
    if dist.enabled and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
