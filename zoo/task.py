"""The task: binary, multiclass or multilabel. One object decides everything that depends on it.

The number of outputs, the loss, probabilities from logits, the decision rule, metrics and the
shape of a prediction all follow from the task, so the trainer, ``zoo evaluate``, ``zoo
predict``, the classifier, the server and exports ask a :class:`Task` instead of branching on
the kind themselves.

- **binary** (two labels, one per text): one logit, sigmoid + binary cross-entropy; the label
  is ``labels[1]`` when the logit is at least 0. This is the reference IMDB model's computation.
- **multiclass** (several labels, one per text): one logit per class, softmax + cross-entropy,
  optional class weights for skewed data; the label is the most probable class.
- **multilabel** (any number of labels per text): one logit per label, a sigmoid each, binary
  cross-entropy summed over labels; every label whose probability reaches ``threshold``.

Importing this module needs NumPy only; torch is imported by the methods that train, so the
torch-free runtime can use the same probabilities and decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from zoo import metrics
from zoo.errors import DataError, SpecError, ZooError

if TYPE_CHECKING:
    import torch

TASKS = ("binary", "multiclass", "multilabel")


@dataclass(frozen=True)
class Task:
    """What a classifier predicts over ``labels``; see the module docstring for each kind."""

    labels: tuple[str, ...]
    threshold: float = 0.5
    class_weights: tuple[float, ...] | None = None
    name: ClassVar[str] = ""

    @property
    def num_outputs(self) -> int:
        """Logits per text."""
        return len(self.labels)

    # -- training (torch) -------------------------------------------------------------------

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """A batch's labels (``collate``'s float32) as the loss wants them."""
        return labels

    def loss(self, logits: torch.Tensor, targets: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
        """The training loss of a batch (summed over texts by default, for exact averaging)."""
        raise NotImplementedError

    def correct(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """How many texts of the batch are predicted right (every label, for multilabel)."""
        raise NotImplementedError

    def _weights(self, device: Any) -> torch.Tensor | None:
        import torch

        return None if self.class_weights is None else torch.tensor(self.class_weights, device=device)

    # -- prediction (NumPy) -------------------------------------------------------------------

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """``(n, len(labels))`` probabilities from the model's logits."""
        raise NotImplementedError

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        """Label ids ``(n,)``, or a multi-hot ``(n, labels)`` for multilabel."""
        return np.asarray(probabilities).argmax(1)

    def predictions(self, probabilities: np.ndarray, top_k: int | None = None) -> list[dict[str, Any]]:
        """One ``{"label", "probability", "probabilities"}`` per text.

        ``probability`` is that of the label given (for multilabel, of the most probable label);
        ``probabilities`` maps each label to its probability, most probable first, the ``top_k``
        first only when given.
        """
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
            # a caller's 0, -1 or "2" used to be read as 1 or 2 without a word
            raise ZooError(f"top_k must be a whole number of at least 1, not {top_k!r}")
        probabilities = np.asarray(probabilities, dtype=np.float64)
        decided = self.decide(probabilities)
        keep = len(self.labels) if top_k is None else min(int(top_k), len(self.labels))
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, :keep]
        results = []
        for row, ranked, decision in zip(probabilities.tolist(), order.tolist(), decided.tolist()):
            results.append({
                "label": self._label_of(decision),
                "probability": row[ranked[0]] if self.name == "multilabel" else row[decision],
                "probabilities": {self.labels[i]: row[i] for i in ranked},
            })
        return results

    def _label_of(self, decision: Any) -> Any:
        return self.labels[decision]

    def answers(self, logits: np.ndarray, top_k: int | None = None) -> list[dict[str, Any]]:
        """:meth:`predictions` from a model's logits, one per text; a text whose logits are NaN or
        infinite (the weights overflow on it) gets ``{"error": ...}`` instead: never a label."""
        logits = np.asarray(logits)
        finite = np.isfinite(logits).all(axis=tuple(range(1, logits.ndim)))
        answers = iter(self.predictions(self.probabilities(logits[finite]), top_k))
        return [next(answers) if ok else {"error": "the model's output for this text is NaN or infinite"}
                for ok in finite.tolist()]

    # -- evaluation ---------------------------------------------------------------------------

    def metrics(self, logits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
        """Loss and every metric of this task for a split's logits and true labels."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """Plain data for checkpoints, exports and ``/info`` (see :func:`task_from_dict`)."""
        data: dict[str, Any] = {"type": self.name, "labels": list(self.labels)}
        if self.name == "multilabel":
            data["threshold"] = self.threshold
        if self.class_weights is not None:
            data["class_weights"] = list(self.class_weights)
        return data


def _numeric(names: tuple[str, ...]) -> bool:
    try:
        [float(name) for name in names]
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Binary(Task):
    """Two labels: one logit; ``labels[1]`` is the positive label."""

    name: ClassVar[str] = "binary"

    @property
    def num_outputs(self) -> int:
        return 1

    def loss(self, logits, targets, reduction="sum"):
        import torch.nn.functional as F

        weight = None if self.class_weights is None else self._weights(logits.device)[targets.long()]
        return F.binary_cross_entropy_with_logits(logits, targets, weight=weight, reduction=reduction)

    def correct(self, logits, targets):
        return ((logits >= 0) == (targets >= 0.5)).sum()

    def probabilities(self, logits):
        logits = np.asarray(logits, dtype=np.float32).reshape(-1)
        positive = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        return np.stack([1.0 - positive, positive], axis=1)

    def decide(self, probabilities):
        return (np.asarray(probabilities)[:, 1] >= 0.5).astype(np.int64)

    def metrics(self, logits, labels):
        import torch
        import torch.nn.functional as F

        logits = np.asarray(logits, dtype=np.float32).reshape(-1)
        labels = np.asarray(labels, dtype=np.int64)
        loss = F.binary_cross_entropy_with_logits(
            torch.from_numpy(logits), torch.from_numpy(labels.astype(np.float32))
        ).item()
        predicted = (logits >= 0).astype(np.int64)
        found = metrics.single_label_metrics(labels, predicted, list(self.labels))
        positive = found["per_class"][self.labels[1]]
        return {"loss": loss, "accuracy": found["accuracy"], "precision": positive["precision"],
                "recall": positive["recall"], "f1": positive["f1"], "roc_auc": metrics.roc_auc(logits, labels),
                **{k: v for k, v in found.items() if k != "accuracy"}}


@dataclass(frozen=True)
class Multiclass(Task):
    """One label of several per text: softmax over one logit per class."""

    name: ClassVar[str] = "multiclass"

    def targets(self, labels):
        return labels.long()

    def loss(self, logits, targets, reduction="sum"):
        import torch.nn.functional as F

        return F.cross_entropy(logits, targets, weight=self._weights(logits.device), reduction=reduction)

    def correct(self, logits, targets):
        return (logits.argmax(1) == targets).sum()

    def probabilities(self, logits):
        logits = np.asarray(logits, dtype=np.float64)
        shifted = np.exp(logits - logits.max(1, keepdims=True))
        return shifted / shifted.sum(1, keepdims=True)

    def metrics(self, logits, labels):
        import torch
        import torch.nn.functional as F

        logits = np.asarray(logits, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.int64)
        loss = F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)).item()
        predicted = logits.argmax(1)
        found = {"loss": loss, **metrics.single_label_metrics(labels, predicted, list(self.labels))}
        if _numeric(self.labels):
            found.update(metrics.ordinal_metrics(labels, predicted, list(self.labels)))
        return found


@dataclass(frozen=True)
class Multilabel(Task):
    """Any number of labels per text: one sigmoid per label, each decided by ``threshold``."""

    name: ClassVar[str] = "multilabel"

    def targets(self, labels):
        if labels.dim() == 1:  # single-label data trained as multilabel: one-hot targets
            import torch.nn.functional as F

            return F.one_hot(labels.long(), len(self.labels)).float()
        return labels

    def loss(self, logits, targets, reduction="sum"):
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits(logits, targets, reduction=reduction)

    def _logit_threshold(self) -> float:
        return float(np.log(self.threshold / (1.0 - self.threshold)))

    def correct(self, logits, targets):
        return ((logits >= self._logit_threshold()) == (targets >= 0.5)).all(1).sum()

    def probabilities(self, logits):
        return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))

    def decide(self, probabilities):
        return np.asarray(probabilities) >= self.threshold

    def _label_of(self, decision):
        return [label for label, chosen in zip(self.labels, decision) if chosen]

    def metrics(self, logits, labels):
        import torch
        import torch.nn.functional as F

        logits = np.asarray(logits, dtype=np.float32)
        true = _multi_hot(np.asarray(labels), len(self.labels))
        # the mean over texts of the loss summed over labels, as in training
        loss = F.binary_cross_entropy_with_logits(
            torch.from_numpy(logits), torch.from_numpy(true.astype(np.float32)), reduction="sum"
        ).item() / max(len(true), 1)
        predicted = logits >= self._logit_threshold()
        return {"loss": loss, **metrics.multilabel_metrics(true, predicted, list(self.labels))}


def _multi_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    if labels.ndim == 2:
        return labels.astype(bool)
    hot = np.zeros((len(labels), classes), dtype=bool)
    hot[np.arange(len(labels)), labels.astype(np.int64)] = True
    return hot


_KINDS: dict[str, type[Task]] = {cls.name: cls for cls in (Binary, Multiclass, Multilabel)}


def task_from_dict(data: dict[str, Any]) -> Task:
    """The task recorded by :meth:`Task.to_dict` (in a checkpoint or an export)."""
    weights = data.get("class_weights")
    return _KINDS[data["type"]](
        labels=tuple(data["labels"]),
        threshold=float(data.get("threshold", 0.5)),
        class_weights=tuple(float(w) for w in weights) if weights is not None else None,
    )


def resolve_task(choice: Any, labels: list[str], multilabel: bool, train_labels: np.ndarray) -> Task:
    """The task for data with ``labels`` (``multilabel``: several per text) and the spec's
    ``task`` section (``choice``: its ``type``, ``threshold`` and ``class_weights``).

    ``auto``: multilabel data give a multilabel task, two labels binary, more multiclass.
    ``train_labels`` (the training split's label ids or multi-hot rows) size balanced weights.
    """
    kind = choice.type
    if len(labels) < 2:
        raise DataError(f"the data have {len(labels)} label(s) ({', '.join(labels)}); a classifier needs two or more")
    if kind == "auto":
        kind = "multilabel" if multilabel else ("binary" if len(labels) == 2 else "multiclass")
    if multilabel and kind != "multilabel":
        raise SpecError([("task", f"the data hold several labels per text (multilabel), so task {kind!r} "
                                  "cannot train on them; use task: multilabel or task: auto")])
    if kind == "binary" and len(labels) != 2:
        raise SpecError([("task", f"binary needs exactly two labels; the data have {len(labels)} "
                                  f"({', '.join(labels)}): use task: multiclass or task: auto")])
    weights = _class_weights(choice.class_weights, kind, labels, train_labels)
    return _KINDS[kind](labels=tuple(labels), threshold=choice.threshold, class_weights=weights)


def _class_weights(
    setting: str | dict[str, float] | None, kind: str, labels: list[str], train_labels: np.ndarray
) -> tuple[float, ...] | None:
    if setting is None:
        return None
    if kind == "multilabel":
        raise SpecError([("task.class_weights", "applies to binary and multiclass tasks, not multilabel")])
    if setting == "balanced":
        counts = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=len(labels))
        if (counts == 0).any():
            missing = [label for label, n in zip(labels, counts) if n == 0]
            raise DataError(f"balanced class weights need every class in training; none of: {', '.join(missing)}")
        return tuple(float(w) for w in counts.sum() / (len(labels) * counts))
    unknown = sorted(set(setting) - set(labels))
    if unknown:
        raise SpecError([("task.class_weights", f"unknown label(s) {', '.join(map(repr, unknown))}; the labels "
                                                f"are: {', '.join(labels)}")])
    return tuple(float(setting.get(label, 1.0)) for label in labels)
