"""The files of an export folder, and reading them without trusting them.

An export is shared like a run, so it is read like one (:mod:`zoo.runfiles`): every file as a
regular file inside the folder, of bounded size, parsed into the pydantic models below; anything
else is one :class:`~zoo.errors.RunError` naming the file and the field.

Layout (written by :mod:`zoo.export.folder`)::

    export.json        what this is: format, engine, model file, max length, the
                       table columns, versions, the self-check's result
    model.onnx         the model for ONNX Runtime (inputs ids, lengths; output logits), or
    model.pt2          a torch.export program (``--format torch``)
    model.safetensors  the weights, under the names of the model's state dict
    vocab.json         the vocabulary (as in a run)
    labels.json        the task: type, labels, threshold
    tokenizer.json     the tokenizer's spec: its registered name (``type``) and config
    spec.yaml          the run's resolved spec
    README.md          the model card
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, PositiveInt, model_validator

from zoo.runfiles import Record, TaskRecord, VocabFile, read_file, read_json
from zoo.limits import MAX_JSON_BYTES, MAX_VOCAB_BYTES

MANIFEST = "export.json"
FORMAT = "zoo-export"
ENGINES = {"onnx": "model.onnx", "torch.export": "model.pt2"}
#: Every file an export may hold: a pack holds these and nothing else.
FILES = (MANIFEST, *ENGINES.values(), "model.safetensors", "vocab.json", "labels.json", "tokenizer.json",
         "spec.yaml", "README.md")


class SelfCheck(Record):
    """What :mod:`zoo.export.check` compared before the export was written."""

    texts: int
    source: str
    max_difference: float


class Manifest(Record):
    """``export.json``."""

    format: Literal["zoo-export"]
    version: Literal[1]
    engine: Literal["onnx", "torch.export"]
    model: Literal["model.onnx", "model.pt2"]
    max_length: PositiveInt | None
    text_columns: list[str] = Field(min_length=1)
    label_column: str
    label_separator: str
    run: str
    zoo: str
    torch: str
    opset: int | None = None
    self_check: SelfCheck
    components: dict[str, Any]

    @model_validator(mode="after")
    def _model_of_engine(self) -> Manifest:
        if ENGINES[self.engine] != self.model:
            raise ValueError(f"engine {self.engine} runs {ENGINES[self.engine]}, not {self.model}")
        return self


class TokenizerFile(Record):
    """``tokenizer.json``: the tokenizer's registered name and its config (checked by its plugin)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str = Field(min_length=1, max_length=200)


def manifest(folder: Path) -> Manifest:
    """The folder's ``export.json``, checked."""
    return read_json(folder / MANIFEST, Manifest, folder)


def vocabulary(folder: Path) -> VocabFile:
    return read_json(folder / "vocab.json", VocabFile, folder, MAX_VOCAB_BYTES)


def task(folder: Path) -> TaskRecord:
    return read_json(folder / "labels.json", TaskRecord, folder)


def tokenizer(folder: Path) -> TokenizerFile:
    return read_json(folder / "tokenizer.json", TokenizerFile, folder, MAX_JSON_BYTES)


def model_bytes(folder: Path, name: str, max_bytes: int) -> bytes:
    """The model file's bytes (bounded like a checkpoint, see :func:`zoo.runfiles.max_checkpoint_bytes`)."""
    return read_file(folder / name, max_bytes, folder)


def is_export_folder(path: Path) -> bool:
    """Whether ``path`` is a folder holding an export (an ``export.json``), not a run."""
    return path.is_dir() and (path / MANIFEST).exists()
