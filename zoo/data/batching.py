"""Batches of padded token ids, optionally bucketed by length so that little padding is computed.

Bucketing (training): shuffle all indices, sort by length inside pools of ``pool`` batches, cut
the pools into batches, shuffle the order of the batches. Each batch then holds reviews of
similar length (little padding) while the batches and their order still change every epoch.
Without shuffling (evaluation), bucketing sorts everything by length; :attr:`Batch.index` maps
each row back to its review. Everything is deterministic given ``seed`` and ``epoch``.

Token budget (``train.max_tokens``, off unless set): the same order is cut into batches of at
most ``batch_size`` reviews *and* at most ``max_tokens`` padded tokens (reviews x the longest of
them), as fairseq's and AllenNLP's max-tokens batching do. Short reviews still come
``batch_size`` at a time; long ones come fewer at a time, so a step's memory has a bound.

A review with no tokens is given one ``<unk>`` token (length 1): recurrent encoders cannot run
zero steps, and a real id (rather than padding) keeps masks and poolings well defined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.data.encode import EncodedSplit
from zoo.data.vocab import Vocab
from zoo.errors import ZooError

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
    max_tokens: int | None = None,
) -> list[np.ndarray]:
    """The batches (arrays of indices into the split) for one epoch.

    The list depends only on its arguments, so distributed ranks that compute it alike stay in
    step (each then takes its shard of every batch, see :mod:`zoo.distributed`). ``max_tokens``
    bounds each batch's padded tokens too (see :func:`check_token_budget` for its minimum).
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
    if max_tokens is None:
        batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    else:
        batches = _cut_by_tokens(order, np.maximum(lengths, 1), batch_size, max_tokens)
    if bucketing and shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def _cut_by_tokens(order: np.ndarray, lengths: np.ndarray, batch_size: int, max_tokens: int) -> list[np.ndarray]:
    """``order`` cut greedily into batches of at most ``batch_size`` reviews and ``max_tokens``
    padded tokens; a batch closes when the next review would break either bound."""
    if len(order) and int(lengths.max()) > max_tokens:
        raise ValueError(f"a review of {int(lengths.max())} tokens exceeds max_tokens={max_tokens}")
    batches, start, longest = [], 0, 0
    for position, index in enumerate(order):
        longest_with = max(longest, int(lengths[index]))
        if position > start and (position - start + 1 > batch_size or (position - start + 1) * longest_with > max_tokens):
            batches.append(order[start:position])
            start, longest_with = position, int(lengths[index])
        longest = longest_with
    if len(order):
        batches.append(order[start:])
    return batches


def check_token_budget(lengths: np.ndarray, max_tokens: int | None, world_size: int = 1) -> None:
    """Refuse a ``train.max_tokens`` that the longest review, times the processes, cannot fit.

    Every batch must hold its longest review; in distributed training it must hold one review
    per process too (each takes a shard), or batches of long reviews would be dropped.
    """
    if max_tokens is None or not len(lengths):
        return
    longest = max(int(np.max(lengths)), 1)
    needed = longest * world_size
    if max_tokens < needed:
        processes = f" for {world_size} training processes (one review each)" if world_size > 1 else ""
        raise ZooError(
            f"train.max_tokens is {max_tokens:,}, but the longest training review has {longest:,} tokens: "
            f"a batch needs at least {needed:,}{processes}. Raise train.max_tokens to at least "
            f"{needed:,}, or truncate reviews with data.max_length"
        )


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
