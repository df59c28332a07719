"""Loading plugins from an entry-point group one at a time: a plugin that fails to load is reported and left out.

The engine's plugin manager (``roost.engine``) and the SDK's (``roost.sdk``, ``roost.storage``) load their
entry points through :func:`load_entry_points`.

A plugin fails to load when its module raises on import (a missing dependency, a bug), when pluggy refuses
it (a hook implementation with an argument the specification does not have), when an annotation of a hook
implementation differs from the specification's (see :func:`check_annotations`), or when it implements a hook
that does not exist (usually a misspelling). Each failure is logged once, as a warning naming the plugin, its
distribution and the error, and kept for ``roost plugins``; everything else keeps working.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
            check_annotations(manager, entry_point.name)
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


_MISSING = object()


def check_annotations(manager: pluggy.PluginManager, plugin_name: str) -> None:
    """Raise :class:`pluggy.PluginValidationError` when a hook implementation of ``plugin_name`` annotates a
    parameter or its return differently from the hook's specification.

    pluggy checks only parameter names (pluggy#191); here, where both sides give an annotation for the same
    parameter (or the return) and both resolve, they must be equal. An annotation that does not resolve (a
    name only imported under ``TYPE_CHECKING``) is compared by its text, without module prefixes.
    """
    plugin = manager.get_plugin(plugin_name)
    if plugin is None:
        return
    differences: list[str] = []
    for caller in manager.get_hookcallers(plugin) or []:
        spec = caller.spec
        if spec is None:
            continue
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            differences.extend(
                f"hook {caller.name!r}: {d}" for d in _differences(spec.function, impl.function)
            )
    if differences:
        raise pluggy.PluginValidationError(
            plugin,
            f"plugin {plugin_name!r}: hook implementation does not match its specification: "
            + "; ".join(differences),
        )


def _differences(spec: Callable[..., object], impl: Callable[..., object]) -> list[str]:
    spec_hints, impl_hints = _hints(spec), _hints(impl)
    impl_parameters = inspect.signature(impl).parameters
    found: list[str] = []
    for name in [*inspect.signature(spec).parameters, "return"]:
        if name != "return" and name not in impl_parameters:
            continue  # pluggy lets an implementation take fewer arguments than its specification
        want, got = spec_hints.get(name, _MISSING), impl_hints.get(name, _MISSING)
        if want is _MISSING or got is _MISSING or _same(want, got):
            continue
        where = "the return" if name == "return" else f"parameter {name!r}"
        found.append(f"{where} is annotated {_show(got)}, the specification says {_show(want)}")
    return found


def _hints(function: Callable[..., object]) -> dict[str, Any]:
    """A function's annotations, each resolved in the function's module where it can be, else kept as text."""
    namespace = getattr(function, "__globals__", {})
    hints: dict[str, Any] = {}
    for name, annotation in dict(getattr(function, "__annotations__", {})).items():
        hints[name] = annotation
        if isinstance(annotation, str):
            # what typing.get_type_hints does; a name only imported for type checkers stays text
            with contextlib.suppress(Exception):
                hints[name] = eval(annotation, dict(namespace))
    return hints


def _same(want: object, got: object) -> bool:
    if got is Any or got == "Any":
        return True  # an implementation may opt out of checking, as mypy lets it
    if isinstance(want, str) or isinstance(got, str):
        return _text(want) == _text(got)
    return want == got


def _text(annotation: object) -> str:
    """An annotation's text without module prefixes (``hookspecs.RegisterHandler`` -> ``RegisterHandler``)."""
    return re.sub(r"\b(?:\w+\.)+(\w)", r"\1", _show(annotation).replace(" ", ""))


def _show(annotation: object) -> str:
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")
