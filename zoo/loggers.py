"""The spec's loggers: built for one run from the registry, told of its lifecycle events.

A logger is a component like an encoder: a plugin registers it (``registry.register("logger",
NAME, config=..., factory=...)``) and a spec names it in its top-level list, ``loggers:
[tensorboard]`` or ``[{type: tensorboard, ...options}]``. For each run, ``factory(config)``
builds one logger object on the main process, and the trainer calls whichever of its methods
exist, with the arguments of the hooks of the same names in :mod:`zoo.hookspecs`:
``on_run_start(run)``, ``on_epoch_end(run, epoch, metrics)``, ``on_checkpoint_saved(run, path,
epoch, best)``, ``on_run_end(run, summary)``. A method may take only the arguments it needs.
So a logger acts for the runs that ask for it and no others, unlike a plain lifecycle hook,
which sees every run.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from zoo.plugins import call_attributed
from zoo.registry import Component, Registry


@dataclass(frozen=True)
class RunLogger:
    """One logger built for a run, with the component (and so the plugin) it came from."""

    component: Component
    logger: Any

    def notify(self, event: str, **kwargs: Any) -> None:
        """Call the logger's method for ``event``, if it has one; a failure names the plugin."""
        method = getattr(self.logger, event, None)
        if callable(method):
            call_attributed(self.component.plugin.name, event, method, kwargs, _argnames(method))


def build_loggers(specs: list[Any], registry: Registry) -> list[RunLogger]:
    """One :class:`RunLogger` per entry of a spec's ``loggers``, in the spec's order."""
    built = []
    for spec in specs:
        component = registry.get("logger", spec.type)
        logger = call_attributed(component.plugin.name, f"the factory of logger '{spec.type}'", component.build,
                                 {"config": spec})
        built.append(RunLogger(component, logger))
    return built


def _argnames(method: Any) -> tuple[str, ...] | None:
    """The keyword arguments ``method`` accepts; ``None`` when it takes ``**kwargs``."""
    parameters = inspect.signature(method).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return tuple(p.name for p in parameters if p.kind is not inspect.Parameter.POSITIONAL_ONLY)
