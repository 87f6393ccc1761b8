"""Reading a run directory's files without trusting them.

A model zoo exists to share runs, so every file zoo reads back from a run directory may come
from someone else. Each one is read as a regular file inside the run (never a FIFO, a device or
a link out of it) of bounded size, and parsed into one of the pydantic models below; anything
else is one :class:`~zoo.errors.RunError` naming the file and the field. Checkpoints are checked
the same way after they are read, whatever the container: their plain data here, their weights
against the shapes the run's spec gives (:func:`check_weights`) before any are loaded.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PlainValidator,
    PositiveFloat,
    ValidationError,
    model_validator,
)

from zoo.errors import RunError
from zoo.limits import CHECKPOINT_BYTES_PER_PARAMETER, CHECKPOINT_OVERHEAD_BYTES, MAX_EPOCHS, MAX_JSON_BYTES


# --- files ------------------------------------------------------------------------------------


def within(root: Path, path: Path) -> bool:
    """Whether ``path`` (resolved) is ``root`` (resolved) or lies below it."""
    root, path = Path(root).resolve(), Path(path).resolve()
    return path == root or root in path.parents


@contextlib.contextmanager
def open_file(path: str | Path, max_bytes: int, run: str | Path | None = None) -> Iterator[BinaryIO]:
    """``path`` opened for reading, which must be a regular file of at most ``max_bytes``.

    With ``run``, the file must also resolve to a place inside that run directory. A FIFO is
    opened without blocking and refused, so a crafted run never hangs zoo; a device or a folder
    is refused too.
    """
    path = Path(path)
    if run is not None and not within(run, path):
        raise RunError(f"{path} leads out of the run directory {run} (a symbolic link?); zoo reads "
                       "only the run's own files")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise RunError(f"{path} does not exist") from None
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise RunError(f"{path} is {_kind(info.st_mode)}, not a regular file; zoo will not read it")
        if info.st_size > max_bytes:
            raise RunError(f"{path} has {info.st_size:,} bytes, more than the {max_bytes:,} such a file may "
                           "have; zoo will not read it")
        yield handle


def read_file(path: str | Path, max_bytes: int, run: str | Path | None = None) -> bytes:
    """The bytes of ``path``, opened with :func:`open_file` (a file that grows meanwhile is refused)."""
    with open_file(path, max_bytes, run) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RunError(f"{path} grew past the {max_bytes:,} bytes such a file may have; zoo will not read it")
    return data


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_json(path: Path, model: type[BaseModel], run: Path, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """A run's JSON file, read with :func:`read_file` and validated as ``model``."""
    data = read_file(path, max_bytes, run)
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RunError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise RunError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise RunError(f"{path}: nested too deeply to be a zoo file") from None
    return validated(model, value, path)


def validated(model: type[BaseModel], value: Any, where: str | Path) -> Any:
    """``value`` as ``model``, or a RunError naming ``where`` and the first faulty field."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in error["loc"]) or "the top level"
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        message = error["msg"].removeprefix("Value error, ")
        raise RunError(f"{where}: {field}: {message}{more}; the file is damaged or was not written by zoo") from None


# --- models -----------------------------------------------------------------------------------


class Record(BaseModel):
    """A file's content: exactly these fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _tensor(value: Any) -> Any:
    import torch

    if not isinstance(value, torch.Tensor):
        raise ValueError(f"must be a tensor, not {type(value).__name__}")
    return value


def _byte_state(value: Any) -> Any:
    import torch

    value = _tensor(value)
    if value.dtype != torch.uint8 or value.dim() != 1:
        raise ValueError(f"must be a 1-D uint8 tensor (a random generator's state), not {value.dtype} of shape "
                         f"{tuple(value.shape)}")
    return value


def _cpu_state(value: Any) -> Any:
    import torch

    value = _byte_state(value)
    if value.numel() != torch.get_rng_state().numel():
        raise ValueError(f"must hold {torch.get_rng_state().numel()} bytes (a CPU generator's state), not {value.numel()}")
    return value


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a label")
    return values


Tensor = Annotated[Any, PlainValidator(_tensor)]
StateDict = dict[str, Tensor]
Labels = Annotated[list[str], PlainValidator(lambda v: _unique(_strings(v)))]


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("must be a list of strings")
    if len(value) < 2:
        raise ValueError(f"must name at least two labels, not {len(value)}")
    return value


class TaskRecord(Record):
    """The task a checkpoint was trained for (:meth:`zoo.task.Task.to_dict`)."""

    type: Literal["binary", "multiclass", "multilabel"]
    labels: Labels
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    class_weights: list[PositiveFloat] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TaskRecord:
        if self.type == "binary" and len(self.labels) != 2:
            raise ValueError(f"a binary task has exactly two labels, not {len(self.labels)}")
        if self.class_weights is not None and len(self.class_weights) != len(self.labels):
            raise ValueError(f"{len(self.class_weights)} class weights for {len(self.labels)} labels")
        return self


