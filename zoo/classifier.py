"""A trained run as a classifier: ``zoo.load(run_dir).predict(["a fine film", ...])``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel

from zoo.errors import ZooError
from zoo.model import TextClassifier, build_model
from zoo.rundir import RunDir
from zoo.task import Binary, Task, task_from_dict


@dataclass
class Classifier:
    """A model with the tokenizer, vocabulary and task it was trained with."""

    model: TextClassifier
    tokenizer: Any
    vocab: Any
    task: Task
    spec: BaseModel
    device: torch.device
    batch_size: int = 256

    @property
    def labels(self) -> list[str]:
        """The label names, in the order of the model's outputs."""
        return list(self.task.labels)

    def logits(self, texts: list[str]) -> np.ndarray:
        """The model's logits per text: ``(n,)`` for a binary task, else ``(n, labels)``."""
        from zoo.data.encode import encode_texts
        from zoo.trainer import predict_logits, supported_precision

        texts = list(texts)
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise ZooError(f"text {position} is a {type(text).__name__}, not a string")
        encoded = encode_texts(texts, self.tokenizer, self.vocab)
        return predict_logits(self.model, encoded, self.batch_size, self.device, self.spec.data.max_length,
                              precision=supported_precision(self.spec.train.precision, self.device),
                              shards=self.spec.train.cpu_shards)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """``(n, labels)``: each label's probability per text, columns in :attr:`labels` order."""
        return self.task.probabilities(self.logits(texts))

    def predict(self, texts: list[str], top_k: int | None = None) -> list[dict[str, Any]]:
        """``{"label", "probability", "probabilities"}`` per text (see :meth:`zoo.task.Task.predictions`).

        ``label`` is a list of labels for a multilabel task; ``top_k`` keeps the ``k`` most
        probable labels in ``probabilities``.
        """
        return self.task.predictions(self.probabilities(texts), top_k)


def load(run: str | Path, checkpoint: str = "best", device: str = "cpu") -> Classifier:
    """Load the ``best`` (or ``last``) weights of a run directory as a :class:`Classifier`.

    ``device``: ``cpu`` (the default, wherever the run was trained), ``cuda`` or ``auto``. A run
    trained in fp16 predicts in fp32 where there is no CUDA.
    """
    from zoo.trainer import resolve_device

    from zoo.data.vocab import Vocab
    from zoo.plugins import get_registry

    run_dir = RunDir(Path(run))
    if not run_dir.path.is_dir():
        raise ZooError(f"{run_dir.path}: no such run directory")
    registry = get_registry()
    spec = run_dir.read_spec(registry)
    if checkpoint not in ("best", "last"):
        raise ZooError(f"checkpoint must be 'best' or 'last', not {checkpoint!r}")
    state = run_dir.load_checkpoint(run_dir.best if checkpoint == "best" else run_dir.last)
    if not run_dir.vocab_file.exists():
        raise ZooError(f"{run_dir.vocab_file}: missing; the run directory is incomplete")
    vocab = Vocab.load(run_dir.vocab_file)
    task = task_from_dict(state["task"]) if "task" in state else Binary(tuple(state["labels"]))
    model = build_model(spec.model, vocab_size=len(vocab), num_outputs=task.num_outputs, registry=registry)
    model.load_state_dict(state["model"])
    target = resolve_device(device)
    return Classifier(
        model=model.to(target).eval(),
        tokenizer=registry.build("tokenizer", spec.tokenizer),
        vocab=vocab,
        task=task,
        spec=spec,
        device=target,
        batch_size=spec.train.eval_batch_size,
    )
