"""Predicting from an export without torch: ``zoo.runtime.load("export/").predict(["a fine film"])``.

``pip install 'rnn-zoo[onnx]'`` is all it needs: NumPy, ONNX Runtime, and zoo's own light core for
the tokenizer, the vocabulary and the task. ``zoo export RUN --out DIR`` writes the folder,
``zoo pack`` one zip of it; :func:`load` takes either. See :mod:`zoo.runtime.files` for the
folder's layout.
"""

from __future__ import annotations

from zoo.runtime.model import ExportedModel, is_export, load, opened

__all__ = ["ExportedModel", "is_export", "load", "opened"]