class Weights(Record):
    """``best.safetensors``: the model's weights after ``epoch`` and the task it predicts.

    Checkpoints written before tasks existed hold ``labels`` alone (a binary task).
    """

    model: StateDict
    epoch: int = Field(ge=1, le=MAX_EPOCHS)
    labels: Labels | None = None
    task: TaskRecord | None = None

    @model_validator(mode="after")
    def _has_task(self) -> Weights:
        if self.task is None and self.labels is None:
            raise ValueError("holds neither 'task' nor 'labels'")
        if self.task is not None and self.labels is not None and self.task.labels != self.labels:
            raise ValueError("its 'labels' differ from its task's labels")
        return self

    def to_task(self) -> Any:
        """The :class:`zoo.task.Task` recorded."""
        from zoo.task import Binary, task_from_dict

        if self.task is not None:
            return task_from_dict(self.task.model_dump(exclude_none=True))
        return Binary(tuple(self.labels or ()))


class Best(Record):
    """The best epoch so far and its monitored value (both ``None`` before any epoch)."""

    epoch: int | None = Field(ge=1)
    value: float | None

    @model_validator(mode="after")
    def _both_or_neither(self) -> Best:
        if (self.epoch is None) != (self.value is None):
            raise ValueError("epoch and value must both be given or both be null")
        return self


class RandomState(Record):
    """One rank's generator states."""

    cpu: Annotated[Any, PlainValidator(_cpu_state)]
    cuda: Annotated[Any, PlainValidator(_byte_state)] | None = None


class Epoch(BaseModel):
    """One line of the history (``metrics.jsonl``); the fields zoo reads back, others kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    epoch: int = Field(ge=1, le=MAX_EPOCHS)
    train_loss: float
    train_accuracy: float
    valid_loss: float
    valid_accuracy: float
    seconds: float = Field(ge=0)
    train_seconds: float = Field(ge=0)
    train_tokens_per_second: float = Field(ge=0)


def _per_rank(value: Any) -> Any:
    import torch

    return [{"cpu": value}] if isinstance(value, torch.Tensor) else value


def _epoch_record(record: dict[str, Any]) -> dict[str, Any]:
    try:
        Epoch.model_validate(record)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise ValueError(f"{'.'.join(map(str, error['loc']))}: {error['msg']}") from None
    return record


class OptimizerState(Record):
    """An optimizer's ``state_dict()``: per-parameter state and parameter groups."""

    state: dict[int, dict[str, Tensor | float | int]]
    param_groups: list[dict[str, Any]] = Field(min_length=1)


class TrainingState(Weights):
    """``last.safetensors``: everything training needs to continue after ``epoch``."""

    optimizer: OptimizerState
    scheduler: dict[str, Any] | None
    scaler: dict[str, Any] | None
    #: one state per rank; a checkpoint from before ranks holds one CPU state, rank 0's
    rng: Annotated[list[RandomState], BeforeValidator(_per_rank), Field(min_length=1)]
    #: checked as :class:`Epoch` records, kept as written (``metrics.jsonl`` is rewritten from them)
    history: list[Annotated[dict[str, Any], AfterValidator(_epoch_record)]]
    best: Best
    bad_epochs: NonNegativeInt
    #: the coverage of ``model.embedding.vectors`` (zoo/vectors.py), for ``summary.json`` after a resume
    vectors: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent_epochs(self) -> TrainingState:
        if len(self.history) != self.epoch:
            raise ValueError(f"epoch is {self.epoch} but the history holds {len(self.history)} epochs")
        numbers = [record["epoch"] for record in self.history]
        if numbers != list(range(1, self.epoch + 1)):
            raise ValueError("the history's epochs are not 1, 2, ... in order")
        if self.best.epoch is not None and self.best.epoch > self.epoch:
            raise ValueError(f"best.epoch {self.best.epoch} comes after the checkpoint's epoch {self.epoch}")
        if self.bad_epochs > self.epoch:
            raise ValueError(f"bad_epochs {self.bad_epochs} is more than the {self.epoch} epochs trained")
        return self


class ComponentOrigin(Record):
    """Where a component used by the run came from."""

    plugin: str
    distribution: str | None
    version: str | None


class RunInfo(BaseModel):
    """``run.json``: versions of python, torch, zoo and every component's plugin."""

    model_config = ConfigDict(extra="allow", frozen=True)

    zoo: str
    torch: str
    python: str
    components: dict[str, ComponentOrigin]


