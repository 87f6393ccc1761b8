"""Finding, loading and isolating plugins.

Every plugin, zoo's built-ins included, is an entry point in the ``zoo`` group (or a module named
in ``ZOO_PLUGINS`` / ``zoo -p MODULE`` for development). Each is loaded and asked to register its
components on its own, so that one broken plugin is reported (a warning, and in ``zoo plugins``)
while everything else keeps working. ``ZOO_STRICT_PLUGINS=1`` makes any failure fatal instead;
``ZOO_DISABLE_PLUGINS=a,b`` skips plugins by name.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import os
import re
import sys
import traceback
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import cache, partial
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from zoo import DISTRIBUTION, hookspecs
from zoo.errors import PluginError, ZooError
from zoo.registry import PluginInfo, Registry, UnavailablePlugin

GROUP = "zoo"


@dataclass
class LoadedPlugin:
    """One plugin as ``zoo plugins`` reports it."""

    info: PluginInfo
    module: Any = None
    error: str | None = None
    components: list[str] = field(default_factory=list)
    #: What a plugin whose registration failed had registered before it was undone.
    undone: frozenset[tuple[str, str]] = frozenset()

    @property
    def hooks(self) -> list[str]:
        """The hook names this plugin implements."""
        return sorted(
            name for name in dir(self.module) if name in _HOOK_NAMES and callable(getattr(self.module, name))
        )


_HOOK_NAMES = {name for name in dir(hookspecs) if name.startswith(("register_", "on_"))}


@dataclass
class Plugins:
    """The plugin manager, the registry it filled, and what happened to each plugin."""

    manager: pluggy.PluginManager
    registry: Registry
    loaded: list[LoadedPlugin]

    @property
    def hook(self) -> Any:
        """Call lifecycle hooks: ``plugins.hook.on_epoch_end(run=..., epoch=..., metrics=...)``."""
        return self.manager.hook

    def failures(self) -> list[LoadedPlugin]:
        """The plugins that failed to load or to register."""
        return [p for p in self.loaded if p.error]


#: What a plugin's code may raise that zoo isolates. SystemExit too: a module that parses its own
#: command line at import (argparse's error) or calls sys.exit would otherwise end every zoo
#: command, silently or with a usage line that is not zoo's. Ctrl-C still stops zoo.
PLUGIN_FAILURES: tuple[type[BaseException], ...] = (Exception, SystemExit)


def _names_from_env(variable: str) -> list[str]:
    return [name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()]


def _strict() -> bool:
    return os.environ.get("ZOO_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


def _describe(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {frame[0].filename}:{frame[0].lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


def is_core_distribution(distribution: str | None) -> bool:
    """Whether ``distribution`` is zoo's own, compared as the package index compares names
    (``Rnn_Zoo`` is ``rnn-zoo``)."""
    return bool(distribution) and re.sub(r"[-_.]+", "-", distribution).lower() == DISTRIBUTION


def _entry_point_info(ep: EntryPoint) -> PluginInfo:
    dist = ep.dist
    name = dist.metadata["Name"] if dist is not None else None
    version = dist.version if dist is not None else None
    return PluginInfo(ep.name, name, version, builtin=is_core_distribution(name))


def load_plugins(modules: tuple[str, ...] = ()) -> Plugins:
    """Load every plugin of the ``zoo`` entry-point group plus ``modules`` and fill a registry."""
    manager = pluggy.PluginManager(GROUP)
    manager.add_hookspecs(hookspecs)
    registry = Registry()
    disabled = set(_names_from_env("ZOO_DISABLE_PLUGINS"))
    loaded: list[LoadedPlugin] = []
    seen: dict[str, PluginInfo] = {}

    candidates: list[tuple[PluginInfo, Any]] = [
        (_entry_point_info(ep), ep.load) for ep in entry_points(group=GROUP)
    ]
    # zoo's built-ins first, whatever the order of sys.path: they own their names, a third-party
    # ``override=True`` then really replaces one, and listings start with the built-ins.
    candidates.sort(key=lambda candidate: not candidate[0].builtin)
    # a module named twice (ZOO_PLUGINS=m in the shell, and zoo -p m) is one plugin
    named = tuple(dict.fromkeys((*_names_from_env("ZOO_PLUGINS"), *modules)))
    if named:
        _add_working_directory()
    for module_name in named:
        candidates.append(
            (PluginInfo(module_name, None, None), lambda m=module_name: importlib.import_module(m))
        )

    for info, load in candidates:
        if info.name in disabled:
            registry.unavailable[info.name] = UnavailablePlugin(
                info, "disabled by ZOO_DISABLE_PLUGINS", disabled=True, probe=partial(_would_register, load)
            )
            continue
        plugin = LoadedPlugin(info)
        loaded.append(plugin)
        if info.name in seen:
            # pluggy would silently skip a second plugin of the same name; say so instead.
            plugin.error = (
                f"plugin name '{info.name}' is used by both {seen[info.name]} and {info}; "
                "only the first was loaded"
            )
            continue
        seen[info.name] = info
        try:
            module = load()
            if manager.is_registered(module):
                # zoo -p MODULE of a plugin that is installed too: it is loaded already, by its
                # entry point's name (pluggy would refuse it with a dump of every plugin)
                loaded.remove(plugin)
                continue
            plugin.module = module
            manager.register(plugin.module, name=info.name)
        except PLUGIN_FAILURES as exc:  # noqa: BLE001 - a broken plugin must not break zoo
            plugin.error = f"failed to load: {_describe(exc)}"
            continue
        unknown = _unknown_hooks(manager, plugin.module)
        if unknown:
            manager.unregister(plugin.module)
            plugin.error = f"failed to load: {unknown}"
            continue
        _register_components(manager, registry, plugin)

    for plugin in loaded:
        if plugin.error:
            registry.unavailable.setdefault(
                plugin.info.name, UnavailablePlugin(plugin.info, plugin.error, probe=lambda p=plugin: p.undone)
            )
    if _strict() and registry.failed:
        raise PluginError(
            "plugin failures (ZOO_STRICT_PLUGINS is set):\n  "
            + "\n  ".join(f"{name}: {error}" for name, error in registry.failed.items())
        )
    return Plugins(manager, registry, loaded)


def _unknown_hooks(manager: pluggy.PluginManager, module: Any) -> str | None:
    """Why ``module``'s ``@hookimpl`` functions that match no zoo hook are an error, if it has any.

    pluggy keeps such a function for a hook specification that may come later, so a misspelt
    hook (``on_epochs_end``) would never be called, without a word.
    """
    known = sorted(name for name in dir(hookspecs) if not name.startswith("_")
                   and manager.parse_hookspec_opts(hookspecs, name) is not None)
    problems = []
    for caller in manager.get_hookcallers(module) or []:
        if caller.spec is None:
            near = difflib.get_close_matches(caller.name, known, n=1)
            problems.append(f"@hookimpl {caller.name} is not a zoo hook"
                            + (f" (did you mean {near[0]}?)" if near else ""))
    if not problems:
        return None
    return "; ".join(problems) + f"; zoo's hooks are {', '.join(known)}"


def _add_working_directory() -> None:
    """Put the current folder first on ``sys.path``, as ``python -m`` does.

    A module named with ``zoo -p`` or ``ZOO_PLUGINS`` is often one being written in the current
    folder, and the ``zoo`` console script (unlike ``python -m zoo``) does not look there. It
    stays on the path: the module's factories (``"my_module_layers:build"``) are imported later.
    """
    cwd = os.getcwd()
    if not any(os.path.abspath(entry or os.curdir) == cwd for entry in sys.path):
        sys.path.insert(0, cwd)


def _register_components(manager: pluggy.PluginManager, registry: Registry, plugin: LoadedPlugin) -> None:
    """Call one plugin's ``register_components`` alone, so its origin and failures are its own."""
    impls = [
        impl
        for impl in manager.hook.register_components.get_hookimpls()
        if impl.plugin is plugin.module
    ]
    before = {(c.kind, c.name): c for c in registry}
    registry._current = plugin.info
    try:
        for impl in impls:
            impl.function(registry=registry)
    except PLUGIN_FAILURES as exc:  # noqa: BLE001 - isolate the plugin, keep what others registered
        plugin.error = f"register_components failed: {exc}" if isinstance(exc, PluginError) else (
            f"register_components failed: {_describe(exc)}"
        )
        plugin.undone = frozenset((c.kind, c.name) for c in registry if before.get((c.kind, c.name)) is not c)
        _restore(registry, before)
        manager.unregister(plugin.module)  # isolated as a whole: its lifecycle hooks go too
        return
    finally:
        registry._current = PluginInfo("<direct>")
    plugin.components = [f"{c.kind}/{c.name}" for c in registry if before.get((c.kind, c.name)) is not c]


