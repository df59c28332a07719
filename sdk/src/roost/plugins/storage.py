"""The blob storage the SDK reads and writes through: Roost's own stores plus those of installed plugins.

A plugin serves a URI scheme (``gs://``, ``abfs://``, ...) to ``roost run``, ``roost-execute`` and the CLI by
listing a module that implements the engine hook ``roost_blob_stores`` under the ``roost.storage`` entry-point
group. Only that group is loaded here, never ``roost.engine``, so the SDK imports no plugin's engine side (a
Kubernetes client, a cloud SDK); the module should itself be light, importing its client library when a store
is built or first used. The engine reaches the same store through the plugin's ``roost.engine`` module (which
lists or re-exports the hook). Stores are built from their configuration section, which the SDK leaves empty
but for S3 in ``roost-execute``: SDK-side stores read their settings from the environment.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from roost_core.plugins.loading import PluginProblem, load_entry_points

if TYPE_CHECKING:
    from roost_core.plugins import EnginePlugins
    from roost_core.storage import Storage

STORAGE_GROUP = "roost.storage"


class _StoragePlugins:
    """The engine plugin manager holding the built-in stores and the ``roost.storage`` plugins, made once."""

    plugins: EnginePlugins | None = None
    problems: tuple[PluginProblem, ...] = ()
    lock = threading.Lock()


def storage_plugins() -> EnginePlugins:
    """The built-in stores and those of the ``roost.storage`` plugins (loaded on first use; a plugin that
    fails to load is reported and left out)."""
    if _StoragePlugins.plugins is None:
        with _StoragePlugins.lock:
            if _StoragePlugins.plugins is None:
                from roost_core.plugins import EnginePlugins

                plugins = EnginePlugins(entry_points=False)
                _StoragePlugins.problems = load_entry_points(plugins.pluggy_manager, STORAGE_GROUP).problems
                _StoragePlugins.plugins = plugins
    return _StoragePlugins.plugins


def storage_problems() -> tuple[PluginProblem, ...]:
    """The ``roost.storage`` plugins that failed to load."""
    storage_plugins()
    return _StoragePlugins.problems


def storage_provides() -> dict[str, list[str]]:
    """The schemes each ``roost.storage`` plugin registered, by plugin (for listings)."""
    from roost_core.plugins.hookspecs import StoreFactory

    found: dict[str, list[str]] = {}
    builtin = ("roost_core.builtin",)
    for impl in storage_plugins().pluggy_manager.hook.roost_blob_stores.get_hookimpls():
        if impl.plugin_name in builtin:
            continue
        schemes = found.setdefault(impl.plugin_name, [])

        def register(scheme: str, factory: StoreFactory, _schemes: list[str] = schemes) -> None:
            _schemes.append(scheme)

        impl.function(register)
    return found


def sdk_storage(config: Mapping[str, Mapping[str, Any]] | None = None) -> Storage:
    """A :class:`~roost_core.storage.Storage` serving every installed scheme, each store built from
    ``config[scheme]`` (empty by default)."""
    from roost_core.storage import build_storage

    return build_storage(storage_plugins(), config)
