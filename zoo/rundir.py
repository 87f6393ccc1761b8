"""The run directory: everything needed to use and reproduce one training run.

Layout::

    spec.yaml             the resolved spec (loadable by ``zoo train``)
    run.json              versions of python, torch, zoo and of every plugin whose component is used
    vocab.json            the vocabulary built from the training split
    checkpoints/last.pt   full training state after the latest epoch (resume reads it)
    checkpoints/best.pt   model weights of the best epoch so far (evaluate and predict read it)
    metrics.jsonl         one line per epoch
    summary.json          test metrics, best epoch, timings; present only once the run finished
    curves.png            learning curves
    confusion.png         the test split's confusion matrix (single-label tasks)

Every file is written atomically. Checkpoints hold only tensors and plain data and are read with
``torch.load(..., weights_only=True)``, so loading one never runs code.
"""

from __future__ import annotations

import json
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from zoo.errors import RunError, SpecError, UnknownComponentError
from zoo.io import atomic_write, atomic_write_json, atomic_write_text
from zoo.registry import Registry
from zoo.spec import COMPONENT_PATHS

#: What zoo itself writes at the top of a run directory: ``--force`` removes these and nothing else.
OWN_FILES = frozenset({"spec.yaml", "run.json", "vocab.json", "metrics.jsonl", "summary.json", "curves.png",
                       "confusion.png"})
#: Folders zoo writes, each with the name patterns of what may be inside.
OWN_FOLDERS = {"checkpoints": ("best.pt", "last.pt"), "tensorboard": ("events.out.tfevents.*",)}


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
        return self.path / "checkpoints" / "last.pt"

    @property
    def best(self) -> Path:
        return self.path / "checkpoints" / "best.pt"

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
        return self.last.exists() or self.best.exists()

    def foreign_entries(self) -> list[str]:
        """What the folder holds that zoo did not write (a user's files), as relative paths.

        Temporary files of zoo's atomic writes (``.NAME.*.tmp``) count as zoo's own.
        """
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
            raise RunError(f"{path} holds files that zoo did not write ({shown}); zoo will not replace "
                           "it. Choose another --out (a new or empty folder)")
        if self.trained and not force:
            state = "a finished run" if self.finished else "an unfinished run (continue it with --resume)"
            raise RunError(f"{path} already holds {state}; choose another --out or pass --force to replace it")

    def create(self) -> None:
        """Empty the folder of zoo's own files, checking again that it holds no one else's."""
        self.check_new(force=True)
        if self.path.is_dir():
            for entry in self.path.iterdir():
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        self.path.mkdir(parents=True, exist_ok=True)

    def write_spec(self, spec: BaseModel, registry: Registry) -> None:
        """Write ``spec.yaml`` and ``run.json`` (the versions of everything the run uses)."""
        self.save_spec(spec)
        atomic_write_json(self.run_file, versions(spec, registry))

    def save_spec(self, spec: BaseModel) -> None:
        """Write ``spec.yaml`` alone (a resumed run that was extended)."""
        atomic_write_text(self.spec_file, yaml.safe_dump(dump_spec(spec), sort_keys=False))

    def read_spec(self, registry: Registry | None = None) -> BaseModel:
        """The run's spec, validated against the installed plugins.

        A component whose plugin is no longer installed is reported by the plugin's name and
        distribution, as recorded in ``run.json`` when the run was made.
        """
        from zoo.spec import read_spec_file, validate_spec

        if not self.spec_file.exists():
            raise RunError(f"{self.path} is not a zoo run directory (no spec.yaml)")
        data = read_spec_file(self.spec_file)
        try:
            return validate_spec(data, registry, str(self.spec_file))
        except SpecError as exc:
            missing = self._missing_plugins(registry)
            if missing:
                raise UnknownComponentError(
                    f"run {self.path} needs " + "; ".join(missing) + ", which is not installed"
                ) from None
            raise

    def _missing_plugins(self, registry: Registry | None) -> list[str]:
        if registry is None:
            from zoo.plugins import get_registry

            registry = get_registry()
        try:
            recorded = json.loads(self.run_file.read_text(encoding="utf-8"))["components"]
        except (OSError, ValueError, KeyError):
            return []
        missing = []
        for key, origin in recorded.items():
            kind, _, name = key.partition("/")
            if name not in registry.names(kind):
                missing.append(
                    f"{kind} '{name}' from plugin {origin['plugin']} "
                    f"(distribution {origin['distribution']} {origin['version']})"
                )
        return missing

    def save_checkpoint(self, path: Path, state: dict[str, Any]) -> Path:
        """Atomically write a checkpoint of tensors and plain data."""
        import torch

        return atomic_write(path, lambda handle: torch.save(state, handle))

    def load_checkpoint(self, path: Path) -> dict[str, Any]:
        """Read a checkpoint without running any code from it (``weights_only=True``)."""
        import pickle

        import torch

        if not path.exists():
            raise RunError(f"{path}: no checkpoint; the run has not finished an epoch yet")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RunError(
                f"{path}: not a loadable zoo checkpoint (refused or corrupt: {first})"
            ) from None


def _own_name(name: str, patterns: tuple[str, ...]) -> bool:
    """``name`` matches one of zoo's ``patterns``, or is a temporary file of an atomic write."""
    from fnmatch import fnmatchcase

    if name.startswith(".") and name.endswith(".tmp"):
        return any(fnmatchcase(name[1:].rsplit(".", 2)[0], pattern) for pattern in patterns)
    return any(fnmatchcase(name, pattern) for pattern in patterns)
