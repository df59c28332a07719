"""Finds SDK plugins, lazily, and answers what they registered: task kinds, types, context attributes, ...

A plugin that fails to load, a hook implementation that raises, and a registration that clashes with an
earlier one are each reported (a warning naming the plugin and its distribution, and :attr:`SdkPlugins.problems`)
and left out; everything else keeps working.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from roost.errors import WorkflowDefinitionError
from roost.plugins import hookspecs
from roost.types.dataset_handlers import StructuredDatasetDecoder, StructuredDatasetEncoder, describe_handler
from roost_core.plugins.loading import PluginProblem, load_entry_points, raised_in_hook

if TYPE_CHECKING:
    from roost.context import ContextAttribute
    from roost.tasks import TaskClass

ENTRY_POINT_GROUP = "roost.sdk"
BUILTIN_PLUGINS = ("roost.types.builtin", "roost.builtin")


@dataclass(frozen=True)
class HookCall:
    """One ``register(...)`` call a plugin's hook implementation made."""

    plugin: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ContextAttributeEntry:
    """A context attribute and the plugin that registered it."""

    attribute: ContextAttribute[Any]
    plugin: str
    provider: str
    """The plugin and its distribution, for messages (``plugin 'spark' (roost-spark 0.1.0)``)."""


class SdkPlugins:
    """The SDK's plugin manager: built-ins at once, ``roost.sdk`` entry points on first use."""

    def __init__(self, plugins: tuple[object, ...] = (), *, entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._extra = plugins
        self._entry_points = entry_points
        self._lock = threading.RLock()
        self._loaded = False
        self._distributions: dict[str, str] = {}
        self._problems: list[PluginProblem] = []
        self._task_types: dict[type[Any], TaskClass[Any]] | None = None
        self._attributes: dict[str, ContextAttributeEntry] | None = None

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
            self._pm.check_pending()
            if self._entry_points:
                loaded = load_entry_points(self._pm, ENTRY_POINT_GROUP)
                self._distributions.update(loaded.distributions)
                self._problems.extend(loaded.problems)
            self._loaded = True

    @property
    def problems(self) -> tuple[PluginProblem, ...]:
        """Plugins (or registrations of theirs) that were left out, and why."""
        self._load()
        return tuple(self._problems)

    def provider(self, plugin: str) -> str:
        """``plugin 'name' (distribution version)`` for messages; built-ins and plugins passed in have no
        distribution."""
        self._load()
        distribution = self._distributions.get(plugin)
        return f"plugin {plugin!r} ({distribution})" if distribution else f"plugin {plugin!r}"

    def report(self, plugin: str, problem: str) -> None:
        """Record and log (once) a problem with something ``plugin`` registered, which is left out."""
        self._load()
        origin = "built in" if plugin in BUILTIN_PLUGINS else "registered directly"
        entry = PluginProblem(ENTRY_POINT_GROUP, plugin, self._distributions.get(plugin, origin), problem)
        with self._lock:
            if entry in self._problems:
                return
            self._problems.append(entry)
        entry.report()

    def calls(self, hook_name: str) -> list[HookCall]:
        """Every ``register(...)`` call made by the implementations of one hook, in registration order, made
        anew on each call (so that each type engine gets its own transformer instances).

        An implementation that raises is reported and its registrations are left out.
        """
        self._load()
        calls: list[HookCall] = []
        for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
            made: list[HookCall] = []

            def register(
                *args: Any, _plugin: str = impl.plugin_name, _made: list[HookCall] = made, **kwargs: Any
            ) -> None:
                _made.append(HookCall(_plugin, args, kwargs))

            try:
                impl.function(register)
            except Exception as exc:  # a plugin's bug must not break the SDK
                self.report(impl.plugin_name, raised_in_hook(hook_name, exc))
                continue
            calls.extend(made)
        return calls

    def task_types(self) -> dict[type[Any], TaskClass[Any]]:
        """task_config class → task class."""
        with self._lock:
            if self._task_types is None:
                self._task_types = self._collect_task_types()
            return self._task_types

    def _collect_task_types(self) -> dict[type[Any], TaskClass[Any]]:
        from roost.tasks import Task

        found: dict[type[Any], TaskClass[Any]] = {}
        owners: dict[type[Any], str] = {}
        for call in self.calls("roost_task_types"):
            config, task_class = (*call.args, None, None)[:2]
            if not isinstance(config, type) or not (
                isinstance(task_class, type) and issubclass(task_class, Task)
            ):
                self.report(
                    call.plugin,
                    f"registered task_config {config!r} with {task_class!r}, which is not a Task subclass; left out",
                )
            elif config in found:
                self.report(
                    call.plugin,
                    f"registered task_config {config.__name__}, which {owners[config]!r} registered already; "
                    "left out",
                )
            else:
                found[config] = task_class
                owners[config] = call.plugin
        return found

    def task_class_for(self, config: Any, *, task: str) -> TaskClass[Any]:
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

    def context_attributes(self) -> dict[str, ContextAttributeEntry]:
        """Context attributes by name, with the plugin that registered each."""
        with self._lock:
            if self._attributes is None:
                self._attributes = self._collect_attributes()
            return self._attributes

    def _collect_attributes(self) -> dict[str, ContextAttributeEntry]:
        from roost.context import ContextAttribute

        found: dict[str, ContextAttributeEntry] = {}
        for call in self.calls("roost_context_attributes"):
            attribute = call.args[0] if len(call.args) == 1 and not call.kwargs else None
            if not isinstance(attribute, ContextAttribute):
                self.report(
                    call.plugin,
                    f"registered {call.args!r} as a context attribute, which is not a ContextAttribute; left out",
                )
                continue
            if attribute.name in found:
                self.report(
                    call.plugin,
                    f"registered the context attribute {attribute.name!r}, which "
                    f"{found[attribute.name].plugin!r} registered already; left out",
                )
                continue
            found[attribute.name] = ContextAttributeEntry(attribute, call.plugin, self.provider(call.plugin))
        return found

    def image_builders(self) -> dict[str, Any]:
        """Image builders by name."""
        return {call.args[0]: call.args[1] for call in self.calls("roost_image_builders")}

    def cli_commands(self) -> list[Any]:
        """Extra CLI commands from plugins."""
        return [call.args[0] for call in self.calls("roost_cli_commands")]

    def plugin_names(self) -> list[str]:
        """Every registered SDK plugin."""
        self._load()
        return [name for name, _ in self._pm.list_name_plugin() if name]

    def provides(self) -> dict[str, list[str]]:
        """What each plugin registered, one line per thing, for listings."""
        found: dict[str, list[str]] = {name: [] for name in self.plugin_names()}
        for call in self.calls("roost_task_types"):
            config, task_class = (*call.args, None, None)[:2]
            task_type = getattr(task_class, "task_type", "?")
            found[call.plugin].append(f"task_config {getattr(config, '__name__', config)} → {task_type}")
        for call in self.calls("roost_type_transformers"):
            found[call.plugin].append(f"type {getattr(call.args[0], 'name', call.args[0])}")
        for call in self.calls("roost_structured_dataset_handlers"):
            handler = call.args[0] if call.args else None
            if isinstance(handler, StructuredDatasetEncoder | StructuredDatasetDecoder):
                found[call.plugin].append(describe_handler(handler))
        for entry in self.context_attributes().values():
            found[entry.plugin].append(
                f"current_context().{entry.attribute.name}: {entry.attribute.type_name}"
            )
        for call in self.calls("roost_image_builders"):
            found[call.plugin].append(f"image builder {call.args[0]}")
        for call in self.calls("roost_cli_commands"):
            found[call.plugin].append(f"command roost {getattr(call.args[0], 'name', call.args[0])}")
        return found


_default: SdkPlugins | None = None
_default_lock = threading.Lock()


def sdk_plugins() -> SdkPlugins:
    """The process-wide SDK plugin manager."""
    global _default  # noqa: PLW0603 - one manager per process, made on first use
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = SdkPlugins()
    return _default
