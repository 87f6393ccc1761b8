"""Texts to token ids, fast: worker processes for large inputs, a flat array layout, ``.npz`` files.

An :class:`EncodedSplit` holds the ids of all its reviews concatenated in one ``int32`` array
with ``offsets`` (review ``i`` is ``ids[offsets[i]:offsets[i+1]]``): 20,000 reviews take one
array instead of 20,000 Python lists, slice and batch in numpy, and save and load in
milliseconds as ``.npz`` (read with ``allow_pickle=False``).

Tokenizing is done by :func:`tokenize_table`: each chunk of texts is tokenized (in a worker
process when there are many) into ids over a chunk-local token table, and the chunks are merged
in order into one table in order of first appearance, so the result does not depend on the
number of workers; :mod:`zoo.data.prepare` caches that result. Prediction has its vocabulary
already: :func:`encode_texts` looks each token up as it comes, chunk by chunk the same way.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data.vocab import Vocab
from zoo.errors import ZooError
from zoo.io import atomic_write
from zoo.signals import held

#: Texts per task sent to a worker process.
CHUNK = 512
#: Below this many texts, tokenizing in-process beats starting workers.
POOL_THRESHOLD = 4000
#: How often, while waiting for a worker's chunk, the pool's workers are checked to be alive.
WATCH_SECONDS = 0.5

Tokenizer = Callable[[str], list[str]]


@dataclass
class EncodedSplit:
    """Token ids of ``n`` texts: ``ids`` (int32, flat), ``offsets`` (int64, n+1), ``labels``.

    ``labels`` are int64 label ids, ``-1`` where unknown (texts encoded for prediction); for
    multi-label data, a multi-hot int8 array of shape ``(n, number of labels)``.
    """

    ids: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.ids = np.ascontiguousarray(self.ids, dtype=np.int32)
        self.offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        labels = np.asarray(self.labels)
        self.labels = np.ascontiguousarray(labels, dtype=np.int8 if labels.ndim == 2 else np.int64)
        n = len(self.offsets) - 1
        if (n < 0 or self.labels.ndim > 2 or len(self.labels) != n or self.offsets[0] != 0
                or self.offsets[-1] != len(self.ids)):
            raise ValueError(
                f"inconsistent EncodedSplit: {len(self.ids)} ids, {len(self.offsets)} offsets, "
                f"{len(self.labels)} labels"
            )

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def multilabel(self) -> bool:
        """Whether ``labels`` are multi-hot rows (a set of labels per text)."""
        return self.labels.ndim == 2

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per text (int64)."""
        return np.diff(self.offsets)

    def __getitem__(self, i: int) -> np.ndarray:
        """The ids of text ``i``."""
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def subset(self, indices: Sequence[int] | np.ndarray) -> EncodedSplit:
        """The texts at ``indices`` (in that order) as a new split."""
        indices = np.asarray(indices, dtype=np.int64)
        return EncodedSplit(
            gather(self.ids, self.offsets, indices), _offsets(self.lengths[indices]), self.labels[indices]
        )

    def map_ids(self, mapping: np.ndarray) -> EncodedSplit:
        """The same texts with every id ``i`` replaced by ``mapping[i]``."""
        return EncodedSplit(mapping[self.ids], self.offsets, self.labels)

    @classmethod
    def concat(cls, splits: Sequence[EncodedSplit]) -> EncodedSplit:
        if not splits:
            return cls.empty()
        lengths = np.concatenate([s.lengths for s in splits])
        return cls(
            np.concatenate([s.ids for s in splits]),
            _offsets(lengths),
            np.concatenate([s.labels for s in splits]),
        )

    @classmethod
    def empty(cls) -> EncodedSplit:
        return cls(np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(0, np.int64))

    def save(self, path: str | Path) -> Path:
        """Write as ``.npz`` atomically."""
        return atomic_write(
            path, lambda f: np.savez(f, ids=self.ids, offsets=self.offsets, labels=self.labels)
        )

    @classmethod
    def load(cls, path: str | Path) -> EncodedSplit:
        """Read a split written by :meth:`save` (no pickles are ever loaded)."""
        with np.load(path, allow_pickle=False) as data:
            return cls(data["ids"], data["offsets"], data["labels"])


