"""The engine's plugin system: hook specifications, the manager that loads plugins lazily, handler choice."""

from roost_core.plugins.handlers import Candidate, HandlerRegistration, HandlerSet, TaskTypeChoice
from roost_core.plugins.hookspecs import hookimpl
from roost_core.plugins.loading import PluginProblem
from roost_core.plugins.manager import EnginePlugins

__all__ = [
    "Candidate",
    "EnginePlugins",
    "HandlerRegistration",
    "HandlerSet",
    "PluginProblem",
    "TaskTypeChoice",
    "hookimpl",
]
