"""``roost plugins``' needs-attention section and ``roost plugins check NAME``.

A plugin declares its conformance subject under the ``roost.conformance`` entry-point group: the entry point's
name is the plugin's name (as under ``roost.sdk`` and ``roost.engine``), its value a module holding a
:class:`~roost_core.testing.conformance.HandlerConformance` subclass (with its ``plugin`` fixture)::

    [project.entry-points."roost.conformance"]
    presto = "roost_presto.testing.conformance"

``roost plugins check NAME`` runs that module with pytest and prints one row per check: passed, failed (with
the suite's message), or skipped (with the exemption's reason).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

CONFORMANCE_GROUP = "roost.conformance"
"""The entry-point group naming each plugin's conformance subject (a test module)."""


@dataclasses.dataclass(frozen=True)
class Attention:
    """One thing about the installed plugins a user must act on."""

    plugin: str
    problem: str
    fix: str


def needs_attention(
    *,
    load_failures: Iterable[Any],
    sdk_sides: Mapping[str, Sequence[str]],
    engine_sides: Mapping[str, Sequence[str]],
    served: Mapping[str, Sequence[tuple[str, str]]],
    written: Mapping[str, Sequence[str]],
) -> list[Attention]:
    """What needs attention, from: the plugins that failed to load (``PluginProblem``s); what each plugin's
    SDK side and engine side (by entry-point name) registered, one line per thing; per task type, the
    (plugin, handler) pairs serving it on the engine; per SDK plugin, the task types its task classes write."""
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
        if len(plugins) > 1:
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


def installed_attention() -> list[Attention]:
    """:func:`needs_attention` of the plugins installed here."""
    from roost.plugins.manager import sdk_plugins
    from roost.plugins.storage import storage_problems
    from roost_core.plugins import EnginePlugins

    sdk = sdk_plugins()
    engine = EnginePlugins()
    listed = importlib.metadata.entry_points()
    sdk_names = {ep.name for ep in listed.select(group="roost.sdk")}
    engine_names = {ep.name for ep in listed.select(group="roost.engine")}
    provides = sdk.provides()
    registrations = engine.handler_registrations()
    engine_things: dict[str, list[str]] = {name: [] for name in engine_names}
    served: dict[str, list[tuple[str, str]]] = {}
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
    written: dict[str, list[str]] = {}
    for call in sdk.calls("roost_task_types"):
        task_class = (*call.args, None, None)[1]
        written.setdefault(call.plugin, []).append(str(getattr(task_class, "task_type", "?")))
    failed = {failure.name for failure in (*engine.failures, *sdk.problems)}
    return needs_attention(
        load_failures=[*engine.failures, *sdk.problems, *storage_problems()],
        sdk_sides={name: provides.get(name, []) for name in sdk_names - failed},
        engine_sides={name: engine_things.get(name, []) for name in engine_names - failed},
        served=served,
        written=written,
    )


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One conformance check's outcome: ``passed``, ``failed`` or ``skipped``, with the suite's message."""

    check: str
    subject: str
    outcome: str
    message: str


class _Collector:
    """A pytest plugin keeping each test's outcome and message."""

    def __init__(self) -> None:
        self.results: list[CheckResult] = []

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            subject, _, check = report.nodeid.rpartition("::")
            message = ""
            if report.skipped and isinstance(report.longrepr, tuple):
                message = str(report.longrepr[2]).removeprefix("Skipped: ")
            elif report.failed:
                crash = getattr(report.longrepr, "reprcrash", None)
                message = crash.message if crash is not None else str(report.longrepr)
            self.results.append(
                CheckResult(check.removeprefix("test_"), subject.rpartition("::")[2], report.outcome, message)
            )


def conformance_subject(name: str) -> str:
    """The module the plugin ``name`` declares under :data:`CONFORMANCE_GROUP`; a
    :class:`click.ClickException` saying what to add when it declares none."""
    import click

    for entry in importlib.metadata.entry_points(group=CONFORMANCE_GROUP):
        if entry.name == name:
            return entry.value.partition(":")[0]
    listed = importlib.metadata.entry_points()
    known = {ep.name for group in ("roost.sdk", "roost.engine") for ep in listed.select(group=group)}
    if name not in known:
        raise click.ClickException(
            f"no plugin named {name!r} is installed (installed: {', '.join(sorted(known)) or 'none'})"
        )
    raise click.ClickException(
        f"plugin {name!r} declares no conformance subject. Add to its pyproject.toml:\n\n"
        f'[project.entry-points."{CONFORMANCE_GROUP}"]\n'
        f'{name} = "<its_package>.testing.conformance"\n\n'
        "naming a module with a HandlerConformance subclass (roost_core.testing.conformance) whose `plugin` "
        "fixture returns its PluginUnderTest; then reinstall the plugin"
    )


def run_checks(name: str, pytest_args: Sequence[str] = ()) -> list[CheckResult]:
    """Run the conformance subject of plugin ``name`` with pytest; one result per check."""
    import click
    import pytest

    module = conformance_subject(name)
    collector = _Collector()
    code = pytest.main(
        [
            "--pyargs",
            module,
            "-qq",
            "-p",
            "no:cacheprovider",
            "--disable-warnings",
            "-rN",
            "--tb=no",
            *pytest_args,
        ],
        plugins=[collector],
    )
    if not collector.results:
        raise click.ClickException(
            f"plugin {name!r}: its conformance subject {module} ran no checks (pytest exit code {int(code)}): "
            "the module must hold a HandlerConformance subclass named Test..."
        )
    return collector.results


def check_plugin(name: str, pytest_args: Sequence[str] = ()) -> None:
    """``roost plugins check NAME``: the table of checks; exit code 1 when any failed."""
    import click
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    results = run_checks(name, pytest_args)
    table = Table(title=f"conformance of plugin {name}", title_justify="left")
    for column in ("subject", "check", "result", "why"):
        table.add_column(column)
    style = {"passed": "green", "failed": "red", "skipped": "yellow"}
    for result in results:
        table.add_row(
            result.subject,
            result.check,
            f"[{style[result.outcome]}]{result.outcome}[/]",
            escape(result.message),
        )
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in style}
    console = Console()
    console.print(table)
    console.print(", ".join(f"{n} {outcome}" for outcome, n in counts.items()))
    if counts["failed"]:
        raise click.exceptions.Exit(1)


def print_attention(console: Any) -> None:
    """The needs-attention section of ``roost plugins`` (nothing when all is well)."""
    from rich.markup import escape
    from rich.table import Table

    found = installed_attention()
    if not found:
        return
    table = Table(title="needs attention", title_justify="left", title_style="bold red")
    for column in ("plugin", "problem", "what to do"):
        table.add_column(column)
    for item in found:
        table.add_row(escape(item.plugin), escape(item.problem), escape(item.fix))
    console.print(table)