def _offsets(lengths: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def gather(ids: np.ndarray, offsets: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The ids of texts ``indices`` concatenated, without a Python loop over texts."""
    lengths = offsets[indices + 1] - offsets[indices]
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=ids.dtype)
    starts = np.repeat(offsets[indices] - (np.cumsum(lengths) - lengths), lengths)
    return ids[starts + np.arange(total)]


# ---------------------------------------------------------------------------------------------
# Tokenizing


@dataclass
class TokenTable:
    """Texts tokenized once: ``tokens`` (each distinct token, in order of first appearance),
    ``ids`` (int32 indices into ``tokens``) and ``offsets`` as in :class:`EncodedSplit`."""

    tokens: list[str]
    ids: np.ndarray
    offsets: np.ndarray

    def split(self, sizes: Sequence[int], labels: Sequence[np.ndarray]) -> list[EncodedSplit]:
        """Cut into consecutive splits of ``sizes`` texts (ids still index ``tokens``)."""
        out, start = [], 0
        for size, label in zip(sizes, labels, strict=True):
            lo, hi = self.offsets[start], self.offsets[start + size]
            out.append(EncodedSplit(self.ids[lo:hi], self.offsets[start : start + size + 1] - lo, label))
            start += size
        return out


_TEXTS: Sequence[str] = ()
_TOKENIZER: Tokenizer | None = None
_VOCAB: Any = None


def _init_worker(texts: Sequence[str], tokenizer: Tokenizer, vocab: Any = None) -> None:
    global _TEXTS, _TOKENIZER, _VOCAB
    _TEXTS, _TOKENIZER, _VOCAB = texts, tokenizer, vocab


def _init_pool_worker(texts: Sequence[str], tokenizer: Tokenizer, vocab: Any) -> None:
    """A pool worker's start: the texts, tokenizer and vocabulary, and SIGTERM back to its
    default. The pool stops its workers with SIGTERM, and a handler inherited from the parent
    (``zoo`` turns SIGTERM into an exception to unwind the command) would have to run in Python
    first, while a worker blocked on the pool's queue lock may never get there."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _init_worker(texts, tokenizer, vocab)


def _tokenize_chunk(bounds: tuple[int, int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Tokenize ``_TEXTS[start:end]`` into ids over a chunk-local table."""
    start, end = bounds
    local: dict[str, int] = {}
    get = local.setdefault
    tokenizer = _TOKENIZER
    ids: list[int] = []
    lengths = np.empty(end - start, dtype=np.int64)
    for k, text in enumerate(_TEXTS[start:end]):
        tokens = tokenizer(text)  # type: ignore[misc]
        ids.extend([get(t, len(local)) for t in tokens])
        lengths[k] = len(tokens)
    return list(local), np.asarray(ids, dtype=np.int32), lengths


def _encode_chunk(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Tokenize ``_TEXTS[start:end]`` straight into ``_VOCAB``'s ids: ``(ids, lengths)``.

    Prediction needs no token table: each token is looked up once, as it comes, in C
    (``array.extend`` over the vocabulary's lookup) rather than entered in a chunk-local table,
    remapped, and mapped through the vocabulary again.
    """
    start, end = bounds
    tokenizer, encode = _TOKENIZER, _VOCAB.encode
    ids = array("i")
    lengths = np.empty(end - start, dtype=np.int64)
    for k, text in enumerate(_TEXTS[start:end]):
        tokens = tokenizer(text)  # type: ignore[misc]
        ids.extend(encode(tokens))
        lengths[k] = len(tokens)
    return np.frombuffer(ids, dtype=np.int32) if len(ids) else np.zeros(0, np.int32), lengths


def default_workers(n_texts: int) -> int:
    """Worker processes for ``n_texts``: 1 (in-process) when small, else the usable CPUs (≤ 8).

    Also 1 inside a daemonic process (a worker of the caller's own ``multiprocessing.Pool``
    calling ``zoo.load(RUN).predict``), which multiprocessing forbids to start children.
    """
    if n_texts < POOL_THRESHOLD or multiprocessing.current_process().daemon:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def _chunks(
    texts: Sequence[str], tokenizer: Tokenizer, workers: int | None,
    work: Callable[[tuple[int, int]], Any] = _tokenize_chunk, vocab: Any = None,
) -> Iterator[Any]:
    """``work(bounds)`` for each chunk of ``texts``, in order; in ``workers`` processes when more
    than one (default: :func:`default_workers`)."""
    if workers is None:
        workers = default_workers(len(texts))
    bounds = [(i, min(i + CHUNK, len(texts))) for i in range(0, len(texts), CHUNK)]
    if workers <= 1 or len(bounds) <= 1:
        _init_worker(texts, tokenizer, vocab)
        try:
            yield from map(work, bounds)
        finally:
            _init_worker((), None)  # type: ignore[arg-type]
        return
    methods = multiprocessing.get_all_start_methods()
    # fork shares the texts with the workers without pickling them; elsewhere they are sent once.
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with held():  # a SIGTERM while the workers fork is raised once they have
        pool = context.Pool(workers, initializer=_init_pool_worker, initargs=(texts, tokenizer, vocab))
    with pool:
        yield from _watched(pool, pool.imap(work, bounds))


def _watched(pool: Any, results: Any) -> Iterator[Any]:
    """``results`` of ``pool.imap``, or an error once one of the pool's workers has died.

    A worker killed (by the kernel out of memory, by hand, by a tokenizer that crashes the
    interpreter) takes its chunk with it, and ``imap`` would wait for that chunk forever: the
    pool starts a replacement but never resends the work. Workers do not end on their own, so
    any exit status among those started is such a death.
    """
    workers = list(pool._pool)  # the processes started; the pool replaces a dead one silently
    while True:
        try:
            yield results.next(timeout=WATCH_SECONDS)
        except StopIteration:
            return
        except multiprocessing.TimeoutError:
            dead = [w for w in workers if w.exitcode is not None]
            if dead:
                raise ZooError(f"a worker process tokenizing the texts died (exit status {dead[0].exitcode}); "
                               "the texts were not encoded") from None


def tokenize_table(
    texts: Sequence[str],
    tokenizer: Tokenizer,
    *,
    workers: int | None = None,
    progress: Callable[[int], Any] | None = None,
) -> TokenTable:
    """Tokenize every text once; ``progress(n)`` is called as each chunk of ``n`` texts is done.

    The result is the same whatever ``workers`` is (default: :func:`default_workers`).
    """
    table: dict[str, int] = {}
    parts: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    for local_tokens, local_ids, chunk_lengths in _chunks(texts, tokenizer, workers):
        get = table.setdefault
        remap = np.fromiter(
            (get(t, len(table)) for t in local_tokens), dtype=np.int32, count=len(local_tokens)
        )
        parts.append(remap[local_ids] if len(local_ids) else local_ids)
        lengths.append(chunk_lengths)
        if progress is not None:
            progress(len(chunk_lengths))
    ids = np.concatenate(parts) if parts else np.zeros(0, np.int32)
    offsets = _offsets(np.concatenate(lengths) if lengths else np.zeros(0, np.int64))
    return TokenTable(list(table), ids.astype(np.int32, copy=False), offsets)


def vocab_mapping(tokens: Sequence[str], vocab: Any) -> np.ndarray:
    """``mapping[i]`` = the vocabulary id of ``tokens[i]`` (``<unk>`` when not in ``vocab``)."""
    return np.fromiter((vocab[t] for t in tokens), dtype=np.int32, count=len(tokens))


def require_texts(texts: Sequence[Any]) -> list[str]:
    """``texts`` as a list, each checked to be a string (a caller's mistake named by position).

    One string is refused rather than read as a sequence: ``predict("a review")`` would
    otherwise label each of its characters."""
    from zoo.errors import ZooError

    if isinstance(texts, (str, bytes)):
        raise ZooError(f"texts must be a list of strings, not one {type(texts).__name__}; "
                       "for a single text, pass [text]")
    texts = list(texts)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise ZooError(f"text {position} is a {type(text).__name__}, not a string")
    return texts


def encode_texts(
    texts: Sequence[str],
    tokenizer: Tokenizer,
    vocab: Vocab,
    labels: Sequence[int] | np.ndarray | None = None,
    *,
    workers: int | None = None,
) -> EncodedSplit:
    """Tokenize ``texts`` and map them through ``vocab`` (prediction, evaluation of new data).

    ``labels`` default to ``-1`` (unknown); ids, or multi-hot rows for multi-label data. Large
    inputs use worker processes. The ids are those of tokenizing each text and encoding its
    tokens with :meth:`Vocab.encode <zoo.data.vocab.Vocab.encode>`.
    """
    texts = list(texts)
    label_array = np.full(len(texts), -1, np.int64) if labels is None else np.asarray(labels)
    if len(label_array) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(label_array)} labels")
    parts = list(_chunks(texts, tokenizer, workers, _encode_chunk, vocab))
    ids = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int32)
    lengths = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    return EncodedSplit(ids, _offsets(lengths), label_array)
