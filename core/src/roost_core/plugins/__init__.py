"""The engine's plugin system: hook specifications and the manager that loads plugins lazily."""

from roost_core.plugins.hookspecs import hookimpl
from roost_core.plugins.manager import EnginePlugins, HandlerRegistration, HandlerSelector

__all__ = ["EnginePlugins", "HandlerRegistration", "HandlerSelector", "hookimpl"]
