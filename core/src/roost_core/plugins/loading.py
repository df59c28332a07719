"""Loading plugins from an entry-point group one at a time: a plugin that fails to load is reported and left out.

The engine's plugin manager (``roost.engine``) and the SDK's (``roost.sdk``, ``roost.storage``) load their
entry points through :func:`load_entry_points`.

A plugin fails to load when its module raises on import (a missing dependency, a bug), when pluggy refuses
it (a hook implementation whose arguments do not match the specification), or when it implements a hook that
does not exist (usually a misspelling). Each failure is logged once, as a warning naming the plugin, its
distribution and the error, and kept for ``roost plugins``; everything else keeps working.
"""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass

import pluggy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginProblem:
    """A plugin, or one thing it registered, that was left out, and why."""

    group: str
    """The entry-point group the plugin is listed under (``roost.engine``, ``roost.sdk``, ``roost.storage``)."""
    name: str
    """The plugin's name (its entry point's name)."""
    distribution: str
    """The distribution that installed it, with its version (``roost-spark 0.1.0``)."""
    problem: str
    """What went wrong and what was left out (``failed to load and is left out: ImportError: ...``)."""

    def message(self) -> str:
        """One line for logs and listings."""
        return f"plugin {self.name!r} ({self.group}, {self.distribution}) {self.problem}"

    def report(self) -> None:
        """Log this problem as a warning."""
        logger.warning("roost: %s", self.message())


@dataclass(frozen=True)
class LoadedPlugins:
    """What :func:`load_entry_points` did: the distribution of each plugin it registered, and the failures."""

    distributions: dict[str, str]
    problems: tuple[PluginProblem, ...]


def distribution_label(entry_point: importlib.metadata.EntryPoint) -> str:
    """``name version`` of the distribution that declares ``entry_point``."""
    dist = entry_point.dist
    if dist is None:
        return "an unknown distribution"
    return f"{dist.name} {dist.version}"


def load_entry_points(manager: pluggy.PluginManager, group: str) -> LoadedPlugins:
    """Import and register every plugin of ``group`` under its entry point's name, leaving out (and logging)
    those that fail. Plugins already registered under the same name are skipped."""
    distributions: dict[str, str] = {}
    problems: list[PluginProblem] = []
    for entry_point in importlib.metadata.entry_points(group=group):
        if manager.has_plugin(entry_point.name) or manager.is_blocked(entry_point.name):
            continue
        distribution = distribution_label(entry_point)
        try:
            manager.register(entry_point.load(), name=entry_point.name)
        except Exception as exc:  # any import-time failure of a plugin is the plugin's, not ours
            problems.append(_left_out(group, entry_point.name, distribution, exc))
            continue
        try:
            manager.check_pending()
        except pluggy.PluginValidationError as exc:
            manager.unregister(name=entry_point.name)
            problems.append(_left_out(group, entry_point.name, distribution, exc))
            continue
        distributions[entry_point.name] = distribution
    for problem in problems:
        problem.report()
    return LoadedPlugins(distributions, tuple(problems))


def describe_error(exc: BaseException) -> str:
    """``ExceptionType: message``."""
    return f"{type(exc).__name__}: {exc}"


def _left_out(group: str, name: str, distribution: str, exc: BaseException) -> PluginProblem:
    return PluginProblem(group, name, distribution, f"failed to load and is left out: {describe_error(exc)}")


def raised_in_hook(hook: str, exc: BaseException) -> str:
    """The problem of a plugin that loaded but raised in ``hook``: what it registered there is left out."""
    return f"raised in {hook} and its registrations are left out: {describe_error(exc)}"
