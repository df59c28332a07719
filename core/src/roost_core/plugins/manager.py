"""Finds engine plugins, lazily; a plugin that fails to load is reported and left out, the rest keep working."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

from roost_core.errors import ConfigurationError
from roost_core.plugins import hookspecs
from roost_core.plugins.handlers import HandlerRegistration, HandlerSet, registration
from roost_core.plugins.hookspecs import SinkFactory, StoreFactory
from roost_core.plugins.loading import PluginProblem, load_entry_points, raised_in_hook

if TYPE_CHECKING:
    from roost_core.engine.config import EngineConfig

ENTRY_POINT_GROUP = "roost.engine"
BUILTIN_PLUGINS = ("roost_core.builtin",)


class _PluginManager(pluggy.PluginManager):
    """pluggy's manager, which does not look at dunder attributes (never hooks) when it finds a plugin's hooks
    or the hookspecs: it inspects each attribute statically, ~10 µs apiece, and a plugin object has dozens of
    dunders (an engine, and so a manager, is made for every local run)."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> pluggy.HookimplOpts | None:
        """pluggy's, skipping dunder names."""
        return None if name.startswith("__") else super().parse_hookimpl_opts(plugin, name)

    def parse_hookspec_opts(self, module_or_class: Any, name: str) -> pluggy.HookspecOpts | None:
        """pluggy's, skipping dunder names."""
        return None if name.startswith("__") else super().parse_hookspec_opts(module_or_class, name)


class EnginePlugins:
    """The engine's plugin manager.

    Built-in plugins and those passed in are registered the first time a hook's answer is asked for, and
    entry-point plugins (group ``roost.engine``) are imported then, not before. A plugin passed in that
    implements a hook that does not exist fails loading with an error naming it. An entry-point plugin that
    does not import, implements such a hook, or raises in a hook is left out, logged and listed in
    :attr:`failures` with its distribution; the other plugins keep working.
    """

    def __init__(self, plugins: Iterable[object] = (), *, entry_points: bool = True) -> None:
        self._pm = _PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._extra = list(plugins)
        self._entry_points = entry_points
        self._lock = threading.Lock()
        self._loaded = False
        self._failures: list[PluginProblem] = []
        self._distributions: dict[str, str] = {}
        self._handlers: list[HandlerRegistration] | None = None
        self._sinks: dict[str, SinkFactory] | None = None
        self._stores: dict[str, StoreFactory] | None = None

    @property
    def pluggy_manager(self) -> pluggy.PluginManager:
        """The underlying pluggy manager, with every plugin loaded."""
        self._load()
        return self._pm

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            for name in BUILTIN_PLUGINS:
                self._pm.register(importlib.import_module(name), name=name)
            for plugin in self._extra:
                if not self._pm.is_registered(plugin):  # a built-in passed again
                    self._pm.register(plugin)
            self._pm.check_pending()
            if self._entry_points:
                loaded = load_entry_points(self._pm, ENTRY_POINT_GROUP)
                self._distributions = loaded.distributions
                self._failures = list(loaded.problems)
            self._loaded = True

    @property
    def failures(self) -> list[PluginProblem]:
        """The plugins that were left out, and why."""
        self._load()
        return list(self._failures)

    def plugin_names(self) -> list[str]:
        """Names of every registered plugin, built-ins first."""
        self._load()
        return [name for name, _ in self._pm.list_name_plugin() if name]

    def distribution_of(self, plugin_name: str) -> str | None:
        """The distribution ("roost-spark 0.1") that installed an entry-point plugin, if any."""
        self._load()
        return self._distributions.get(plugin_name) or None

    def handler_registrations(self) -> list[HandlerRegistration]:
        """Every registered handler, in registration order (built-ins first)."""
        if self._handlers is None:
            self._load()
            found: list[HandlerRegistration] = []
            for impl in self._pm.hook.roost_task_handlers.get_hookimpls():
                plugin_name = impl.plugin_name
                mine: list[HandlerRegistration] = []

                def register(
                    name: Any,
                    factory: Any = None,
                    *,
                    task_types: Any = (),
                    default: Any = False,
                    settings: Any = None,
                    _plugin: str = plugin_name,
                    _into: list[HandlerRegistration] = mine,
                ) -> None:
                    _into.append(registration(_plugin, name, factory, task_types, default, settings))

                try:
                    impl.function(register)
                except Exception as exc:
                    if plugin_name not in self._distributions:
                        raise  # a built-in or a plugin passed in: the caller's own mistake
                    problem = PluginProblem(
                        ENTRY_POINT_GROUP,
                        plugin_name,
                        self._distributions[plugin_name],
                        raised_in_hook("roost_task_handlers", exc),
                    )
                    problem.report()
                    self._failures.append(problem)
                    continue
                found += mine
            self._handlers = found
        return self._handlers

    def sink_factories(self) -> dict[str, SinkFactory]:
        """Event sink factories by name."""
        if self._sinks is None:
            self._sinks = self._collect("roost_event_sinks", "event sink")
        return self._sinks

    def store_factories(self) -> dict[str, StoreFactory]:
        """Blob store factories by URI scheme."""
        if self._stores is None:
            self._stores = self._collect("roost_blob_stores", "blob store")
        return self._stores

    def _collect(self, hook_name: str, what: str) -> dict[str, Any]:
        self._load()
        found: dict[str, Any] = {}
        owner: dict[str, str] = {}
        for impl in getattr(self._pm.hook, hook_name).get_hookimpls():

            def register(key: str, factory: Any, _plugin: str = impl.plugin_name) -> None:
                if key in found:
                    raise ConfigurationError(
                        f"{what} {key!r} is registered twice: by {owner[key]!r} and by {_plugin!r}"
                    )
                found[key] = factory
                owner[key] = _plugin

            impl.function(register)
        return found

    def handlers(self, config: EngineConfig | None = None) -> HandlerSet:
        """The handlers for ``config``: chosen by task type, settings checked (see :class:`HandlerSet`)."""
        from roost_core.engine.config import EngineConfig

        return HandlerSet(self.handler_registrations(), config or EngineConfig())
