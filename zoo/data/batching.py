"""Batches of padded token ids, optionally bucketed by length so that little padding is computed.

Bucketing (training): shuffle all indices, sort by length inside pools of ``pool`` batches, cut
the pools into batches, shuffle the order of the batches. Each batch then holds reviews of
similar length (little padding) while the batches and their order still change every epoch.
Without shuffling (evaluation), bucketing sorts everything by length; :attr:`Batch.index` maps
each row back to its review. Everything is deterministic given ``seed`` and ``epoch``.

A review with no tokens is given one ``<unk>`` token (length 1): recurrent encoders cannot run
zero steps, and a real id (rather than padding) keeps masks and poolings well defined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.data.encode import EncodedSplit
from zoo.data.vocab import Vocab

if TYPE_CHECKING:  # torch only for training; the torch-free runtime batches with pad() and batch_indices()
    import torch


@dataclass
class Batch:
    """``ids`` (B, T) int64, zero-padded; ``lengths`` (B,) int64 on the CPU (as
    ``pack_padded_sequence`` wants); ``labels`` (B,) float32 (-1: unknown), or (B, L) float32
    multi-hot rows for multi-label data; ``index`` (B,) the rows' positions in the split."""

    ids: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    def to(self, device: Any, non_blocking: bool = False) -> Batch:
        """``ids`` and ``labels`` on ``device``; ``lengths`` stay on the CPU."""
        return Batch(
            self.ids.to(device, non_blocking=non_blocking),
            self.lengths,
            self.labels.to(device, non_blocking=non_blocking),
            self.index,
        )


def _rng(seed: int, epoch: int) -> np.random.Generator:
    return np.random.default_rng((seed % 2**63, epoch % 2**63))


def batch_indices(
    lengths: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool,
    bucketing: bool,
    pool: int = 100,
    seed: int = 0,
    epoch: int = 0,
) -> list[np.ndarray]:
    """The batches (arrays of indices into the split) for one epoch.

    The list depends only on its arguments, so distributed ranks that compute it alike stay in
    step (each then takes its shard of every batch, see :mod:`zoo.distributed`).
    """
    if batch_size < 1 or pool < 1:
        raise ValueError("batch_size and pool must be positive")
    lengths = np.asarray(lengths)
    n = len(lengths)
    rng = _rng(seed, epoch)
    order = rng.permutation(n) if shuffle else np.arange(n)
    if bucketing and shuffle:
        span = batch_size * pool
        for start in range(0, n, span):
            chunk = order[start : start + span]
            order[start : start + span] = chunk[np.argsort(lengths[chunk], kind="stable")]
    elif bucketing:
        order = np.argsort(lengths, kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if bucketing and shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def collate(split: EncodedSplit, indices: np.ndarray, max_length: int | None = None) -> Batch:
    """The reviews ``indices`` of ``split`` as one zero-padded batch (first ``max_length`` tokens)."""
    import torch

    indices = np.asarray(indices, dtype=np.int64)
    ids, lengths = pad(split, indices, max_length)
    return Batch(
        torch.from_numpy(ids),
        torch.from_numpy(lengths),
        torch.from_numpy(split.labels[indices].astype(np.float32)),
        indices,
    )


def pad(split: EncodedSplit, indices: np.ndarray, max_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ids ``(B, T)`` int64, zero-padded, and lengths ``(B,)`` int64 of the reviews ``indices``
    (their first ``max_length`` tokens; an empty review is one ``<unk>``)."""
    indices = np.asarray(indices, dtype=np.int64)
    starts = split.offsets[indices]
    lengths = split.offsets[indices + 1] - starts
    if max_length is not None:
        lengths = np.minimum(lengths, max_length)
    width = max(int(lengths.max()) if len(lengths) else 0, 1)
    columns = np.arange(width)
    mask = columns[None, :] < lengths[:, None]
    ids = np.zeros((len(indices), width), dtype=np.int64)
    ids[mask] = split.ids[(starts[:, None] + columns[None, :])[mask]]
    empty = lengths == 0
    if empty.any():
        ids[empty, 0] = Vocab.UNK
        lengths = np.maximum(lengths, 1)
    return ids, np.ascontiguousarray(lengths, dtype=np.int64)


def padding_stats(lengths: np.ndarray, batches: list[np.ndarray]) -> dict[str, float]:
    """Real and padded token counts of ``batches`` (each batch padded to its longest review)."""
    lengths = np.maximum(np.asarray(lengths), 1)
    real = sum(int(lengths[b].sum()) for b in batches)
    padded = sum(int(lengths[b].max()) * len(b) for b in batches if len(b))
    return {"real": real, "padded": padded, "padding_fraction": 1 - real / padded if padded else 0.0}
