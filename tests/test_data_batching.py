"""Batches: exact padding, truncation, empty reviews, bucketing, determinism, distributed shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo.data.batching import batch_indices, collate, padding_stats
from zoo.data.encode import EncodedSplit
from zoo.data.vocab import Vocab


def make_split(lengths, seed=0):
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    ids = rng.integers(2, 50, size=int(offsets[-1]), dtype=np.int32)
    labels = np.arange(len(lengths)) % 2
    return EncodedSplit(ids, offsets, labels)


def naive_padded(split, indices, max_length=None):
    rows = [list(split[i][:max_length]) if max_length else list(split[i]) for i in indices]
    rows = [row or [Vocab.UNK] for row in rows]
    width = max(len(r) for r in rows)
    return [r + [0] * (width - len(r)) for r in rows], [len(r) for r in rows]


def test_collate_pads_exactly_like_the_naive_loop():
    split = make_split([5, 1, 7, 3, 2])
    batch = collate(split, np.array([2, 0, 4]))
    expected, lengths = naive_padded(split, [2, 0, 4])
    assert batch.ids.dtype == torch.int64 and batch.ids.tolist() == expected
    assert batch.lengths.tolist() == lengths == [7, 5, 2]
    assert batch.labels.dtype == torch.float32 and batch.labels.tolist() == [0.0, 0.0, 0.0]
    assert batch.index.tolist() == [2, 0, 4]
    assert len(batch) == 3


def test_max_length_keeps_the_first_tokens():
    split = make_split([5, 1, 7])
    batch = collate(split, np.array([0, 1, 2]), max_length=3)
    expected, lengths = naive_padded(split, [0, 1, 2], max_length=3)
    assert batch.ids.shape == (3, 3)
    assert batch.ids.tolist() == expected and batch.lengths.tolist() == lengths == [3, 1, 3]


def test_a_review_without_tokens_becomes_one_unk_token():
    split = make_split([0, 2, 0])
    batch = collate(split, np.array([0, 1, 2]))
    assert batch.lengths.tolist() == [1, 2, 1]
    assert batch.ids[0].tolist() == [Vocab.UNK, 0] and batch.ids[2, 0] == Vocab.UNK
    only_empty = collate(split, np.array([0]))
    assert only_empty.ids.tolist() == [[Vocab.UNK]]


def _lengths(n=2000, seed=3):
    return np.random.default_rng(seed).lognormal(5, 0.8, size=n).astype(np.int64) + 1


@pytest.mark.parametrize("bucketing", [False, True])
def test_every_index_exactly_once_and_deterministic(bucketing):
    lengths = _lengths(1003)
    kw = dict(shuffle=True, bucketing=bucketing, pool=4, seed=7)
    batches = batch_indices(lengths, 32, epoch=0, **kw)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1003))
    assert [len(b) for b in batches].count(32) == 31
    again = batch_indices(lengths, 32, epoch=0, **kw)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
    other_epoch = batch_indices(lengths, 32, epoch=1, **kw)
    assert not np.array_equal(np.concatenate(other_epoch), flat)


def test_bucketing_computes_far_less_padding_than_random_batches():
    lengths = _lengths()
    plain = padding_stats(lengths, batch_indices(lengths, 32, shuffle=True, bucketing=False, seed=1))
    bucketed = padding_stats(
        lengths, batch_indices(lengths, 32, shuffle=True, bucketing=True, pool=20, seed=1)
    )
    assert plain["real"] == bucketed["real"] == int(lengths.sum())
    assert bucketed["padded"] < 0.4 * plain["padded"]
    assert bucketed["padding_fraction"] < 0.3 and plain["padding_fraction"] > 0.6


def test_bucketed_batches_hold_similar_lengths_in_a_shuffled_order():
    lengths = _lengths()
    batches = batch_indices(lengths, 32, shuffle=True, bucketing=True, pool=100, seed=1)
    maxima = [lengths[b].max() for b in batches]
    assert maxima != sorted(maxima)  # batch order is shuffled, not longest-last


def test_evaluation_bucketing_sorts_by_length_and_index_maps_back():
    split = make_split([4, 9, 1, 6, 2])
    batches = [collate(split, b) for b in batch_indices(split.lengths, 2, shuffle=False, bucketing=True)]
    assert [b.index.tolist() for b in batches] == [[2, 4], [0, 3], [1]]
    for batch in batches:
        for row, i in enumerate(batch.index):
            assert batch.ids[row, : batch.lengths[row]].tolist() == split[i].tolist()
    unbucketed = batch_indices(split.lengths, 2, shuffle=False, bucketing=False)
    assert [b.tolist() for b in unbucketed] == [[0, 1], [2, 3], [4]]


def test_collate_truncates_to_max_length():
    split = make_split([12, 3, 8, 20, 1])
    batches = [collate(split, b, max_length=5)
               for b in batch_indices(split.lengths, 2, shuffle=True, bucketing=True, seed=0)]
    assert sum(len(b) for b in batches) == 5
    assert max(b.ids.shape[1] for b in batches) == 5
    assert all(int(b.lengths.max()) <= 5 for b in batches)


# --- token-budget batches (train.max_tokens) -----------------------------------------------------


def test_token_budget_cuts_greedily_in_order_by_hand():
    lengths = np.array([5, 1, 1, 4, 2, 6])
    # [5] (a second review would pad to 2 x 5 = 10 > 8), [1, 1] (then 3 x 4 = 12), [4, 2] (2 x 4 = 8),
    # [6] (3 x 6 > 8): at most 8 padded tokens and at most batch_size = 3 reviews each
    batches = batch_indices(lengths, 3, shuffle=False, bucketing=False, max_tokens=8)
    assert [b.tolist() for b in batches] == [[0], [1, 2], [3, 4], [5]]
    assert [b.tolist() for b in batch_indices(np.ones(7, int), 3, shuffle=False, bucketing=False, max_tokens=100)] == [
        [0, 1, 2], [3, 4, 5], [6]]  # short reviews: batch_size still caps


@pytest.mark.parametrize("bucketing", [True, False])
def test_token_budget_batches_stay_within_it_hold_everything_once_and_are_deterministic(bucketing):
    lengths = _lengths()
    kwargs = dict(shuffle=True, bucketing=bucketing, pool=10, seed=5, max_tokens=4000)
    batches = batch_indices(lengths, 64, epoch=2, **kwargs)
    assert all(len(b) * lengths[b].max() <= 4000 and len(b) <= 64 for b in batches)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    assert [b.tolist() for b in batches] == [b.tolist() for b in batch_indices(lengths, 64, epoch=2, **kwargs)]
    assert [b.tolist() for b in batches] != [b.tolist() for b in batch_indices(lengths, 64, epoch=3, **kwargs)]
    if bucketing:  # long reviews come in small batches, short ones in full ones
        sizes = {len(b): lengths[b].max() for b in batches}
        assert max(sizes) == 64 and min(sizes) < 10


def test_without_a_token_budget_the_batches_are_the_plain_ones():
    lengths = _lengths()
    for shuffle, bucketing in [(True, True), (True, False), (False, True)]:
        plain = batch_indices(lengths, 32, shuffle=shuffle, bucketing=bucketing, pool=10, seed=1, epoch=4)
        off = batch_indices(lengths, 32, shuffle=shuffle, bucketing=bucketing, pool=10, seed=1, epoch=4, max_tokens=None)
        assert [b.tolist() for b in plain] == [b.tolist() for b in off]


def test_a_token_budget_below_the_longest_review_is_refused_with_the_fields_to_change():
    from zoo.data.batching import check_token_budget
    from zoo.errors import ZooError

    lengths = np.array([3, 900, 12])
    check_token_budget(lengths, 900)
    with pytest.raises(ZooError) as caught:
        check_token_budget(lengths, 899)
    assert "train.max_tokens is 899" in str(caught.value) and "900 tokens" in str(caught.value)
    assert "data.max_length" in str(caught.value)
    with pytest.raises(ZooError) as caught:  # two processes: every batch needs a review for each
        check_token_budget(lengths, 1000, world_size=2)
    assert "2 training processes" in str(caught.value) and "at least 1,800" in str(caught.value)
