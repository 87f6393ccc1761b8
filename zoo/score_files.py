"""Tables of texts through a trained run: ``zoo predict --input/--output`` and ``zoo evaluate --input``.

Prediction streams: the input is read in chunks (:func:`zoo.tables.iter_table`), each chunk is
scored and written at once (:class:`zoo.tables.TableWriter`), so a file larger than memory is
labelled with bounded memory, and the output appears only when every row is done. Every input
row comes out, in order, with its own columns plus ``label``, ``probability`` (of that label;
for multilabel runs, of the most probable label) and one ``p_<label>`` column per class — or,
with ``top_k``, ``top_1``, ``p_top_1`` ... ``top_k``, ``p_top_k``. A multilabel prediction's
labels are joined with the run's ``label_separator`` (default ``|``).

The text and label columns default to the run's own (those of a ``table`` dataset, else
``text`` and ``label``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import DataError
from zoo.tables import TableWriter, iter_table, joined_texts, missing_column

#: Rows scored at a time when labelling a file.
CHUNK_ROWS = 10_000
DEFAULT_SEPARATOR = "|"


def run_columns(spec: Any) -> tuple[list[str], str, str]:
    """The run's text columns, label column and multi-label separator (its table dataset's)."""
    dataset = spec.data.dataset
    text = getattr(dataset, "text", "text")
    return ([text] if isinstance(text, str) else list(text), getattr(dataset, "label", "label"),
            getattr(dataset, "label_separator", None) or DEFAULT_SEPARATOR)


def prediction_columns(task: Any, top_k: int | None, prefix: str = "") -> list[str]:
    """The columns a prediction adds to each row."""
    if top_k is None:
        ranked = [f"p_{label}" for label in task.labels]
    else:
        ranked = [name for k in range(1, min(top_k, len(task.labels)) + 1) for name in (f"top_{k}", f"p_top_{k}")]
    return [prefix + name for name in ("label", "probability", *ranked)]


def prediction_frame(task: Any, probabilities: np.ndarray, top_k: int | None, separator: str, prefix: str = "") -> Any:
    """The added columns for a chunk's ``(rows, labels)`` probabilities, as a DataFrame.

    A row whose probabilities are not finite (the model overflows on its text) gets empty cells:
    never a label.
    """
    import pandas as pd

    finite = np.isfinite(probabilities).all(1)
    answers = iter(task.predictions(probabilities[finite], top_k))
    columns = prediction_columns(task, top_k, prefix)
    rows = []
    for ok in finite.tolist():
        if not ok:
            rows.append([None] * len(columns))
            continue
        answer = next(answers)
        label = answer["label"]
        if top_k is None:  # p_<label> in the labels' own order, not by probability
            ranked = [answer["probabilities"][name] for name in task.labels]
        else:
            ranked = [cell for item in answer["probabilities"].items() for cell in item]
        rows.append([separator.join(label) if isinstance(label, list) else label, answer["probability"], *ranked])
    return pd.DataFrame(rows, columns=columns)


def predict_file(
    classifier: Any,
    source: str | Path,
    target: str | Path,
    *,
    text_columns: list[str] | None = None,
    top_k: int | None = None,
    prefix: str = "",
    delimiter: str | None = None,
    encoding: str = "utf-8",
    chunk_rows: int = CHUNK_ROWS,
) -> dict[str, Any]:
    """Label every row of the table ``source`` into the table ``target`` (formats by suffix).

    Returns ``{"rows", "unlabelled", "seconds", "output"}``: ``unlabelled`` rows (the model's
    output NaN or infinite) have empty prediction cells. A column the prediction adds that the input
    already has is refused (name another ``prefix``), so no input column is ever overwritten.
    """
    import pandas as pd

    default_text, _, separator = classifier.columns
    columns = text_columns or default_text
    added = prediction_columns(classifier.task, top_k, prefix)
    started = time.perf_counter()
    unlabelled = 0
    options = {"delimiter": delimiter, "encoding": encoding, "setting": "--{}"}
    with TableWriter(target) as out:
        for chunk in iter_table(source, chunk_rows, **options):
            have = [str(c) for c in chunk.columns]
            missing = [c for c in columns if c not in have]
            if missing:
                raise DataError(missing_column(f"{source}", missing[0], have, delimiter="--delimiter")
                                + " (choose the text with --text-column)")
            clash = [c for c in added if c in have]
            if clash:
                raise DataError(f"{source} already has the column(s) {', '.join(clash)} that the prediction adds; "
                                "choose a --column-prefix such as 'pred_' so no input column is overwritten")
            logits = classifier.logits(joined_texts(chunk, columns))
            probabilities = classifier.task.probabilities(logits)
            # an infinite logit has a finite sigmoid (1.0), but is no more a label than a NaN is
            probabilities[~np.isfinite(logits).reshape(len(logits), -1).all(1)] = np.nan
            unlabelled += int((~np.isfinite(probabilities).all(1)).sum())
            scored = prediction_frame(classifier.task, probabilities, top_k, separator, prefix)
            out.write(pd.concat([chunk.reset_index(drop=True), scored], axis=1))
    return {"rows": out.rows, "unlabelled": unlabelled, "seconds": time.perf_counter() - started,
            "output": str(target)}


def read_labelled_file(
    classifier: Any,
    registry: Any,
    source: str | Path,
    *,
    text_columns: list[str] | None = None,
    label_column: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> Any:
    """The texts and labels of a labelled table as a :class:`~zoo.data.interface.RawSplit`,
    every label checked against the run's (an unknown one is named with its line)."""
    default_text, default_label, separator = classifier.columns
    multilabel = classifier.task.name == "multilabel"
    dataset = registry.build("dataset", {
        "type": "table", "train": str(source), "text": text_columns or default_text,
        "label": label_column or default_label, "labels": classifier.labels,
        "label_separator": separator if multilabel else None,
        "delimiter": delimiter, "encoding": encoding,
    })
    return dataset.read_labelled(str(source), trained_on=f"the run (labels {', '.join(classifier.labels)})",
                                 name=str(source))
