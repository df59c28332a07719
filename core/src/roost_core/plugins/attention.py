"""What about the installed plugins needs a user's attention, and what to do about it: one list, shown by
``roost plugins`` (as a table) and logged as warnings when an engine starts (``roost start``, ``roost run``).

Four problems: a plugin that fails to load (or raises in a hook), a task type served by handlers of more than
one plugin, a plugin that registers nothing, and a plugin with only one of its two sides installed. The
engine's facts come from its :class:`~roost_core.plugins.EnginePlugins`; the SDK's, when the SDK is installed
beside it, as :class:`SdkSides` (``roost.plugins.attention.sdk_sides``).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from roost_core.plugins.loading import PluginProblem

if TYPE_CHECKING:
    from roost_core.plugins.manager import EnginePlugins

__all__ = ["Attention", "SdkSides", "needs_attention", "plugin_attention", "report_attention"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Attention:
    """One thing about the installed plugins a user must act on."""

    plugin: str
    """The plugin's name (``twin_a and twin_b`` when it is about several)."""
    problem: str
    fix: str
    """What to do about it."""

    def message(self) -> str:
        """One line for logs: ``needs attention: <plugin>: <problem>; what to do: <fix>``."""
        return f"needs attention: {self.plugin}: {self.problem}; what to do: {self.fix}"


@dataclasses.dataclass(frozen=True)
class SdkSides:
    """What the SDK knows of its plugins (group ``roost.sdk``, and ``roost.storage`` for failures)."""

    problems: Sequence[PluginProblem]
    """The SDK's plugins (and their blob stores, ``roost.storage``) that failed to load."""
    provides: Mapping[str, Sequence[str]]
    """What each SDK side that loaded registered, one line per thing."""
    written: Mapping[str, Sequence[str]]
    """Per SDK plugin, the task types its task classes write."""


def needs_attention(
    *,
    load_failures: Iterable[PluginProblem],
    sdk_sides: Mapping[str, Sequence[str]],
    engine_sides: Mapping[str, Sequence[str]],
    served: Mapping[str, Sequence[tuple[str, str]]],
    written: Mapping[str, Sequence[str]],
    settled: Collection[str] = (),
) -> list[Attention]:
    """What needs attention, from: the plugins that failed to load; what each plugin's SDK side and engine side
    (by entry-point name) registered, one line per thing; per task type, the (plugin, handler) pairs serving
    it on the engine; per SDK plugin, the task types its task classes write; and the task types whose handler
    is chosen (by configuration, or the one default offered), which several plugins may serve."""
    found: list[Attention] = []
    for failure in load_failures:
        side = {"roost.engine": "engine side", "roost.sdk": "SDK side"}.get(failure.group, failure.group)
        found.append(
            Attention(
                failure.name,
                f"its {side} ({failure.distribution}) {failure.problem}",
                f"reinstall {failure.distribution.split()[0]} or upgrade it to a version matching this Roost; "
                f"or uninstall it (the other plugins keep working)",
            )
        )
    for task_type, pairs in sorted(served.items()):
        plugins = sorted({plugin for plugin, _ in pairs})
        if len(plugins) > 1 and task_type not in settled:
            handlers = ", ".join(f"{handler} ({plugin})" for plugin, handler in pairs)
            found.append(
                Attention(
                    " and ".join(plugins),
                    f"task type {task_type!r} is served by {len(plugins)} plugins: {handlers}",
                    f"choose one with engine.default_for_task_types.{task_type} = <handler> in the engine's "
                    f"configuration, or uninstall the plugin you do not use",
                )
            )
    for name in sorted(set(sdk_sides) | set(engine_sides)):
        sides = [
            (side, things)
            for side, things in (("SDK", sdk_sides.get(name)), ("engine", engine_sides.get(name)))
        ]
        present = [(side, things) for side, things in sides if things is not None]
        if all(not things for _, things in present):
            which = " and ".join(f"its {side} side" for side, _ in present)
            found.append(
                Attention(
                    name,
                    f"{which} registered nothing",
                    "implement at least one hook (roost_task_types on the SDK side, roost_task_handlers on the "
                    "engine side) in the module its entry point names, and mark it with @hookimpl",
                )
            )
            continue
        types = sorted(written.get(name, ()))
        if name not in engine_sides and types and not any(t in served for t in types):
            found.append(
                Attention(
                    name,
                    f"only its SDK side is installed: no engine handler runs its task types {', '.join(types)}",
                    f'install its engine side where the engine runs (a "roost.engine" entry point named {name})',
                )
            )
        if name not in sdk_sides and engine_sides.get(name):
            found.append(
                Attention(
                    name,
                    "only its engine side is installed: `roost run` and workflows written with roost cannot "
                    "use its task types",
                    f'install its SDK side beside roost (a "roost.sdk" entry point named {name})',
                )
            )
    return found


