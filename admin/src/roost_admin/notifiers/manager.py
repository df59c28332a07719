"""The admin's plugin manager: finds notification channels, built-in and from ``roost.admin`` entry points."""

from __future__ import annotations

import importlib
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy
from pydantic import BaseModel, ValidationError

from roost_admin.notifiers import hookspecs
from roost_admin.notifiers.hookspecs import Channel, ChannelFactory
from roost_core.errors import ConfigurationError
from roost_core.plugins.loading import PluginProblem, load_entry_points

if TYPE_CHECKING:
    from roost_admin.config import NotificationSettings

ENTRY_POINT_GROUP = "roost.admin"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
"""A channel's name (it is kept in the outbox's 16-character ``kind`` column)."""
BUILTIN_PLUGINS = ("roost_admin.notifiers.builtin",)


@dataclass(frozen=True)
class ChannelRegistration:
    """A channel as a plugin registered it."""

    plugin: str
    name: str
    factory: ChannelFactory
    settings: type[BaseModel] | None


class AdminPlugins:
    """Built-in channels and those of plugins passed in or installed (group ``roost.admin``), loaded on first
    use; an installed plugin that fails to load is reported and left out, as the engine's are."""

    def __init__(self, plugins: tuple[object, ...] = (), *, entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._extra = plugins
        self._entry_points = entry_points
        self._lock = threading.Lock()
        self._channels: dict[str, ChannelRegistration] | None = None
        self._built: tuple[NotificationSettings, dict[str, Channel]] | None = None
        self.failures: list[PluginProblem] = []

    def registrations(self) -> dict[str, ChannelRegistration]:
        """Every registered channel by name."""
        with self._lock:
            if self._channels is None:
                for name in BUILTIN_PLUGINS:
                    self._pm.register(importlib.import_module(name), name=name)
                for plugin in self._extra:
                    self._pm.register(plugin)
                self._pm.check_pending()
                if self._entry_points:
                    self.failures = list(load_entry_points(self._pm, ENTRY_POINT_GROUP).problems)
                found: dict[str, ChannelRegistration] = {}
                for impl in self._pm.hook.roost_notification_channels.get_hookimpls():

                    def register(
                        name: str,
                        factory: ChannelFactory,
                        *,
                        settings: type[BaseModel] | None = None,
                        _plugin: str = impl.plugin_name,
                    ) -> None:
                        if not _NAME.fullmatch(name):
                            raise ConfigurationError(
                                f"notification channel {name!r} of {_plugin!r}: a name is 1 to 16 lowercase "
                                "letters, digits, '_' or '-', starting with a letter"
                            )
                        if name in found:
                            raise ConfigurationError(
                                f"notification channel {name!r} is registered twice: by "
                                f"{found[name].plugin!r} and by {_plugin!r}"
                            )
                        found[name] = ChannelRegistration(_plugin, name, factory, settings)

                    impl.function(register)
                self._channels = found
            return self._channels

    def channels(self, notifications: NotificationSettings) -> dict[str, Channel]:
        """The registered channels in use (email, webhook, and every routed or configured one), built once from
        ``notifications.channels``; settings a channel's class refuses, or a configured channel that is not
        registered, are a :class:`ConfigurationError` naming them. A route to a channel that is not registered
        is left out here: launch plans and executions that would use it are refused (see
        :func:`roost_admin.services.validation.notifications`)."""
        with self._lock:
            if self._built is not None and self._built[0] is notifications:
                return self._built[1]
        known = self.registrations()
        for name in notifications.channels:
            if name not in known:
                raise ConfigurationError(
                    f"notifications.channels.{name}: channel {name!r} is not registered (registered: "
                    f"{', '.join(sorted(known))})"
                )
        wanted = {"email", "webhook", *notifications.routes.values(), *notifications.channels}
        built: dict[str, Channel] = {}
        for name in sorted(wanted & set(known)):
            registration = known[name]
            section: Any = notifications.channels.get(name)
            if registration.settings is not None:
                try:
                    section = registration.settings.model_validate(section or {})
                except ValidationError as exc:
                    problems = "; ".join(
                        f"notifications.channels.{name}.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                        for e in exc.errors()
                    )
                    raise ConfigurationError(problems) from exc
            built[name] = hookspecs.build(registration.factory, notifications, section)
        with self._lock:
            self._built = (notifications, built)
        return built