class Summary(BaseModel):
    """``summary.json`` (the fields zoo reads back; the rest is for people and scripts)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    epochs_run: int = Field(ge=1, le=MAX_EPOCHS)


class VocabFile(Record):
    """``vocab.json`` (:meth:`zoo.data.vocab.Vocab.to_dict`)."""

    format: Literal["zoo-vocab"]
    version: Literal[1]
    tokens: list[str] = Field(min_length=2)
    counts: list[NonNegativeInt] | None = None

    @model_validator(mode="after")
    def _valid(self) -> VocabFile:
        if self.tokens[:2] != ["<pad>", "<unk>"]:
            raise ValueError("must start with the tokens <pad> and <unk>")
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("tokens must be unique")
        if self.counts is not None and len(self.counts) != len(self.tokens):
            raise ValueError(f"{len(self.counts)} counts for {len(self.tokens)} tokens")
        return self


# --- checks against what the spec builds ------------------------------------------------------


def max_checkpoint_bytes(parameters: int) -> int:
    """The largest checkpoint a model of ``parameters`` values can have written."""
    return CHECKPOINT_BYTES_PER_PARAMETER * parameters + CHECKPOINT_OVERHEAD_BYTES


def check_weights(weights: dict[str, Any], expected: dict[str, tuple[tuple[int, ...], Any]], where: str | Path) -> None:
    """Refuse weights whose names, shapes or dtypes differ from ``expected`` or that are not finite.

    ``expected``: ``{name: (shape, dtype)}`` of the model the run's spec and vocabulary build
    (:func:`zoo.model.planned_state`).
    """
    import torch

    missing = [name for name in expected if name not in weights]
    unexpected = [name for name in weights if name not in expected]
    if missing or unexpected:
        parts = ([f"missing {', '.join(missing[:5])}"] if missing else []) + (
            [f"unexpected {', '.join(unexpected[:5])}"] if unexpected else [])
        raise RunError(f"{where}: the weights do not fit the model of the run's spec.yaml ({'; '.join(parts)})")
    for name, (shape, dtype) in expected.items():
        tensor = weights[name]
        if tuple(tensor.shape) != tuple(shape):
            raise RunError(f"{where}: model.{name} has shape {tuple(tensor.shape)}, but the run's spec.yaml and "
                           f"vocab.json give {tuple(shape)}")
        if tensor.dtype != dtype:
            raise RunError(f"{where}: model.{name} is {tensor.dtype}, not {dtype}")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise RunError(f"{where}: model.{name} holds NaN or infinite values; the run diverged or the file is "
                           "damaged, and zoo will not predict with it")


def check_like(loaded: Any, fresh: Any, where: str | Path, field: str) -> None:
    """Refuse ``loaded`` unless it has the structure of ``fresh`` (same keys, lengths, kinds).

    Used for state that torch loads without checking (a scheduler's, a loss scaler's, the
    optimizer's hyperparameters), which would otherwise fail later, mid-training.
    """
    def kind(value: Any) -> str:
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return type(value).__name__
        if isinstance(value, (int, float)):
            return "number"
        if isinstance(value, (list, tuple)):
            return "list"
        return type(value).__name__

    if kind(loaded) != kind(fresh):
        raise RunError(f"{where}: {field} is a {kind(loaded)}, not a {kind(fresh)}")
    if isinstance(fresh, dict):
        if set(loaded) != set(fresh):
            raise RunError(f"{where}: {field} holds {sorted(map(str, loaded))}, not {sorted(map(str, fresh))}")
        for key in fresh:
            check_like(loaded[key], fresh[key], where, f"{field}.{key}")
    elif isinstance(fresh, (list, tuple)):
        if len(loaded) != len(fresh):
            raise RunError(f"{where}: {field} holds {len(loaded)} values, not {len(fresh)}")
        for index, (old, new) in enumerate(zip(loaded, fresh)):
            check_like(old, new, where, f"{field}.{index}")
    elif kind(fresh) == "number" and not math.isfinite(loaded):
        raise RunError(f"{where}: {field} is {loaded}")


def check_optimizer(state: OptimizerState, fresh: dict[str, Any], parameters: list[Any], where: str | Path) -> None:
    """Refuse optimizer state that does not fit the model's ``parameters`` or the spec's optimizer."""
    loaded_groups = [{k: v for k, v in group.items() if k != "params"} for group in state.param_groups]
    fresh_groups = [{k: v for k, v in group.items() if k != "params"} for group in fresh["param_groups"]]
    check_like(loaded_groups, fresh_groups, where, "optimizer.param_groups")
    for loaded, new in zip(state.param_groups, fresh["param_groups"]):
        if loaded.get("params") != new["params"]:
            raise RunError(f"{where}: optimizer.param_groups lists other parameters than the model has")
    for index, values in state.state.items():
        if not 0 <= index < len(parameters):
            raise RunError(f"{where}: optimizer.state has an entry for parameter {index}; the model has {len(parameters)}")
        for name, value in values.items():
            if hasattr(value, "dim") and value.dim() > 0 and tuple(value.shape) != tuple(parameters[index].shape):
                raise RunError(f"{where}: optimizer.state.{index}.{name} has shape {tuple(value.shape)}, "
                               f"not the parameter's {tuple(parameters[index].shape)}")


def check_same_vocabulary(kept: Any, now: Any, run: Path) -> None:
    """Refuse data whose vocabulary differs from the one a run was trained with (``vocab.json``)."""
    if kept.tokens == now.tokens:
        return
    if len(kept) != len(now):
        detail = f"{len(now):,} tokens instead of {len(kept):,}"
    else:
        first = next(i for i, (a, b) in enumerate(zip(kept.tokens, now.tokens)) if a != b)
        detail = f"the same size, but token {first} is {now.tokens[first]!r} instead of {kept.tokens[first]!r}"
    raise RunError(f"the data now give a different vocabulary than {run / 'vocab.json'} ({detail}): they are not "
                   "the data the run was trained on. Name the original data with --source")
