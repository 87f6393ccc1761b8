"""An exported model with its tokenizer, vocabulary and task: ``zoo.runtime.load(DIR).predict(texts)``.

Texts go through the same steps as in zoo with torch: the tokenizer the run was trained with
(built by its plugin, from ``tokenizer.json``), the vocabulary lookup and the batching by length
of :mod:`zoo.data` (NumPy), the exported model (:mod:`zoo.runtime.engines`), and
:class:`zoo.task.Task` for probabilities and answers. Nothing here imports torch, unless the
export is a ``torch.export`` program or its tokenizer's plugin needs it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import PluginError, RunError, UnknownComponentError, ZooError
from zoo.limits import MAX_PARAMETERS
from zoo.runfiles import max_checkpoint_bytes
from zoo.runtime import files
from zoo.runtime.engines import Engine, onnx_engine, program_engine
from zoo.task import Task, task_from_dict

#: Texts scored at once. Small batches of texts of similar length suit ONNX Runtime's recurrent
#: kernels best on the CPU (32: 1.7 times the reviews per second of 256; benchmarks/README.md).
BATCH_SIZE = 32


@dataclass
class ExportedModel:
    """What :func:`load` returns; :meth:`predict` answers as :meth:`zoo.classifier.Classifier.predict` does."""

    engine: Engine
    tokenizer: Any
    vocab: Any
    task: Task
    manifest: files.Manifest
    batch_size: int

    @property
    def labels(self) -> list[str]:
        """The label names, in the order of the model's outputs."""
        return list(self.task.labels)

    @property
    def columns(self) -> tuple[list[str], str, str]:
        """The run's text columns, label column and multi-label separator (for table files)."""
        return list(self.manifest.text_columns), self.manifest.label_column, self.manifest.label_separator

    def logits(self, texts: list[str]) -> np.ndarray:
        """The model's logits per text: ``(n,)`` for a binary task, else ``(n, labels)``."""
        from zoo.data.encode import encode_texts, require_texts

        return self.logits_of(encode_texts(require_texts(texts), self.tokenizer, self.vocab))

    def logits_of(self, split: Any) -> np.ndarray:
        """The logits of texts already encoded (a :class:`zoo.data.encode.EncodedSplit`), batched by length."""
        from zoo.data.batching import batch_indices, pad

        max_length = self.manifest.max_length
        lengths = split.lengths if max_length is None else np.minimum(split.lengths, max_length)
        shape = () if self.task.num_outputs == 1 else (self.task.num_outputs,)
        logits = np.zeros((len(split), *shape), dtype=np.float32)
        for indices in batch_indices(lengths, self.batch_size, shuffle=False, bucketing=True):
            ids, batch_lengths = pad(split, indices, max_length)
            logits[indices] = self.engine(ids, batch_lengths).reshape(len(indices), *shape)
        return logits

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """``(n, labels)``: each label's probability per text, columns in :attr:`labels` order."""
        return self.task.probabilities(self.logits(texts))

    def predict(self, texts: list[str], top_k: int | None = None) -> list[dict[str, Any]]:
        """``{"label", "probability", "probabilities"}`` per text (see :meth:`zoo.task.Task.answers`)."""
        return self.task.answers(self.logits(texts), top_k)


def is_export(path: str | Path) -> bool:
    """Whether ``path`` is an export folder or a pack (rather than a run directory)."""
    from zoo.export.pack import is_pack

    path = Path(path)
    return files.is_export_folder(path) or is_pack(path)


@contextlib.contextmanager
def opened(source: str | Path) -> Iterator[Path]:
    """The export folder ``source``, or the pack ``source`` unpacked into a temporary folder."""
    from zoo.export.pack import is_pack, unpacked

    source = Path(source)
    if is_pack(source):
        with unpacked(source) as folder:
            try:
                yield folder
            except ZooError as exc:  # name the pack's member, not the temporary folder, gone by then
                if len(exc.args) == 1 and isinstance(exc.args[0], str):
                    exc.args = (exc.args[0].replace(f"{folder}{os.sep}", f"{source}: "),)
                raise
    elif files.is_export_folder(source):
        yield source
    else:
        raise RunError(f"{source} is neither an export folder (with export.json) nor a pack (.zip); make one "
                       "with zoo export or zoo pack")


