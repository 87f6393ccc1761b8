"""The vocabulary: ids, order, tie-break, min_freq, max_size, unknown words, persistence."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal

import numpy as np
import pytest

from zoo.data.encode import EncodedSplit, encode_texts, tokenize_table
from zoo.data.vocab import Vocab
from zoo.errors import DataError, ZooError
from zoo.signals import on_sigterm

DOCS = [["b", "a", "c"], ["a", "b", "e"], ["d", "e", "e"], ["zz"]]
# counts: e 3, a 2, b 2, c 1, d 1, zz 1  -> ties broken by the token string


def test_specials_then_descending_count_with_alphabetical_tie_break():
    vocab = Vocab.build(DOCS)
    assert vocab.tokens == ["<pad>", "<unk>", "e", "a", "b", "c", "d", "zz"]
    assert (Vocab.PAD, Vocab.UNK) == (0, 1)
    assert len(vocab) == 8
    assert vocab.counts == [0, 0, 3, 2, 2, 1, 1, 1]


def test_min_freq_and_max_size():
    assert Vocab.build(DOCS, min_freq=2).tokens == ["<pad>", "<unk>", "e", "a", "b"]
    assert Vocab.build(DOCS, max_size=4).tokens == ["<pad>", "<unk>", "e", "a", "b", "c"]
    assert Vocab.build(DOCS, min_freq=3, max_size=10).tokens == ["<pad>", "<unk>", "e"]


def test_unknown_words_and_a_literal_pad_token_map_to_unk():
    vocab = Vocab.build(DOCS)
    assert vocab.encode(["a", "never-seen", "e", "<pad>", "<unk>"]) == [3, 1, 2, 1, 1]
    assert vocab["never-seen"] == Vocab.UNK
    assert vocab.decode([2, 3, 1]) == ["e", "a", "<unk>"]


def test_order_does_not_depend_on_input_order():
    assert Vocab.build(reversed(DOCS)).tokens == Vocab.build(DOCS).tokens


def test_save_and_load_round_trip_atomically(tmp_path):
    vocab = Vocab.build(DOCS + [["ünïcode", "😀"]])
    path = vocab.save(tmp_path / "sub" / "vocab.json")
    assert Vocab.load(path) == vocab
    assert Vocab.load(path).counts == vocab.counts
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == "zoo-vocab"
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]  # no temporary left


def test_loading_a_broken_vocabulary_is_a_data_error(tmp_path):
    (tmp_path / "v.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="v.json"):
        Vocab.load(tmp_path / "v.json")
    with pytest.raises(DataError, match="does not exist"):
        Vocab.load(tmp_path / "missing.json")


def _split(tokens_per_text):
    vocab = Vocab.build(tokens_per_text)
    return encode_texts([" ".join(t) for t in tokens_per_text], str.split, vocab, labels=[0, 1, 0, 1])


def test_encoded_split_layout_subset_and_npz_round_trip(tmp_path):
    split = _split(DOCS)
    assert split.ids.dtype == np.int32 and split.offsets.dtype == np.int64
    assert split.lengths.tolist() == [3, 3, 3, 1]
    assert split[3].tolist() == [7]
    sub = split.subset([3, 0])
    assert sub.lengths.tolist() == [1, 3]
    assert sub[1].tolist() == split[0].tolist()
    assert sub.labels.tolist() == [1, 0]
    loaded = EncodedSplit.load(split.save(tmp_path / "s.npz"))
    assert np.array_equal(loaded.ids, split.ids) and np.array_equal(loaded.offsets, split.offsets)


def test_encode_texts_defaults_labels_to_unknown_and_maps_unknown_words():
    vocab = Vocab.build([["a", "b"]])
    split = encode_texts(["a x b", ""], str.split, vocab)
    assert split[0].tolist() == [2, 1, 3]
    assert split.lengths.tolist() == [3, 0]
    assert split.labels.tolist() == [-1, -1]


def test_tokenizing_in_worker_processes_gives_the_same_result():
    texts = [f"w{i % 13} w{i % 7} shared w{i % 1000}" for i in range(1500)]  # 3 chunks
    one = tokenize_table(texts, str.split, workers=1)
    two = tokenize_table(texts, str.split, workers=2)
    assert one.tokens == two.tokens
    assert np.array_equal(one.ids, two.ids) and np.array_equal(one.offsets, two.offsets)
    assert [one.tokens[i] for i in one.ids[one.offsets[5] : one.offsets[6]]] == texts[5].split()


def _sigterm_disposition(text: str) -> list[str]:
    """A tokenizer that answers with how the process it runs in handles SIGTERM."""
    return ["default" if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL else "handled"]


def test_tokenizer_workers_die_of_sigterm_whatever_the_parent_handles():
    """The pool stops its workers with SIGTERM; one that inherited zoo's Python-level handler and
    sat blocked on the pool's queue lock hung the pool's exit (seen once in the suite)."""
    previous = signal.signal(signal.SIGTERM, on_sigterm(os.getpid()))
    try:
        table = tokenize_table(["a b"] * 1500, _sigterm_disposition, workers=2)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert table.tokens == ["default"]


def _die_in_a_worker(text: str) -> list[str]:
    """A tokenizer that kills the worker process tokenizing ``"die"`` (as the OOM killer would)."""
    if text == "die" and multiprocessing.parent_process() is not None:
        os.kill(os.getpid(), signal.SIGKILL)
    return text.split()


def test_a_worker_that_dies_is_an_error_not_a_hang():
    """multiprocessing.Pool never resends a dead worker's chunk: encoding must say so, not wait."""
    vocab = Vocab(["<pad>", "<unk>", "a"])
    with pytest.raises(ZooError, match="worker process tokenizing the texts died"):
        encode_texts(["a b"] * 1_100 + ["die"], _die_in_a_worker, vocab, workers=2)


def _encode_many(n: int) -> int:
    vocab = Vocab(["<pad>", "<unk>", "a"])
    return len(encode_texts(["a b"] * n, str.split, vocab))


def test_many_texts_encode_inside_a_daemonic_process():
    """``zoo.load(RUN).predict`` of 4,000 texts or more from a worker of the caller's own
    multiprocessing.Pool: a daemonic process may not start the tokenizing workers, so it encodes
    in-process instead of failing with an AssertionError."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map(_encode_many, [4_001]) == [4_001]
