"""The bodies of ``roost compile``, ``roost package``, ``roost plugins`` and ``roost build``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from roost.errors import WorkflowDefinitionError
from roost.launch_plan import LaunchPlan
from roost.loader import entities_in, load_file, module_name_for_file
from roost.packaging import code_archive, load_modules, python_files, tgz
from roost.serialize import SerializationSettings, Serializer
from roost.tasks import Task
from roost.workflows import Workflow

PACKAGE_DISTRIBUTION = "{{ .remote_package_path }}"
"""What pyflyte package writes where the code archive's URI goes; registration fills it in."""


def compile_path(path: str) -> int:
    """Compile every workflow found; print each one's result; 1 if any failed."""
    code = load_modules(path)
    for failure in code.failures:
        click.echo(f"✗ {failure.file}\n{_indent(failure.reason)}", err=True)
    failures = 0
    seen = 0
    for module in code.modules:
        for name, wf in entities_in(module, (Workflow,)).items():
            if wf.fn.__module__ != module.__name__:
                continue
            seen += 1
            try:
                Serializer(SerializationSettings()).closure(wf)
            except WorkflowDefinitionError as exc:
                failures += 1
                click.echo(f"✗ {module.__name__}.{name}\n{_indent(str(exc))}", err=True)
            else:
                click.echo(f"✓ {module.__name__}.{name}")
    unloaded = f"; {len(code.failures)} file(s) did not load" if code.failures else ""
    failed = failures > 0 or bool(code.failures)
    click.echo(f"{seen - failures} of {seen} workflow(s) compiled{unloaded}", err=failed)
    return 1 if failed else 0


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def package_path(path: str, output: str, image: str | None, *, skip_errors: bool = False) -> None:
    """Serialize everything under ``path`` into a tgz laid out as ``pyflyte package`` lays it out; a file
    that does not load stops it (or, with ``skip_errors``, is left out and named)."""
    settings = SerializationSettings(
        project="", domain="", version="", fast_distribution=PACKAGE_DISTRIBUTION
    )
    if image:
        settings = dataclasses.replace(settings, image=image)
    serializer = Serializer(settings)
    files = python_files(path)
    code = load_modules(path)
    code.check(path, "nothing was packaged", skip_errors=skip_errors)
    for failure in code.failures:
        click.echo(f"skipped {failure.file}: {failure.reason}", err=True)
    for module in code.modules:
        for entity in entities_in(module, (Task, Workflow, LaunchPlan)).values():
            if isinstance(entity, Task):
                serializer.task(entity)
            elif isinstance(entity, Workflow):
                serializer.workflow(entity)
                serializer.launch_plan(LaunchPlan.get_or_create(entity))
            else:
                serializer.launch_plan(entity)
    # Numbered in dependency order, as pyflyte numbers them: registering the files in order always works.
    suffixes = {"task": 1, "workflow": 2, "launch plan": 3}
    members = [
        (f"{_message_name(message)}_{suffixes[kind]}.pb", message.SerializeToString())
        for kind, message in serializer.in_order()
    ]
    numbered = [(f"{i:02d}_{name}", data) for i, (name, data) in enumerate(members)]
    source_root = module_name_for_file(files[0])[1] if files else Path(path)
    archive_name, archive = code_archive(source_root)
    numbered.append((archive_name, archive))
    Path(output).write_bytes(tgz(numbered))
    click.echo(
        f"wrote {output}: {len(serializer.tasks)} task(s), {len(serializer.workflows)} workflow(s), "
        f"{len(serializer.launch_plans)} launch plan(s)"
    )


def _message_name(message: Any) -> str:
    """The entity name of a TaskSpec, WorkflowSpec or LaunchPlan."""
    holder = message.template if hasattr(message, "template") else message
    return str(holder.id.name)


