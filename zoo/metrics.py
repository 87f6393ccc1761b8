"""Classification metrics from label ids, decisions and scores (NumPy in, plain floats out).

Pure NumPy so that every consumer (training, ``zoo evaluate``, the torch-free runtime) computes
the same figures. Conventions, as in scikit-learn: a precision, recall or F1 whose denominator is
zero is 0.0; ``macro`` averages classes equally, ``weighted`` by their support, ``micro`` pools
every decision. Rank statistics (ROC-AUC) take raw scores (logits), never rounded probabilities:
a sigmoid in float32 is exactly 1.0 for every logit above about 17, which would tie them.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """``(classes, classes)`` counts: rows are the true label, columns the predicted one."""
    true = np.asarray(true, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    return np.bincount(true * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _f1(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    return _ratio(2 * precision * recall, precision + recall)


def class_scores(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support, and their macro, micro and weighted F1."""
    tp, fp, fn = (np.asarray(a, dtype=np.int64) for a in (tp, fp, fn))
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _f1(precision, recall)
    support = tp + fn
    micro_p, micro_r = _ratio(tp.sum(), tp.sum() + fp.sum()), _ratio(tp.sum(), tp.sum() + fn.sum())
    return {
        "macro_f1": float(f1.mean()) if len(f1) else 0.0,
        "micro_f1": float(_f1(micro_p, micro_r)),
        "weighted_f1": float((f1 * support).sum() / support.sum()) if support.sum() else 0.0,
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(names)
        },
    }


def single_label_metrics(true: np.ndarray, predicted: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Accuracy, F1 averages, per-class scores and the confusion matrix of one label per text."""
    true = np.asarray(true, dtype=np.int64)
    confusion = confusion_matrix(true, predicted, len(names))
    tp = np.diag(confusion)
    scores = class_scores(tp, confusion.sum(0) - tp, confusion.sum(1) - tp, names)
    return {
        "accuracy": float(tp.sum() / len(true)) if len(true) else 0.0,
        **scores,
        "confusion": confusion.tolist(),
        "count": int(len(true)),
    }


def ordinal_metrics(true: np.ndarray, predicted: np.ndarray, names: list[str]) -> dict[str, Any]:
    """For labels that are numbers (star ratings): mean absolute error and accuracy within one,
    both in the labels' own units (a 4 predicted for a 3 is off by one; a 7 for a 4, by three)."""
    values = np.array([float(name) for name in names])
    error = np.abs(values[np.asarray(true, dtype=np.int64)] - values[np.asarray(predicted, dtype=np.int64)])
    return {"mean_absolute_error": float(error.mean()) if len(error) else 0.0,
            "accuracy_within_1": float((error <= 1).mean()) if len(error) else 0.0}


def multilabel_metrics(true: np.ndarray, predicted: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Subset accuracy (every label right), Hamming loss, F1 averages and per-label scores."""
    true = np.asarray(true, dtype=bool)
    predicted = np.asarray(predicted, dtype=bool)
    tp = (true & predicted).sum(0)
    fp = (~true & predicted).sum(0)
    fn = (true & ~predicted).sum(0)
    subset = float((true == predicted).all(1).mean()) if len(true) else 0.0
    return {
        "accuracy": subset,
        "subset_accuracy": subset,
        "hamming_loss": float((true != predicted).mean()) if true.size else 0.0,
        **class_scores(tp, fp, fn, names),
        "count": int(len(true)),
    }


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``, ties sharing the mean of their ranks."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0  # ranks start..end-1, 1-based: mean = (start+1 + end) / 2
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve as the Mann-Whitney statistic (ties count one half).

    ``scores`` should be logits (monotone in the probability, and exact); ``None`` when only one
    class is present, since the area is undefined there.
    """
    labels = np.asarray(labels)
    positives = int((labels == 1).sum())
    negatives = int(len(labels) - positives)
    if positives == 0 or negatives == 0:
        return None
    rank_sum = average_ranks(scores)[labels == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))