def plugin_attention(
    engine: EnginePlugins, sdk: SdkSides | None = None, configured: Mapping[str, str] | None = None
) -> list[Attention]:
    """:func:`needs_attention` of the installed plugins, the engine side as ``engine`` loaded it, the handlers
    chosen by ``configured`` (``engine.default_for_task_types``) or by the one default offered.

    Without ``sdk`` (an engine with no SDK beside it), an SDK side counts as present and registering
    something when its entry point is listed: only what the engine can tell is reported.
    """
    from roost_core.plugins.handlers import choose

    listed = importlib.metadata.entry_points()
    sdk_names = {ep.name for ep in listed.select(group="roost.sdk")}
    engine_names = {ep.name for ep in listed.select(group="roost.engine")}
    engine_things: dict[str, list[str]] = {name: [] for name in engine_names}
    served: dict[str, list[tuple[str, str]]] = {}
    registrations = engine.handler_registrations()
    choices = choose(registrations, configured or {})
    for registration in registrations:
        engine_things.setdefault(registration.plugin, []).append(f"handler {registration.name}")
        for task_type in registration.task_types:
            served.setdefault(task_type, []).append((registration.plugin, registration.name))
    pm = engine.pluggy_manager
    for name in engine_names:
        module = pm.get_plugin(name)
        hooks = pm.get_hookcallers(module) if module is not None else None
        # other hooks count as registering something; roost_task_handlers only by the handlers it registered
        engine_things[name] += [f"hook {h.name}" for h in hooks or [] if h.name != "roost_task_handlers"]
    problems = [*engine.failures, *(sdk.problems if sdk is not None else ())]
    # a side that failed to load is reported as such, not as registering nothing
    failed = {p.name for p in problems if p.group in ("roost.engine", "roost.sdk")}
    if sdk is None:
        sdk_sides: dict[str, Sequence[str]] = {name: ["(not loaded here)"] for name in sdk_names}
    else:
        sdk_sides = {name: sdk.provides.get(name, []) for name in sdk_names - failed}
    return needs_attention(
        load_failures=problems,
        sdk_sides=sdk_sides,
        engine_sides={name: engine_things.get(name, []) for name in engine_names - failed},
        served=served,
        written=sdk.written if sdk is not None else {},
        settled={task_type for task_type, choice in choices.items() if choice.chosen is not None},
    )


_reported: set[str] = set()
_reported_lock = threading.Lock()


def report_attention(
    engine: EnginePlugins,
    sdk: Callable[[], SdkSides] | None = None,
    configured: Mapping[str, str] | None = None,
) -> list[Attention]:
    """Log each thing :func:`plugin_attention` finds as a warning (once per process: local runs start an
    engine per run), and return them; an engine calls it as it starts, ``sdk`` giving the SDK's sides when
    the SDK is installed beside it. A failure of the check itself is logged too: it must never stop the
    engine."""
    try:
        found = plugin_attention(engine, sdk() if sdk is not None else None, configured)
    except Exception as exc:  # a diagnostic: whatever goes wrong in it, the engine keeps starting
        logger.warning("roost: the installed plugins could not be checked: %s: %s", type(exc).__name__, exc)
        return []
    for item in found:
        message = item.message()
        with _reported_lock:
            if message in _reported:
                continue
            _reported.add(message)
        logger.warning("roost: %s", message)
    return found
