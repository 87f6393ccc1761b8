"""The component registry: named tokenizers, datasets, encoders, heads and loggers, with configs.

Plugins fill it through the ``register_components`` hook; the spec, the CLI and the model
builder read it. A component is a factory plus a pydantic config model: the registry derives
from that model a spec model with a ``type: Literal[name]`` discriminator, so that every kind
becomes a discriminated union in the spec and a plugin's fields are validated like zoo's own.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model

from zoo.errors import PluginError, UnknownComponentError
from zoo.hookspecs import KINDS


@dataclass(frozen=True)
class PluginInfo:
    """Where a registration came from: the plugin's name and its distribution."""

    name: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False

    def __str__(self) -> str:
        dist = self.distribution or "not installed"
        return f"{dist} {self.version}" if self.version else dist


@dataclass(frozen=True)
class Component:
    """One registered component: ``factory(config, **inputs)`` builds it from ``config``."""

    kind: str
    name: str
    config: type[BaseModel]
    factory: Callable[..., Any] | str
    description: str
    plugin: PluginInfo

    def build(self, config: BaseModel | dict[str, Any] | None = None, **inputs: Any) -> Any:
        """Validate ``config`` (a dict, a config object or ``None`` for defaults) and build."""
        if not isinstance(config, self.config):
            data = dict(config or {}) if not isinstance(config, BaseModel) else config.model_dump()
            data.setdefault("type", self.name)
            config = self.config.model_validate(data)
        return self.load_factory()(config, **inputs)

    def load_factory(self) -> Callable[..., Any]:
        """The factory, importing it now if it was registered as ``"module:attribute"``."""
        if callable(self.factory):
            return self.factory
        module_name, _, attr = self.factory.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"{self.kind} '{self.name}' from plugin {self.plugin.name} ({self.plugin}): "
                f"cannot import its factory {self.factory!r}: {exc}"
            ) from exc


@dataclass
class UnavailablePlugin:
    """An installed plugin whose components are not registered: disabled, or broken.

    ``probe`` tells, when first asked, the ``(kind, name)`` pairs the plugin would register: for
    a disabled plugin it loads it into a scratch registry, so only an unknown-name message pays
    for that; for a broken one it is what it registered before it failed (nothing, if it failed
    to import).
    """

    info: PluginInfo
    reason: str
    disabled: bool = False
    probe: Callable[[], frozenset[tuple[str, str]]] = field(default=frozenset, repr=False)
    _provides: frozenset[tuple[str, str]] | None = field(default=None, init=False, repr=False)

    def provides(self, kind: str, name: str) -> bool:
        """Whether this plugin is known to register the ``kind`` component ``name``."""
        if self._provides is None:
            self._provides = self.probe()
        return (kind, name) in self._provides