def _check_options(threads: Any, batch_size: Any, trust_program: Any) -> None:
    """Refuse a caller's option that would be misread: ``threads=0`` taken for the default, a
    ``batch_size`` of 0 failing only at the first prediction, ``trust_program="no"`` being true."""

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1

    if threads is not None and not whole(threads):
        raise ZooError(f"threads must be a whole number of at least 1 (or None: one per core), not {threads!r}")
    if not whole(batch_size):
        raise ZooError(f"batch_size must be a whole number of at least 1, not {batch_size!r}")
    if not isinstance(trust_program, bool):
        raise ZooError(f"trust_program must be True or False, not {trust_program!r}")


def load(source: str | Path, threads: int | None = None, max_parameters: int = MAX_PARAMETERS,
         batch_size: int = BATCH_SIZE, trust_program: bool = False) -> ExportedModel:
    """The export folder or pack ``source``, ready to predict.

    ``threads``: how many batches' shards ONNX Runtime scores at once (default: one per core;
    see :func:`zoo.runtime.engines.onnx_engine`). The model file is read only up to the size a
    model of ``max_parameters`` can have; every other file is checked as a run's is.

    A ``torch.export`` program (``model.pt2``) is loaded only with ``trust_program=True``:
    ``torch.export.load`` reads the graph from JSON, but weights, constants and example inputs
    through ``torch.load``, unrestricted where the file asks for it (and as a fallback), and so
    can run code from the file. Load only programs you made; share ONNX exports.
    """
    _check_options(threads, batch_size, trust_program)
    with opened(source) as folder:
        manifest = files.manifest(folder)
        if manifest.engine == "torch.export" and not trust_program:
            raise RunError(f"{source} holds a torch.export program (model.pt2), which torch reads partly with "
                           "pickle: loading one can run code from it. zoo loads such a program only when you made "
                           "it or trust its sender: zoo predict --trust-program, zoo.runtime.load(..., "
                           "trust_program=True). Exports to share are ONNX (zoo export RUN --format onnx)")
        task = task_from_dict(files.task(folder).model_dump(exclude_none=True))
        kept = files.vocabulary(folder)
        tokenizer = build_tokenizer(files.tokenizer(folder), manifest, folder / "tokenizer.json")
        model = files.model_bytes(folder, manifest.model, max_checkpoint_bytes(max_parameters))
        where = Path(source) / manifest.model if Path(source).is_dir() else f"{source}: {manifest.model}"
        engine = onnx_engine(model, where, threads) if manifest.engine == "onnx" else program_engine(model, where)
    from zoo.data.vocab import Vocab

    return ExportedModel(engine=engine, tokenizer=tokenizer, vocab=Vocab(kept.tokens, kept.counts), task=task,
                         manifest=manifest, batch_size=batch_size)


def build_tokenizer(spec: files.TokenizerFile, manifest: files.Manifest, where: Path) -> Any:
    """The export's tokenizer, built by its plugin; a plugin that is missing, or needs torch where
    there is none, is named with the distribution the export records."""
    from pydantic import ValidationError

    from zoo.plugins import get_registry

    origin = manifest.components.get(f"tokenizer/{spec.type}") or {}
    named = (f"tokenizer '{spec.type}' from plugin {origin.get('plugin', '?')} (distribution "
             f"{origin.get('distribution') or '?'} {origin.get('version') or ''})").replace(" )", ")")
    try:
        return get_registry().build("tokenizer", spec.model_dump())
    except UnknownComponentError:
        raise UnknownComponentError(f"this export needs {named}, which is not installed") from None
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in error["loc"])
        raise RunError(f"{where}: {field}: {error['msg']}; not a config of {named}") from None
    except (PluginError, ModuleNotFoundError) as exc:
        missing = exc if isinstance(exc, ModuleNotFoundError) else exc.__cause__
        if isinstance(missing, ModuleNotFoundError):
            raise ZooError(f"this export's {named} needs the module {missing.name}, which is not installed; the "
                           f"runtime itself does not (install {missing.name}, or export with a tokenizer that "
                           "does not need it)") from None
        raise
