"""``roost plugins``' needs-attention section and ``roost plugins check NAME``.

The needs-attention section is the list engines log as they start (``roost_core.plugins.attention``).

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
from collections.abc import Sequence
from typing import Any

CONFORMANCE_GROUP = "roost.conformance"
"""The entry-point group naming each plugin's conformance subject (a test module)."""


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

    from roost.plugins.attention import installed_attention

    found = installed_attention()
    if not found:
        return
    table = Table(title="needs attention", title_justify="left", title_style="bold red")
    for column in ("plugin", "problem", "what to do"):
        table.add_column(column)
    for item in found:
        table.add_row(escape(item.plugin), escape(item.problem), escape(item.fix))
    console.print(table)