def list_plugins() -> None:
    """Print both sides of every plugin, with the distribution (name and version) that installs it."""
    from rich.markup import escape

    from roost.plugins.manager import sdk_plugins
    from roost.plugins.storage import STORAGE_GROUP, storage_problems, storage_provides
    from roost_core.plugins import EnginePlugins

    installed = _distributions()
    table = Table(title="installed plugins", title_justify="left")
    for column in ("side", "plugin", "distribution", "provides"):
        table.add_column(column)
    sdk = sdk_plugins()
    for plugin, provided in sdk.provides().items():
        table.add_row("sdk", plugin, installed.get(("roost.sdk", plugin), _BUILT_IN), _join(provided))
    for plugin, schemes in storage_provides().items():
        blob_stores = _join([f"blob store {scheme}://" for scheme in schemes])
        table.add_row("storage", plugin, installed.get((STORAGE_GROUP, plugin), _BUILT_IN), blob_stores)
    for problem in (*sdk.problems, *storage_problems()):
        side = "sdk" if problem.group == "roost.sdk" else "storage"
        table.add_row(
            side, problem.name, escape(problem.distribution), f"[red]{escape(problem.problem)}[/red]"
        )
    engine = EnginePlugins()
    provides: dict[str, list[str]] = {}
    for registration in engine.handler_registrations():
        provides.setdefault(registration.plugin, []).append(
            f"handler {registration.name} ({', '.join(registration.task_types)})"
        )
    for plugin in engine.plugin_names():
        distribution = installed.get(("roost.engine", plugin), _BUILT_IN)
        table.add_row("engine", plugin, distribution, _join(provides.get(plugin, [])))
    for failure in engine.failures:
        table.add_row(
            "engine", failure.name, escape(failure.distribution), f"[red]left out[/red]: {failure.problem}"
        )
    console = Console()
    console.print(table)
    console.print(_task_type_table(engine))


_BUILT_IN = "built in"
"""The distribution column of the plugins Roost's own packages register without an entry point."""


def _distributions() -> dict[tuple[str, str], str]:
    """``name version`` of the distribution declaring each plugin, by (entry-point group, plugin name)."""
    import importlib.metadata

    from roost_core.plugins.loading import distribution_label

    return {
        (group, entry_point.name): distribution_label(entry_point)
        for group in ("roost.sdk", "roost.engine", "roost.storage")
        for entry_point in importlib.metadata.entry_points(group=group)
    }


def _task_type_table(engine: Any) -> Table:
    """Per task type: every candidate handler, which one is chosen, and why (without configuration)."""
    from roost_core.errors import RoostError
    from roost_core.plugins.handlers import choose

    table = Table(title="task types (engine defaults; engine.default_for_task_types chooses others)")
    for column in ("task type", "handler", "plugin", "chosen", "why"):
        table.add_column(column)
    try:
        choices = engine.handlers().choices()
    except RoostError as exc:  # conflicting defaults: say so, and list the candidates anyway
        choices = list(choose(engine.handler_registrations(), {}).values())
        table.caption = f"[red]{exc}[/red]"
    for choice in choices:
        for index, candidate in enumerate(choice.candidates):
            chosen = candidate.name == choice.chosen
            table.add_row(
                choice.task_type if index == 0 else "",
                candidate.name,
                candidate.plugin,
                "yes" if chosen else "",
                choice.reason if chosen or (index == 0 and choice.chosen is None) else "",
            )
    return table


def _join(items: list[str]) -> str:
    if len(items) > 6:
        return "\n".join([*items[:6], f"... and {len(items) - 6} more"])
    return "\n".join(items) or "-"


def build_images(file: str, *, print_only: bool, builder: str | None) -> None:
    """Build (or print the Dockerfile of) every ImageSpec the tasks in ``file`` use."""
    from roost.image import ImageSpec
    from roost.plugins.manager import sdk_plugins

    module = load_file(file)
    specs: dict[str, ImageSpec] = {}
    for task in entities_in(module, (Task,)).values():
        image: Any = task.options.container_image
        if isinstance(image, ImageSpec):
            specs[image.image_name()] = image
    if not specs:
        raise click.ClickException(f"no task in {file} uses an ImageSpec")
    builders = sdk_plugins().image_builders()
    for name, spec in specs.items():
        if print_only:
            click.echo(f"# {name}\n{spec.dockerfile()}")
            continue
        chosen = builder or spec.builder
        if chosen not in builders:
            raise click.ClickException(
                f"no image builder {chosen!r}; installed: {', '.join(sorted(builders)) or 'none'}"
            )
        click.echo(f"{name}: {builders[chosen].build(spec)}")