@dataclass
class Registry:
    """Components by kind and name, filled by plugins through ``register_components``.

    ``unavailable`` holds, by name, the installed plugins that are disabled or could not load or
    register, so that a spec needing one of their components is told which plugin it comes from
    rather than only "unknown name".
    """

    _components: dict[str, dict[str, Component]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    unavailable: dict[str, UnavailablePlugin] = field(default_factory=dict)
    _current: PluginInfo = field(default_factory=lambda: PluginInfo("<direct>"))
    #: The ``Spec`` model built from this registry (see :func:`zoo.spec.spec_model`); reset
    #: whenever a component is registered.
    spec_model: type[BaseModel] | None = field(default=None, repr=False)

    def register(
        self,
        kind: str,
        name: str,
        *,
        config: type[BaseModel],
        factory: Callable[..., Any] | str,
        description: str | None = None,
        override: bool = False,
    ) -> Component:
        """Register ``factory`` as the ``kind`` component ``name`` with config model ``config``.

        ``override=True`` replaces an existing component of that name deliberately; without it a
        second registration is an error naming both plugins.
        """
        origin = self._current
        if kind not in KINDS:
            raise PluginError(
                f"plugin {origin.name} registers '{name}' as unknown kind '{kind}'; "
                f"kinds are: {', '.join(KINDS)}"
            )
        if not (isinstance(config, type) and issubclass(config, BaseModel)):
            raise PluginError(
                f"plugin {origin.name} registers {kind} '{name}' with config {config!r}, "
                "which is not a pydantic BaseModel subclass"
            )
        if "type" in config.model_fields:
            raise PluginError(
                f"plugin {origin.name}: the config of {kind} '{name}' defines a field 'type'; "
                "zoo adds that discriminator itself, remove it"
            )
        existing = self._components[kind].get(name)
        if existing is not None and not override:
            raise PluginError(
                f"{kind} '{name}' is registered twice: by plugin {existing.plugin.name} "
                f"({existing.plugin}) and by plugin {origin.name} ({origin}); "
                "uninstall or disable one (ZOO_DISABLE_PLUGINS), or register with override=True"
            )
        if description is None:
            description = _first_line(_own_doc(factory) or config.__doc__)
        spec_model = create_model(
            f"{_camel(name)}{kind.capitalize()}Spec",
            __base__=config,
            __doc__=description or None,
            __config__=None,
            type=(Literal[name], name),
        )
        spec_model.model_config = ConfigDict(
            **{**config.model_config, "extra": "forbid",
               "json_schema_extra": _requiring_type(config.model_config.get("json_schema_extra"))}
        )
        spec_model.model_rebuild(force=True)
        component = Component(kind, name, spec_model, factory, description or "", origin)
        self._components[kind][name] = component
        self.spec_model = None
        return component

    def decorator(self, kind: str, name: str, **options: Any) -> Callable[[Callable], Callable]:
        """``@registry.decorator("encoder", "cnn", config=CnnConfig)`` on a factory function."""

        def wrap(factory: Callable) -> Callable:
            self.register(kind, name, factory=factory, **options)
            return factory

        return wrap

    def tokenizer(self, name: str, **options: Any) -> Callable[[Callable], Callable]:
        """Decorator registering a tokenizer factory: ``factory(config) -> (str -> list[str])``."""
        return self.decorator("tokenizer", name, **options)

    def dataset(self, name: str, **options: Any) -> Callable[[Callable], Callable]:
        """Decorator registering a dataset factory (see :mod:`zoo.data.interface`)."""
        return self.decorator("dataset", name, **options)

    def encoder(self, name: str, **options: Any) -> Callable[[Callable], Callable]:
        """Decorator registering an encoder factory: ``factory(config, input_size) -> Module``."""
        return self.decorator("encoder", name, **options)

    def head(self, name: str, **options: Any) -> Callable[[Callable], Callable]:
        """Decorator registering a head: ``factory(config, input_size, num_outputs) -> Module``."""
        return self.decorator("head", name, **options)

    def logger(self, name: str, **options: Any) -> Callable[[Callable], Callable]:
        """Decorator registering a logger: ``factory(config)`` (see :mod:`zoo.loggers`)."""
        return self.decorator("logger", name, **options)

    def get(self, kind: str, name: str) -> Component:
        """The ``kind`` component ``name``; an unknown name raises a message with the nearest."""
        try:
            return self._components[kind][name]
        except KeyError:
            raise UnknownComponentError(self.unknown_message(kind, name)) from None

    def unknown_message(self, kind: str, name: str) -> str:
        """Explain an unknown name: the valid names, the nearest one, and any broken plugin."""
        if kind not in self._components:
            return f"unknown component kind '{kind}'; kinds are: {', '.join(KINDS)}"
        names = sorted(self._components[kind])
        msg = f"unknown {kind} '{name}'; registered {kind}s: {', '.join(names) or '(none)'}"
        note = self.unavailable_note((kind,), name)
        nearest = difflib.get_close_matches(str(name), names, n=1)
        if nearest and not note.startswith(";"):  # a plugin known to provide it is the answer
            msg += f". Did you mean '{nearest[0]}'?"
        return msg + note

    @property
    def failed(self) -> dict[str, str]:
        """The error of every plugin that failed to load or register, by plugin name."""
        return {name: p.reason for name, p in self.unavailable.items() if not p.disabled}

    def unavailable_note(self, kinds: tuple[str, ...], name: str) -> str:
        """Which disabled or broken plugin provides ``name`` (of one of ``kinds``), if any.

        Plugins known to provide it are named with why they are unavailable; failing that, every
        broken plugin is listed, since what it would have registered is not known.
        """
        providers = [p for p in self.unavailable.values()  # a name is a string (a spec may hold anything)
                     if isinstance(name, str) and any(p.provides(kind, name) for kind in kinds)]
        if providers:
            return "; " + "; ".join(
                f"plugin {p.info.name} ({p.info}) provides it but "
                + ("is disabled by ZOO_DISABLE_PLUGINS" if p.disabled else f"is broken ({p.reason})")
                for p in providers
            )
        if self.failed:
            broken = "; ".join(f"{plugin}: {error}" for plugin, error in self.failed.items())
            return f" (plugins that failed to load, which may provide it: {broken})"
        return ""

    def names(self, kind: str) -> list[str]:
        """The registered names of ``kind``, in registration order."""
        return list(self._components[kind])

    def of_kind(self, kind: str) -> list[Component]:
        """The registered components of ``kind``, in registration order."""
        return list(self._components[kind].values())

    def find(self, name: str) -> list[Component]:
        """Every component called ``name``, whatever its kind (``zoo show`` uses this)."""
        return [kinds[name] for kinds in self._components.values() if name in kinds]

    def __iter__(self) -> Iterator[Component]:
        for kind in KINDS:
            yield from self._components[kind].values()

    def build(self, kind: str, config: BaseModel | dict[str, Any] | str, **inputs: Any) -> Any:
        """Build a component from its spec (``{"type": name, ...}``, a spec object or a name)."""
        if isinstance(config, str):
            config = {"type": config}
        name = config.type if isinstance(config, BaseModel) else config.get("type")
        return self.get(kind, name).build(config, **inputs)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_") if part)


def _requiring_type(extra: Any) -> Callable[[dict[str, Any]], None]:
    """A ``json_schema_extra`` that marks ``type`` required, after the plugin's own ``extra``.

    A spec must name the component (a dict without ``type`` is refused), although ``build``
    fills it in; the JSON Schema says so, so that editors agree with ``zoo validate``.
    """

    def extend(schema: dict[str, Any], model: type[BaseModel]) -> None:
        if isinstance(extra, dict):
            schema.update(extra)
        elif callable(extra) and len(inspect.signature(extra).parameters) > 1:  # pydantic's two forms
            extra(schema, model)
        elif callable(extra):
            extra(schema)
        schema["required"] = ["type", *(name for name in schema.get("required", []) if name != "type")]

    return extend


def _own_doc(factory: Callable[..., Any] | str) -> str | None:
    """The factory's own docstring: a function's or a class's, not that of the object's type.

    An import string (``"module:function"``) has none of its own (``str.__doc__`` is Python's
    documentation of ``str``), and neither has a ``functools.partial`` or another instance.
    """
    return factory.__doc__ if inspect.isroutine(factory) or inspect.isclass(factory) else None


def _first_line(text: str | None) -> str:
    return text.strip().splitlines()[0].strip() if text and text.strip() else ""
