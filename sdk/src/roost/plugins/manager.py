"""Finds SDK plugins, lazily, and answers "which task class does this task_config make?"."""

from __future__ import annotations

import importlib
import threading
from typing import Any

import pluggy

from roost.errors import WorkflowDefinitionError
from roost.plugins import hookspecs

ENTRY_POINT_GROUP = "roost.sdk"
BUILTIN_PLUGINS = ("roost.types.builtin", "roost.builtin")


class SdkPlugins:
    """The SDK's plugin manager: built-ins at once, ``roost.sdk`` entry points on first use."""

    def __init__(self, plugins: tuple[object, ...] = (), *, entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._extra = plugins
        self._entry_points = entry_points
        self._lock = threading.Lock()
        self._loaded = False
        self._task_types: dict[type[Any], type[Any]] | None = None

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

    def collect(self, hook_name: str) -> list[tuple[str, tuple[Any, ...]]]:
        """Every ``register(...)`` call made by the implementations of one hook, with the plugin's name."""
        self._load()
        calls: list[tuple[str, tuple[Any, ...]]] = []
        for impl in getattr(self._pm.hook, hook_name).get_hookimpls():

            def register(*args: Any, _plugin: str = impl.plugin_name) -> None:
                calls.append((_plugin, args))

            impl.function(register)
        return calls

    def task_types(self) -> dict[type[Any], type[Any]]:
        """task_config class → task class."""
        if self._task_types is None:
            self._task_types = {config: task for _, (config, task) in self.collect("roost_task_types")}
        return self._task_types

    def task_class_for(self, config: Any, *, task: str) -> type[Any]:
        """The task class that handles ``config``, looked up along its class hierarchy."""
        known = self.task_types()
        for cls in type(config).__mro__:
            if cls in known:
                return known[cls]
        names = ", ".join(sorted(c.__name__ for c in known)) or "none"
        raise WorkflowDefinitionError(
            f"task {task!r}: no installed plugin handles task_config of type {type(config).__name__}; "
            f"installed task configs: {names}"
        )

    def image_builders(self) -> dict[str, Any]:
        """Image builders by name."""
        return {name: builder for _, (name, builder) in self.collect("roost_image_builders")}

    def cli_commands(self) -> list[Any]:
        """Extra CLI commands from plugins."""
        return [command for _, (command,) in self.collect("roost_cli_commands")]

    def plugin_names(self) -> list[str]:
        """Every registered SDK plugin."""
        self._load()
        return [name for name, _ in self._pm.list_name_plugin() if name]


_default: SdkPlugins | None = None


def sdk_plugins() -> SdkPlugins:
    """The process-wide SDK plugin manager."""
    global _default  # noqa: PLW0603 - one manager per process, made on first use
    if _default is None:
        _default = SdkPlugins()
    return _default