def _would_register(load: Callable[[], Any]) -> frozenset[tuple[str, str]]:
    """The ``(kind, name)`` pairs a disabled plugin would register, found in a scratch registry.

    Called only to explain an unknown name, so a disabled plugin costs nothing otherwise; its
    hooks are never added to the real plugin manager. A failure just means nothing is known.
    """
    manager = pluggy.PluginManager(GROUP)
    manager.add_hookspecs(hookspecs)
    scratch = Registry()
    with contextlib.suppress(*PLUGIN_FAILURES):
        manager.register(load())
        manager.hook.register_components(registry=scratch)
    return frozenset((c.kind, c.name) for c in scratch)


def _restore(registry: Registry, before: dict[tuple[str, str], Any]) -> None:
    """Undo a failed plugin's partial registrations, putting back anything it overrode."""
    for kind, names in registry._components.items():
        for name in list(names):
            if (kind, name) not in before:
                del names[name]
            else:
                names[name] = before[(kind, name)]


_extra_modules: tuple[str, ...] = ()


def add_plugin_modules(modules: list[str]) -> None:
    """Load these modules as plugins too (``zoo -p MODULE``); call before :func:`get_plugins`."""
    global _extra_modules
    _extra_modules = (*_extra_modules, *modules)
    get_plugins.cache_clear()


