"""A trained run as a classifier: ``zoo.load(run_dir).predict(["a fine film", ...])``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel

from zoo.errors import ZooError
from zoo.memory import owns_process
from zoo.model import MAX_PARAMETERS, TextClassifier, build_model, planned_state
from zoo.rundir import RunDir
from zoo.runfiles import check_weights, max_checkpoint_bytes
from zoo.task import Task


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

    @property
    def columns(self) -> tuple[list[str], str, str]:
        """The run's text columns, label column and multi-label separator (for table files)."""
        from zoo.score_files import run_columns

        return run_columns(self.spec)

    def logits(self, texts: list[str]) -> np.ndarray:
        """The model's logits per text: ``(n,)`` for a binary task, else ``(n, labels)``."""
        from zoo.data.encode import encode_texts, require_texts
        from zoo.trainer import predict_logits, supported_precision

        encoded = encode_texts(require_texts(texts), self.tokenizer, self.vocab)
        return predict_logits(self.model, encoded, self.batch_size, self.device, self.spec.data.max_length,
                              precision=supported_precision(self.spec.train.precision, self.device),
                              shards=self.spec.train.cpu_shards if owns_process() else 1)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """``(n, labels)``: each label's probability per text, columns in :attr:`labels` order."""
        return self.task.probabilities(self.logits(texts))

    def predict(self, texts: list[str], top_k: int | None = None) -> list[dict[str, Any]]:
        """``{"label", "probability", "probabilities"}`` per text (see :meth:`zoo.task.Task.predictions`).

        ``label`` is a list of labels for a multilabel task; ``top_k`` keeps the ``k`` most
        probable labels in ``probabilities``. A text for which the model's output is NaN or
        infinite (its weights overflow on it) gets ``{"error": ...}`` instead: never a label.
        """
        return self.task.answers(self.logits(texts), top_k)


def load(run: str | Path, checkpoint: str = "best", device: str = "cpu",
         max_parameters: int = MAX_PARAMETERS) -> Classifier:
    """Load the ``best`` (or ``last``) weights of a run directory as a :class:`Classifier`; or
    the model of an export folder or pack (``zoo export``, ``zoo pack``: its ``model.safetensors``,
    checked the same way).

    ``device``: ``cpu`` (the default, wherever the run was trained), ``cuda`` or ``auto``. A run
    trained in fp16 predicts in fp32 where there is no CUDA.

    A run may come from anyone, so nothing in it is trusted (see :mod:`zoo.runfiles`): the model
    its spec and vocabulary describe is planned without allocating anything and refused above
    ``max_parameters``, the checkpoint is read only up to the size such a model can have, and its
    weights are loaded only if their names, shapes and dtypes match the plan and are finite.
    """
    from zoo.runtime import is_export, opened

    if checkpoint not in ("best", "last"):
        raise ZooError(f"checkpoint must be 'best' or 'last', not {checkpoint!r}")
    if is_export(run):
        with opened(run) as folder:
            return _load(RunDir(folder), device, max_parameters, lambda run_dir: _export_weights(folder, max_parameters))
    run_dir = RunDir(Path(run))
    if not run_dir.path.is_dir():
        raise ZooError(f"{run_dir.path}: no such run directory")

    def checkpoint_weights(run_dir: RunDir) -> tuple[dict[str, Any], Task, Path]:
        path = run_dir.best if checkpoint == "best" else run_dir.last
        state = run_dir.load_checkpoint(path, max_checkpoint_bytes(max_parameters))
        return state.model, state.to_task(), run_dir.checkpoint_file(path)

    return _load(run_dir, device, max_parameters, checkpoint_weights)


def _export_weights(folder: Path, max_parameters: int) -> tuple[dict[str, Any], Task, Path]:
    """An export's ``model.safetensors`` and ``labels.json``, read bounded (names and shapes are
    checked against the spec by :func:`_load`)."""
    from zoo.runfiles import read_file
    from zoo.runtime import files
    from zoo.safestate import load_tensors
    from zoo.task import task_from_dict

    path = folder / "model.safetensors"
    weights = load_tensors(read_file(path, max_checkpoint_bytes(max_parameters), folder), path)
    return weights, task_from_dict(files.task(folder).model_dump(exclude_none=True)), path


def _load(run_dir: RunDir, device: str, max_parameters: int, weights_of) -> Classifier:
    from zoo.plugins import get_registry
    from zoo.trainer import resolve_device

    registry = get_registry()
    spec = run_dir.read_spec(registry)
    vocab = run_dir.read_vocab()
    where = f"the spec.yaml of {run_dir.path}"
    planned_state(spec.model, len(vocab), 1, registry, max_parameters, where)  # before reading any weights
    weights, task, path = weights_of(run_dir)
    expected = planned_state(spec.model, len(vocab), task.num_outputs, registry, max_parameters, where)
    check_weights(weights, expected, path)
    model = build_model(spec.model, vocab_size=len(vocab), num_outputs=task.num_outputs, registry=registry)
    model.load_state_dict(weights)
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
