"""The hook specifications: the whole contract between zoo and its plugins.

A plugin is any module (or object) with functions marked ``@zoo.hookimpl`` whose names match
the specifications below. Plugins are found through the ``zoo`` entry-point group; zoo's own
components are registered through the very same group.

``register_components`` is called once per plugin with a :class:`zoo.registry.Registry`.
The ``on_*`` hooks are lifecycle notifications, called on every plugin that implements them
(pluggy's 1:N calls) while a run trains, whatever its spec; their return values are ignored.
A *logger* component (see :mod:`zoo.loggers`) gets the same notifications as methods, for the
runs whose spec lists it only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    from zoo.registry import Registry

hookspec = pluggy.HookspecMarker("zoo")
hookimpl = pluggy.HookimplMarker("zoo")

#: The kinds of component ``register_components`` may register, in the order listings show them.
KINDS: tuple[str, ...] = ("tokenizer", "dataset", "encoder", "head", "logger")


@hookspec
def register_components(registry: Registry) -> None:
    """Register tokenizers, datasets, encoders, heads and loggers on ``registry``.

    Registration must stay cheap: give the factory as an import string
    (``"package.module:function"``) or import heavy modules inside the factory, so that
    ``zoo --help`` and ``zoo list`` never import torch.
    """


@hookspec
def on_run_start(run: Any) -> None:
    """A run is about to train (``run.dir``, ``run.spec``, ``run.start_epoch`` are set)."""


@hookspec
def on_epoch_end(run: Any, epoch: int, metrics: dict[str, float]) -> None:
    """An epoch finished; ``metrics`` holds train/valid loss and accuracy, seconds and lr.

    ``run.stop(reason)`` ends training after this epoch; the run still finishes (see
    :meth:`zoo.trainer.Run.stop`).
    """


@hookspec
def on_checkpoint_saved(run: Any, path: Path, epoch: int, best: bool) -> None:
    """A checkpoint was written atomically to ``path``; ``best`` if it is the new best."""


@hookspec
def on_run_end(run: Any, summary: dict[str, Any]) -> None:
    """A run finished; ``summary`` is what ``summary.json`` holds."""