@cache
def get_plugins() -> Plugins:
    """The process-wide plugins, loaded once; failures are warned about on stderr."""
    plugins = load_plugins(_extra_modules)
    for failure in plugins.failures():
        print(f"zoo: warning: plugin {failure.info.name}: {failure.error}", file=sys.stderr)
    return plugins


def get_registry() -> Registry:
    """The process-wide registry of components from every installed plugin."""
    return get_plugins().registry


def notify(plugins: Plugins, hook_name: str, **kwargs: Any) -> None:
    """Call a lifecycle hook on every plugin, one at a time, so a failure names its plugin.

    Implementations run in pluggy's own call order. A raising plugin stops the call with a
    :class:`PluginError` naming the plugin and the hook; the caller decides what that stops.
    """
    names = {id(p.module): p.info.name for p in plugins.loaded if p.module is not None}
    for impl in reversed(getattr(plugins.hook, hook_name).get_hookimpls()):
        call_attributed(names.get(id(impl.plugin), impl.plugin_name), hook_name, impl.function,
                        kwargs, impl.argnames)


def call_attributed(plugin: str, hook_name: str, function: Callable[..., Any], kwargs: dict[str, Any],
                    argnames: Collection[str] | None = None) -> Any:
    """``function`` called with those ``kwargs`` it accepts (all if ``argnames`` is ``None``).

    Any failure becomes one :class:`PluginError`, ``plugin NAME failed in HOOK: ...``, so that
    the user learns which plugin broke, not a traceback from inside it.
    """
    accepted = kwargs if argnames is None else {k: v for k, v in kwargs.items() if k in argnames}
    try:
        return function(**accepted)
    except PLUGIN_FAILURES as exc:  # noqa: BLE001 - attribute the failure to its plugin
        # a ZooError is a message meant for the user (e.g. "pip install ..."): keep it plain
        detail = str(exc) if isinstance(exc, ZooError) else _describe(exc)
        raise PluginError(f"plugin {plugin} failed in {hook_name}: {detail}") from exc
