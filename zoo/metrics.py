"""Binary classification metrics from probabilities and labels (NumPy in, floats out)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def binary_metrics(probabilities: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall, F1, ROC-AUC and the confusion matrix of the positive class.

    ``confusion`` is ``[[tn, fp], [fn, tp]]`` (rows: true label, columns: predicted label).
    Precision, recall and F1 are 0.0 where their denominator is zero; ROC-AUC is ``None`` when
    only one class is present, since it is undefined there.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    predicted = (probabilities >= threshold).astype(np.int64)
    tp = int(((predicted == 1) & (labels == 1)).sum())
    tn = int(((predicted == 0) & (labels == 0)).sum())
    fp = int(((predicted == 1) & (labels == 0)).sum())
    fn = int(((predicted == 0) & (labels == 1)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": (tp + tn) / len(labels) if len(labels) else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": roc_auc(probabilities, labels),
        "confusion": [[tn, fp], [fn, tp]],
        "count": int(len(labels)),
    }


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve as the Mann-Whitney statistic (ties count one half)."""
    labels = np.asarray(labels)
    positives = int((labels == 1).sum())
    negatives = int(len(labels) - positives)
    if positives == 0 or negatives == 0:
        return None
    ranks = pd.Series(np.asarray(scores, dtype=np.float64)).rank(method="average").to_numpy()
    rank_sum = ranks[labels == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))
