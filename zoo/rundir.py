"""The run directory: everything needed to use and reproduce one training run.

Layout::

    spec.yaml             the resolved spec (loadable by ``zoo train``)
    run.json              versions of python, torch, zoo and of every plugin whose component is used
    vocab.json            the vocabulary built from the training split
    checkpoints/last.safetensors  full training state after the latest epoch (resume reads it)
    checkpoints/best.safetensors  model weights of the best epoch so far (evaluate and predict read it)
    metrics.jsonl         one line per epoch
    summary.json          test metrics, best epoch, timings; present only once the run finished
    curves.png            learning curves
    confusion.png         the test split's confusion matrix (single-label tasks)
    README.md             the model card (:mod:`zoo.export.card`)

A training process holds the folder with an exclusive lock (:meth:`RunDir.lock`) while it writes,
so a second ``zoo train`` into the same ``--out`` (or a second ``--resume``) is refused instead of
interleaving its files with the first's. Every file is written atomically, through
:meth:`RunDir.writable`, so that no write follows a symbolic link out of the run. Checkpoints are
safetensors files: tensors, and the plain data beside them as JSON (:mod:`zoo.safestate`), so
loading one never unpickles anything. Runs written before that have ``checkpoints/best.pt`` and
``last.pt`` (read with ``torch.load(..., weights_only=True)``); they still load, and the next
checkpoint written replaces them. Every file read back is checked first (:mod:`zoo.runfiles`),
since runs are shared and may come from anyone.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from zoo import runfiles
from zoo.errors import RunError, SpecError, UnknownComponentError
from zoo.io import atomic_write, atomic_write_json, atomic_write_text
from zoo.limits import MAX_PARAMETERS, MAX_VOCAB_BYTES
from zoo.registry import Registry
from zoo.spec import COMPONENT_PATHS

#: What zoo itself writes at the top of a run directory: ``--force`` removes these and nothing else.
OWN_FILES = frozenset({"spec.yaml", "run.json", "vocab.json", "metrics.jsonl", "summary.json", "curves.png",
                       "confusion.png", "README.md"})
#: Folders zoo writes, each with the name patterns of what may be inside (``*.pt``: older runs').
OWN_FOLDERS = {"checkpoints": ("best.safetensors", "last.safetensors", "best.pt", "last.pt"),
               "tensorboard": ("events.out.tfevents.*",)}
#: The suffix of checkpoints zoo wrote before safetensors (read, never written).
LEGACY_SUFFIX = ".pt"

#: The open folders of the runs this process trains, by path: the flock on each lives as long as it.
_LOCKS: dict[Path, int] = {}


def components_of(spec: BaseModel) -> list[tuple[str, str]]:
    """``(kind, name)`` of every component a spec uses, its loggers included."""
    used = []
    for kind, path in COMPONENT_PATHS.items():
        node: Any = spec
        for part in path:
            node = getattr(node, part)
        used.append((kind, node.type))
    return used + [("logger", logger.type) for logger in spec.loggers]


def versions(spec: BaseModel, registry: Registry) -> dict[str, Any]:
    """The versions of zoo, torch, python and of the plugin behind each component ``spec`` uses,
    as ``run.json`` records them (and ``zoo serve``'s ``/info`` shows them for the serving side)."""
    import torch

    from zoo import __version__

    plugins = {}
    for kind, name in components_of(spec):
        origin = registry.get(kind, name).plugin
        plugins[f"{kind}/{name}"] = {"plugin": origin.name, "distribution": origin.distribution,
                                     "version": origin.version}
    return {"zoo": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "components": plugins}


def dump_spec(spec: BaseModel) -> dict[str, Any]:
    """The spec as plain data, each component's ``type`` first for readability."""

    def order(node: Any) -> Any:
        if isinstance(node, dict):
            keys = sorted(node, key=lambda k: k != "type")
            return {k: order(node[k]) for k in keys}
        if isinstance(node, list):
            return [order(v) for v in node]
        return node

    return order(spec.model_dump(mode="json"))


def safe_name(name: str) -> str:
    """``name`` (a spec's) made fit to name a folder: letters, digits, ``.``, ``_`` and ``-`` only,
    so no path separator, ``..``, control character or leading dot; ``run`` if nothing is left."""
    cleaned = re.sub(r"[^\w.-]+", "-", name).strip(".-")[:100]
    return cleaned or "run"


def with_data_source(spec: BaseModel, source: str | None, registry: Registry) -> tuple[BaseModel, str | None]:
    """The run's spec with the data to use on this machine, and a note saying which it is
    (``None`` where neither the run nor the user names a source: the dataset's own default).

    A run's recorded ``data.source`` is its sender's: a path of theirs, or an address they chose.
    So for ``zoo evaluate`` and ``zoo train --resume``, ``--source`` replaces it, and so does the
    dataset's own environment variable (its ``source_env``, e.g. ``ZOO_IMDB_SOURCE``) when set;
    only without either is the recorded one used (and a download then needs its checksum).
    """
    recorded = spec.data.source
    if source:
        new, note = source, f"--source {source}"
    else:
        variable = getattr(registry.build("dataset", spec.data.dataset), "source_env", None)
        value = os.environ.get(variable, "").strip() if variable else ""
        if not value:
            return spec, f"the run's recorded data.source {recorded}" if recorded else None
        new, note = None, f"{variable}={value}"  # None: the dataset reads its variable itself
    if recorded:
        note += f", in place of the run's recorded data.source {recorded}"
    return spec.model_copy(update={"data": spec.data.model_copy(update={"source": new})}), note


@dataclass(frozen=True)
class RunDir:
    """Paths and reading/writing of one run directory."""

    path: Path

    @property
    def spec_file(self) -> Path:
        return self.path / "spec.yaml"

    @property
    def run_file(self) -> Path:
        return self.path / "run.json"

    @property
    def vocab_file(self) -> Path:
        return self.path / "vocab.json"

    @property
    def last(self) -> Path:
        return self.path / "checkpoints" / "last.safetensors"

    @property
    def best(self) -> Path:
        return self.path / "checkpoints" / "best.safetensors"

    @property
    def card_file(self) -> Path:
        return self.path / "README.md"

    def checkpoint_file(self, path: Path) -> Path:
        """The file that holds checkpoint ``path`` (:attr:`best` or :attr:`last`): itself, or in a run
        written before safetensors, its ``.pt`` twin; ``path`` when neither exists."""
        legacy = path.with_suffix(LEGACY_SUFFIX)
        if not path.exists() and not path.is_symlink() and (legacy.exists() or legacy.is_symlink()):
            return legacy
        return path

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def summary_file(self) -> Path:
        return self.path / "summary.json"

    @property
    def curves_file(self) -> Path:
        return self.path / "curves.png"

    @property
    def confusion_file(self) -> Path:
        return self.path / "confusion.png"

    @property
    def finished(self) -> bool:
        return self.summary_file.exists()

    @property
    def trained(self) -> bool:
        """Whether any epoch was checkpointed: only then does the folder hold computed work."""
        return any(self.checkpoint_file(path).exists() for path in (self.last, self.best))

    def writable(self, path: Path, folder: bool = False) -> Path:
        """``path``, checked before zoo writes it (a file, or a ``folder`` to write in): inside this
        run once links are resolved, and not a link itself.

        Every write into a run goes through here, so a received run whose ``checkpoints`` (or any
        file) is a link elsewhere cannot make zoo replace files outside it.
        """
        if path.is_symlink() or not runfiles.within(self.path, path.parent):
            raise RunError(f"{path} leads out of the run directory {self.path} (a symbolic link); zoo writes "
                           "only inside the run. Remove the link or copy the run without it")
        if path.is_dir() and not folder:
            raise RunError(f"{path} is a folder where zoo keeps a file; remove it")
        return path

    def check_writable(self) -> None:
        """Check every path training writes (before any work, for a run being resumed)."""
        for path in (self.spec_file, self.run_file, self.vocab_file, self.metrics_file, self.summary_file,
                     self.curves_file, self.confusion_file, self.card_file, self.best, self.last):
            self.writable(path)
        self.writable(self.path / "tensorboard", folder=True)

    def is_run(self) -> bool:
        """Whether the folder holds a ``run.json`` as zoo writes it (the first file of every run).

        Only then are its ``spec.yaml``, ``README.md``... taken for zoo's: a user's project
        folder holding files of those names is not a run, and is never emptied.
        """
        try:
            runfiles.read_json(self.run_file, runfiles.RunInfo, self.path)
        except RunError:
            return False
        return True

    def foreign_entries(self) -> list[str]:
        """What the folder holds that zoo did not write (a user's files), as relative paths.

        Temporary files of zoo's atomic writes (``.NAME.*.tmp``) count as zoo's own. In a folder
        that is not a run (:meth:`is_run`), every entry is foreign but such a file of ``run.json``
        (a start killed while writing it).
        """
        if not self.is_run():
            return [entry.name + ("/" if entry.is_dir() and not entry.is_symlink() else "")
                    for entry in sorted(self.path.iterdir())
                    if not (entry.name.startswith(".") and _own_name(entry.name, ("run.json",)))]
        foreign = []
        for entry in sorted(self.path.iterdir()):
            if entry.is_symlink():
                foreign.append(entry.name)
            elif entry.is_dir() and entry.name in OWN_FOLDERS:
                patterns = OWN_FOLDERS[entry.name]
                foreign += [f"{entry.name}/{inner.name}" for inner in sorted(entry.iterdir())
                            if inner.is_symlink() or not inner.is_file() or not _own_name(inner.name, patterns)]
            elif entry.is_dir() or not _own_name(entry.name, tuple(OWN_FILES)):
                foreign.append(entry.name + ("/" if entry.is_dir() else ""))
        return foreign

    def check_new(self, force: bool) -> None:
        """Refuse, before any work, an ``--out`` that training may not (re)place.

        A folder holding anything zoo did not write is never touched, ``--force`` or not. A run
        folder with a checkpoint needs ``--force``; one without (a start that failed before its
        first epoch) may be started again, since nothing computed would be lost.
        """
        path = self.path
        if path.is_symlink():
            raise RunError(f"{path} is a symbolic link; give the folder it points to, or another --out")
        if path.exists() and not path.is_dir():
            raise RunError(f"{path} is a file, not a folder; choose another --out")
        if not path.exists() or not any(path.iterdir()):
            return
        foreign = self.foreign_entries()
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            named_like_zoos = any(entry.rstrip("/") in OWN_FILES | OWN_FOLDERS.keys() for entry in foreign)
            not_a_run = named_like_zoos and not self.is_run()
            why = "; it has no run.json of zoo's, so it is not a run folder" if not_a_run else ""
            raise RunError(f"{path} holds files that zoo did not write ({shown}{why}); zoo will not replace "
                           "it. Choose another --out (a new or empty folder)")
        if self.trained and not force:
            state = "a finished run" if self.finished else "an unfinished run (continue it with --resume)"
            raise RunError(f"{path} already holds {state}; choose another --out or pass --force to replace it")

    def create(self, force: bool) -> None:
        """Lock the folder (made if missing), then empty it of zoo's own files, checking again,
        under the lock, what ``force`` allows: another process may have trained into it since
        the first check."""
        if self.path.is_symlink():
            self.check_new(force)  # refused, before mkdir could follow the link
        self.path.mkdir(parents=True, exist_ok=True)
        self.lock()
        self.check_new(force)
        if self.path.is_dir():
            for entry in self.path.iterdir():
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        self.path.mkdir(parents=True, exist_ok=True)

    def write_spec(self, spec: BaseModel, registry: Registry) -> None:
        """Write ``run.json`` (the versions of everything the run uses), first, since it marks
        the folder as a run (:meth:`is_run`), then ``spec.yaml``."""
        atomic_write_json(self.writable(self.run_file), versions(spec, registry))
        self.save_spec(spec)

    def lock(self) -> None:
        """Hold this run folder for this process until :meth:`unlock` or its end (``kill -9``
        included: the kernel drops the lock with the process, so none is ever left stale).

        Two processes training into one folder would interleave their checkpoints, metrics and
        spec into a run that is neither; the second is refused here, before it writes anything.
        Where ``fcntl`` is unavailable, nothing is locked.
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        key = self.path.resolve()
        if key in _LOCKS:
            return
        descriptor = os.open(key, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            raise RunError(f"{self.path} is being trained by another zoo process right now; wait for it to "
                           "end, or choose another --out") from None
        _LOCKS[key] = descriptor

    def unlock(self) -> None:
        """Let go of the folder held by :meth:`lock` (nothing if this process does not hold it)."""
        descriptor = _LOCKS.pop(self.path.resolve(), None)
        if descriptor is not None:
            os.close(descriptor)

    def save_spec(self, spec: BaseModel) -> None:
        """Write ``spec.yaml`` alone (a resumed run that was extended)."""
        atomic_write_text(self.writable(self.spec_file), yaml.safe_dump(dump_spec(spec), sort_keys=False))

    def read_spec(self, registry: Registry | None = None) -> BaseModel:
        """The run's spec, validated against the installed plugins.

        A component whose plugin is no longer installed is reported by the plugin's name and
        distribution, as recorded in ``run.json`` when the run was made.
        """
        from zoo.spec import read_spec_file, validate_spec

        if not self.spec_file.exists() and not self.spec_file.is_symlink():
            raise RunError(f"{self.path} is not a zoo run directory (no spec.yaml)")
        data = read_spec_file(self.spec_file, run=self.path)
        try:
            return validate_spec(data, registry, str(self.spec_file))
        except SpecError as exc:
            missing = self._missing_plugins(registry)
            if missing:
                raise UnknownComponentError(f"run {self.path} needs " + "; ".join(missing)) from None
            raise

    def _missing_plugins(self, registry: Registry | None) -> list[str]:
        if registry is None:
            from zoo.plugins import get_registry

            registry = get_registry()
        if not self.run_file.exists():
            return []
        recorded = runfiles.read_json(self.run_file, runfiles.RunInfo, self.path).components
        missing = []
        for key, origin in recorded.items():
            kind, _, name = key.partition("/")
            if name not in registry.names(kind):
                unavailable = registry.unavailable.get(origin.plugin)
                state = "not installed" if unavailable is None else (
                    unavailable.reason if unavailable.disabled else f"broken ({unavailable.reason})"
                )
                missing.append(
                    f"{kind} '{name}' from plugin {origin.plugin} "
                    f"(distribution {origin.distribution} {origin.version}), which is {state}"
                )
        return missing

    def read_vocab(self) -> Any:
        """The vocabulary the run was trained with (``vocab.json``), checked."""
        from zoo.data.vocab import Vocab

        if not self.vocab_file.exists() and not self.vocab_file.is_symlink():
            raise RunError(f"{self.vocab_file}: missing; the run directory is incomplete")
        kept = runfiles.read_json(self.vocab_file, runfiles.VocabFile, self.path, MAX_VOCAB_BYTES)
        return Vocab(kept.tokens, kept.counts)

    def epochs_run(self) -> int:
        """How many epochs the finished run trained (``summary.json``)."""
        return runfiles.read_json(self.summary_file, runfiles.Summary, self.path).epochs_run

    def save_checkpoint(self, path: Path, state: dict[str, Any]) -> Path:
        """Atomically write a checkpoint of tensors and plain data as safetensors (:mod:`zoo.safestate`);
        an older run's ``.pt`` twin goes once the new file is in place."""
        from zoo.safestate import encode

        data = encode(state)
        atomic_write(self.writable(path), lambda handle: handle.write(data))
        path.with_suffix(LEGACY_SUFFIX).unlink(missing_ok=True)
        return path

    def load_checkpoint(self, path: Path, max_bytes: int | None = None) -> runfiles.Weights:
        """Read checkpoint ``path`` (:attr:`best` or :attr:`last`, or an older run's ``.pt`` twin in
        its place) without running any code from it, checked.

        The last checkpoint is a :class:`~zoo.runfiles.TrainingState`, the best
        :class:`~zoo.runfiles.Weights`; a file over ``max_bytes`` (default: what a model of
        ``MAX_PARAMETERS`` can take, see :func:`zoo.runfiles.max_checkpoint_bytes`) is not read.
        The weights' names and shapes are checked by the caller (:func:`zoo.runfiles.check_weights`),
        against the model it builds.
        """
        which = path.stem
        path = self.checkpoint_file(path)
        if not path.exists() and not path.is_symlink():
            raise RunError(f"{path}: no checkpoint; the run has not finished an epoch yet")
        limit = runfiles.max_checkpoint_bytes(MAX_PARAMETERS) if max_bytes is None else max_bytes
        data = runfiles.read_file(path, limit, self.path)
        state = _unpickle_weights_only(data, path) if path.suffix == LEGACY_SUFFIX else _safe_state(data, path)
        model = runfiles.TrainingState if which == self.last.stem else runfiles.Weights
        return runfiles.validated(model, state, path)


def _safe_state(data: bytes, path: Path) -> Any:
    from zoo.safestate import decode

    return decode(data, path)


def _unpickle_weights_only(data: bytes, path: Path) -> Any:
    """An older run's ``.pt`` checkpoint, through torch's restricted unpickler (tensors and plain data)."""
    import io
    import pickle

    import torch

    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"{path}: not a loadable zoo checkpoint (refused or corrupt: {first})") from None


def _own_name(name: str, patterns: tuple[str, ...]) -> bool:
    """``name`` matches one of zoo's ``patterns``, or is a temporary file of an atomic write."""
    from fnmatch import fnmatchcase

    if name.startswith(".") and name.endswith(".tmp"):
        return any(fnmatchcase(name[1:].rsplit(".", 2)[0], pattern) for pattern in patterns)
    return any(fnmatchcase(name, pattern) for pattern in patterns)
