"""What a dataset plugin provides.

A dataset component is registered like any other (``registry.register("dataset", name,
config=..., factory=...)``); ``factory(config)`` returns an object following :class:`Dataset`.
zoo then does the rest the same way for every dataset: the ``data.limit`` subset, tokenizing
once into the cache, the vocabulary from the training split, batching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

SPLITS: tuple[str, ...] = ("train", "valid", "test")


@dataclass
class RawSplit:
    """The texts of one split and their label ids (indices into :attr:`Dataset.labels`).

    For a multi-label dataset each item of ``labels`` is a list of ids (at least one) instead.
    """

    texts: list[str] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: list[int]) -> RawSplit:
        """The reviews at ``indices``, in that order."""
        return RawSplit([self.texts[i] for i in indices], [self.labels[i] for i in indices])


@runtime_checkable
class Dataset(Protocol):
    """A labelled text dataset split into ``train``, ``valid`` and ``test``.

    - ``labels``: the label names by id, e.g. ``["neg", "pos"]`` (neg = 0, pos = 1). A dataset
      that learns its labels from the data may set them in ``load()``; zoo reads them after it.
    - ``fingerprint(source)``: a cheap string that changes whenever the data would (a path with
      its size and modification time, a URL with its checksum); it keys the token cache, so it
      must not read the whole data and must not need the network.
    - ``load(source, cache_dir, seed=...)``: the three splits. ``source`` is the spec's
      ``data.source`` (``None``: the dataset's own default), ``cache_dir`` the root of zoo's
      cache for anything the dataset downloads or extracts, ``seed`` the spec's ``data.seed`` for
      any random split. Problems the user can fix raise :class:`zoo.errors.DataError`.

    Optionally ``describe(source) -> str``: a human-readable origin for ``zoo data`` output, and
    ``multilabel: bool`` (absent: false), read after ``load()``: each text carries a set of
    labels, and each item of a split's ``labels`` is a list of ids (sorted or not, at least one)
    rather than one id. zoo stores them as multi-hot rows (see :mod:`zoo.data.prepare`).
    ``load`` may take a keyword ``limit`` (``data.limit``): it then returns only the subset
    :func:`zoo.data.prepare.balanced_subset` keeps of each split, having read only those texts.
    ``source_env: str`` names an environment variable naming the data locally; for ``zoo
    evaluate`` and ``--resume`` it replaces a run's recorded ``data.source`` (see
    :func:`zoo.rundir.with_data_source`).
    """

    labels: list[str]

    def fingerprint(self, source: str | None) -> str: ...

    def load(self, source: str | None, cache_dir: Path, *, seed: int = 1) -> dict[str, RawSplit]: ...
