"""Seeded random picks that keep the classes in proportion, for held-out splits of any dataset.

The IMDB reader draws its validation reviews with it; the ``table`` dataset draws its
validation and test rows with it when no file is given for them.
"""

from __future__ import annotations

import numpy as np


def stratified_pick(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random indices with the classes in proportion (largest remainders round).

    Indices come grouped by class (in the order of :func:`numpy.unique`); sort them if their
    order matters.
    """
    classes, counts = np.unique(labels, return_counts=True)
    exact = n * counts / counts.sum()
    take = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - take), kind="stable")[: n - take.sum()]:
        take[i] += 1
    order = rng.permutation(len(labels))
    picked = [order[labels[order] == c][:k] for c, k in zip(classes, take, strict=True)]
    return np.concatenate(picked)
