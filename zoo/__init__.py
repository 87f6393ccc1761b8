"""zoo: a plugin-based model zoo for recurrent text classifiers in PyTorch.

The public API is imported lazily so that ``import zoo`` (and the CLI's start-up) does not pull
in torch until a model is built or trained.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from zoo.hookspecs import hookimpl

__version__ = "0.1.0"

_LAZY = {
    "load_spec": "zoo.spec",
    "spec_model": "zoo.spec",
    "spec_schema": "zoo.spec",
    "list_recipes": "zoo.spec",
    "get_registry": "zoo.plugins",
    "get_plugins": "zoo.plugins",
    "build_model": "zoo.model",
    "TextClassifier": "zoo.model",
    "ZooError": "zoo.errors",
    "train": "zoo.trainer",
    "load": "zoo.classifier",
}

__all__ = ["__version__", "hookimpl", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
