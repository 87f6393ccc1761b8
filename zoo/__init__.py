"""zoo: a plugin-based model zoo for recurrent text classifiers in PyTorch.

The public API is imported lazily so that ``import zoo`` (and the CLI's start-up) does not pull
in torch until a model is built or trained.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from zoo.hookspecs import hookimpl

#: The version; ``pyproject.toml`` reads it from here, so the installed metadata agrees.
__version__ = "0.1.0"

#: The name zoo is installed under (``pip install rnn-zoo``). The import package and the ``zoo``
#: command are called ``zoo``, but ``zoo`` on the public package index is an unrelated project:
#: every install message goes through :func:`install_hint` so that none names the wrong one.
DISTRIBUTION = "rnn-zoo"

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

__all__ = ["DISTRIBUTION", "__version__", "hookimpl", "install_hint", *_LAZY]


def install_hint(extra: str | None = None) -> str:
    """The command that installs zoo, with an optional extra: ``pip install 'rnn-zoo[extra]'``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'" if extra else f"pip install {DISTRIBUTION}"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
