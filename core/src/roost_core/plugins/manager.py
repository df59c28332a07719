"""Finds engine plugins, lazily, and answers "which handler runs this task type?"."""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

from roost_core.errors import ConfigurationError, UnknownTaskTypeError
from roost_core.handler import TaskHandler
from roost_core.plugins import hookspecs
from roost_core.plugins.hookspecs import SinkFactory, StoreFactory

ENTRY_POINT_GROUP = "roost.engine"
BUILTIN_PLUGINS = ("roost_core.builtin",)


@dataclass(frozen=True, slots=True)
class HandlerRegistration:
    """One handler and the task types it registered for."""

    handler: TaskHandler
    task_types: tuple[str, ...]
    plugin: str


class EnginePlugins:
    """The engine's plugin manager.

    Built-in plugins and those passed in are registered at once; entry-point plugins (group
    ``roost.engine``) are imported the first time a hook's answer is asked for, not before. Plugins that
    implement a hook that does not exist fail loading with an error naming it.
    """

    def __init__(self, plugins: Iterable[object] = (), *, entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._extra = list(plugins)
        self._entry_points = entry_points
        self._lock = threading.Lock()
        self._loaded = False
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
                self._pm.register(plugin)
            if self._entry_points:
                self._pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            self._pm.check_pending()
            self._loaded = True

    def plugin_names(self) -> list[str]:
        """Names of every registered plugin, built-ins first."""
        self._load()
        return [name for name, _ in self._pm.list_name_plugin() if name]

    def distribution_of(self, plugin_name: str) -> str | None:
        """The distribution ("roost-spark 0.1") that installed an entry-point plugin, if any."""
        self._load()
        for plugin, dist in self._pm.list_plugin_distinfo():
            if self._pm.get_name(plugin) == plugin_name:
                return f"{dist.project_name} {dist.version}"
        return None

    def handler_registrations(self) -> list[HandlerRegistration]:
        """Every registered handler with its task types, in registration order."""
        if self._handlers is None:
            self._load()
            found: list[HandlerRegistration] = []
            for impl in self._pm.hook.roost_task_handlers.get_hookimpls():
                plugin_name = impl.plugin_name

                def register(
                    handler: TaskHandler, *, task_types: Iterable[str], _plugin: str = plugin_name
                ) -> None:
                    if not isinstance(handler, TaskHandler):
                        raise ConfigurationError(
                            f"plugin {_plugin!r} registered {handler!r}, which is not a TaskHandler"
                        )
                    if not handler.name:
                        raise ConfigurationError(
                            f"plugin {_plugin!r} registered {type(handler).__name__} without a name"
                        )
                    found.append(HandlerRegistration(handler, tuple(task_types), _plugin))

                impl.function(register)
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

    def handlers(self, default_for_task_types: Mapping[str, str] | None = None) -> HandlerSelector:
        """A selector that picks handlers by task type, honouring configuration."""
        return HandlerSelector(self.handler_registrations(), default_for_task_types or {})


class HandlerSelector:
    """Picks the handler for a task type.

    ``default_for_task_types`` maps a task type to a handler name and wins; otherwise the one handler that
    registered for the task type is used. Two candidates and no configuration is an error that names both.
    """

    def __init__(
        self, registrations: Iterable[HandlerRegistration], default_for_task_types: Mapping[str, str]
    ) -> None:
        self._registrations = list(registrations)
        self._by_name = {r.handler.name: r.handler for r in self._registrations}
        self._by_type: dict[str, list[TaskHandler]] = {}
        for registration in self._registrations:
            for task_type in registration.task_types:
                self._by_type.setdefault(task_type, []).append(registration.handler)
        for task_type, name in default_for_task_types.items():
            if name not in self._by_name:
                raise ConfigurationError(
                    f"default_for_task_types maps {task_type!r} to handler {name!r}, which is not "
                    f"installed; installed handlers: {', '.join(sorted(self._by_name)) or 'none'}"
                )
        self._configured = dict(default_for_task_types)
        self._cache: dict[str, TaskHandler] = {}

    def by_name(self, name: str) -> TaskHandler:
        """The handler registered under ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigurationError(
                f"no handler named {name!r}; installed: {', '.join(sorted(self._by_name)) or 'none'}"
            ) from None

    def for_task_type(self, task_type: str) -> TaskHandler:
        """The handler that runs tasks of ``task_type``."""
        handler = self._cache.get(task_type)
        if handler is None:
            handler = self._select(task_type)
            self._cache[task_type] = handler
        return handler

    def _select(self, task_type: str) -> TaskHandler:
        if task_type in self._configured:
            return self._by_name[self._configured[task_type]]
        candidates = self._by_type.get(task_type, [])
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise UnknownTaskTypeError(
                f"no handler for task type {task_type!r}; installed handlers: {self.describe()}"
            )
        names = ", ".join(h.name for h in candidates)
        raise ConfigurationError(
            f"task type {task_type!r} is served by several handlers ({names}); choose one with "
            f"default_for_task_types"
        )

    def describe(self) -> str:
        """``name (type, type), ...`` for every installed handler, for error messages and listings."""
        parts = [f"{r.handler.name} ({', '.join(r.task_types)})" for r in self._registrations]
        return ", ".join(parts) or "none"
