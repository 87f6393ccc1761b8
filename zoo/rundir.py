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

Every file is written atomically. Checkpoints hold only tensors and plain data and are read with
``torch.load(..., weights_only=True)``, so loading one never runs code.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from zoo.errors import RunError, SpecError, UnknownComponentError
from zoo.io import atomic_write, atomic_write_json, atomic_write_text
from zoo.registry import Registry

COMPONENT_FIELDS = {
    "tokenizer": ("tokenizer",),
    "dataset": ("data", "dataset"),
    "encoder": ("model", "encoder"),
    "head": ("model", "head"),
}


def components_of(spec: BaseModel) -> dict[str, str]:
    """``{kind: name}`` of the components a spec uses."""
    used = {}
    for kind, path in COMPONENT_FIELDS.items():
        node: Any = spec
        for part in path:
            node = getattr(node, part)
        used[kind] = node.type
    return used


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
    def finished(self) -> bool:
        return self.summary_file.exists()

    def write_spec(self, spec: BaseModel, registry: Registry) -> None:
        """Write ``spec.yaml`` and ``run.json`` (the versions of everything the run uses)."""
        import torch

        from zoo import __version__

        plugins = {}
        for kind, name in components_of(spec).items():
            origin = registry.get(kind, name).plugin
            plugins[f"{kind}/{name}"] = {
                "plugin": origin.name, "distribution": origin.distribution, "version": origin.version,
            }
        atomic_write_text(self.spec_file, yaml.safe_dump(dump_spec(spec), sort_keys=False))
        atomic_write_json(
            self.run_file,
            {"zoo": __version__, "torch": torch.__version__, "python": platform.python_version(),
             "components": plugins},
        )

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
