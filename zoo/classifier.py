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


@dataclass
class Classifier:
    """A model with the tokenizer and vocabulary it was trained with."""

    model: TextClassifier
    tokenizer: Any
    vocab: Any
    labels: list[str]
    spec: BaseModel
    device: torch.device
    batch_size: int = 256

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """The probability of the positive label for each text."""
        from zoo.data.encode import encode_texts
        from zoo.trainer import predict_logits

        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise ZooError(f"text {position} is a {type(text).__name__}, not a string")
        if not texts:
            return np.zeros(0, dtype=np.float32)
        encoded = encode_texts(texts, self.tokenizer, self.vocab)
        logits = predict_logits(self.model, encoded, self.batch_size, self.device, self.spec.data.max_length,
                                shards=self.spec.train.cpu_shards)
        return torch.sigmoid(torch.from_numpy(logits)).numpy()

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """``{"label": ..., "probability": ...}`` per text; probability is of the label given."""
        results = []
        for p in self.probabilities(list(texts)).tolist():
            positive = p >= 0.5
            results.append({"label": self.labels[1 if positive else 0], "probability": p if positive else 1.0 - p})
        return results


def load(run: str | Path, checkpoint: str = "best", device: str = "cpu") -> Classifier:
    """Load the ``best`` (or ``last``) weights of a run directory as a :class:`Classifier`."""
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
    model = build_model(spec.model, vocab_size=len(vocab), registry=registry)
    model.load_state_dict(state["model"])
    target = torch.device(device)
    return Classifier(
        model=model.to(target).eval(),
        tokenizer=registry.build("tokenizer", spec.tokenizer),
        vocab=vocab,
        labels=list(state["labels"]),
        spec=spec,
        device=target,
        batch_size=spec.train.eval_batch_size,
    )
