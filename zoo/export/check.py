"""The export's self-check: the written export against the run, before anything is reported.

Two comparisons, each of probabilities (what users act on):

- scoring: up to :data:`SPLIT_TEXTS` texts of the run's test split, as token ids, through the
  exported model and through the run's own model. Used only when the run's data are at hand
  (the token cache, or a local source): the check never downloads anything.
- end to end: made-up texts (from the run's vocabulary; one of one token, an empty one, lengths
  from 1 to 300) through the exported folder as :func:`zoo.runtime.load` reads it (tokenizer,
  vocabulary, batching, model, task) and through the run's classifier.

A difference above :data:`TOLERANCE`, or a text one side finds non-finite and the other not,
refuses the export.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.errors import ZooError

TOLERANCE = 1e-5
SPLIT_TEXTS = 300
MADE_UP_TEXTS = 300


class ExportMismatch(ZooError):
    """The exported model does not compute what the run does."""


@dataclass
class CheckInputs:
    """What the check compares on: ``split`` (test ids, or ``None``) and made-up ``texts``."""

    split: Any
    texts: list[str]
    source: str


def check_inputs(classifier: Any, run: Any, registry: Any) -> CheckInputs:
    """The test split when the run's data can be prepared without a download, and made-up texts."""
    split, source = _test_split(classifier, run, registry)
    texts = made_up_texts(classifier.vocab, MADE_UP_TEXTS if split is None else MADE_UP_TEXTS // 4)
    where = f"{len(split)} texts of the run's test split and " if split is not None else ""
    return CheckInputs(split, texts, f"{where}{len(texts)} made-up texts{source}")


def _test_split(classifier: Any, run: Any, registry: Any) -> tuple[Any, str]:
    from zoo.export.at_hand import data_at_hand

    prepared, why_not = data_at_hand(classifier.spec, classifier.vocab, run, registry)
    if prepared is None:
        return None, f" (the run's test split is not at hand: {why_not})"
    test = prepared.splits["test"]
    if len(test) > SPLIT_TEXTS:
        test = test.subset(np.sort(np.random.default_rng(0).choice(len(test), SPLIT_TEXTS, replace=False)))
    return test, ""


def made_up_texts(vocab: Any, count: int, seed: int = 0) -> list[str]:
    """``count`` texts of the vocabulary's words (and one unknown word): an empty text, a
    one-word text, then lengths spread from 2 to 300 words."""
    rng = random.Random(seed)
    words = [token for token in vocab.tokens[2:] if token.strip() and len(token.split()) == 1] or ["word"]
    texts = ["", rng.choice(words)]
    while len(texts) < count:
        length = rng.choice([2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 300])
        texts.append(" ".join(rng.choice(words) if rng.random() > 0.05 else "zzunknownzz" for _ in range(length)))
    return texts[:count]


def compare(classifier: Any, exported: Any, inputs: CheckInputs) -> dict[str, Any]:
    """The largest difference of probabilities over the inputs; :class:`ExportMismatch` above
    :data:`TOLERANCE`. Returns the record ``export.json`` keeps."""
    from zoo.trainer import predict_logits

    pairs = [(classifier.logits(inputs.texts), exported.logits(inputs.texts))]
    if inputs.split is not None:
        reference = predict_logits(classifier.model, inputs.split, classifier.batch_size, classifier.device,
                                   classifier.spec.data.max_length, shards=1)
        pairs.append((reference, exported.logits_of(inputs.split)))
    worst, count = 0.0, 0
    for reference, got in pairs:
        expected, actual = classifier.task.probabilities(reference), classifier.task.probabilities(got)
        finite = np.isfinite(expected).all(1)
        if not np.array_equal(finite, np.isfinite(actual).all(1)):
            raise ExportMismatch("the exported model's output is NaN or infinite where the run's is not (or the "
                                 "other way round); the export is refused")
        if finite.any():
            worst = max(worst, float(np.abs(expected[finite] - actual[finite]).max()))
        count += len(expected)
    if worst > TOLERANCE:
        raise ExportMismatch(f"the exported model's probabilities differ from the run's by up to {worst:.3g} on "
                             f"{inputs.source} (at most {TOLERANCE:g} is allowed); the export is refused and "
                             "nothing was written")
    return {"texts": count, "source": inputs.source, "max_difference": worst}
