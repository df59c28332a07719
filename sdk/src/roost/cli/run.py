"""``roost run [OPTIONS] FILE WORKFLOW [--input value ...]``: run a workflow, task or launch plan locally.

The inputs become options typed from the entity's interface (``roost run flows.py wf --help`` lists them
with their types and defaults); outputs are printed, or as one JSON object with ``-o json``.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from roost.cli.params import TypedParam, default_text, to_json, type_label


class RunGroup(click.Group):
    """Run a workflow, task or launch plan locally: roost run [OPTIONS] FILE NAME [--INPUT VALUE ...]."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for option in _RUN_OPTIONS:
            self.params.append(option)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return []

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from roost.loader import load_file

        try:
            module = load_file(name)
        except Exception as exc:
            raise click.ClickException(f"cannot load {name}: {exc}") from None
        return FileGroup(name, module)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS] FILE NAME [--INPUT VALUE ...]")


_RUN_OPTIONS = [
    click.Option(
        ["-o", "--output"],
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="How to print the outputs.",
    ),
    click.Option(["--processes"], is_flag=True, help="Run tasks in worker processes (CPU-bound code)."),
    click.Option(
        ["--max-parallelism"], type=int, default=None, help="Tasks running at once (default: no limit)."
    ),
    click.Option(["--no-cache"], is_flag=True, help="Neither read nor fill the local cache."),
    click.Option(
        ["--overwrite-cache"], is_flag=True, help="Run cached tasks anyway and replace their entries."
    ),
    click.Option(["--skip-sleep"], is_flag=True, help="Do not wait at sleep gates."),
    click.Option(["--approve"], multiple=True, metavar="NAME", help="Grant the approval NAME (repeatable)."),
    click.Option(
        ["--signal"], multiple=True, metavar="NAME=VALUE", help="Answer the signal NAME (repeatable)."
    ),
    click.Option(["--no-progress"], is_flag=True, help="Plain log lines instead of a live table."),
    click.Option(["--remote"], is_flag=True, help="Register and run on the admin of the client config."),
    click.Option(["--wait"], is_flag=True, help="With --remote: wait for the end and print the outputs."),
    click.Option(["--name"], default="", help="With --remote: the execution's name [default: generated]."),
    click.Option(["-p", "--project"], default=None, help="With --remote: the project [default: config]."),
    click.Option(["-d", "--domain"], default=None, help="With --remote: the domain [default: config]."),
]


class FileGroup(click.Group):
    """The runnable entities of one file."""

    def __init__(self, file: str, module: Any) -> None:
        super().__init__(name=file, help=f"Run a workflow, task or launch plan of {file}.")
        self.module = module

    def _entities(self) -> dict[str, Any]:
        from roost.launch_plan import LaunchPlan
        from roost.loader import entities_in
        from roost.tasks import Task
        from roost.workflows import Workflow

        return entities_in(self.module, (Workflow, Task, LaunchPlan))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._entities())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entity = self._entities().get(name)
        if entity is None:
            available = ", ".join(sorted(self._entities())) or "none"
            raise click.UsageError(
                f"{self.name} has no workflow, task or launch plan {name!r}; it has: {available}"
            )
        return _entity_command(name, entity)


def _entity_command(name: str, entity: Any) -> click.Command:
    params: list[click.Parameter] = []
    interface = entity.interface
    for input_name, python_type in interface.inputs.items():
        has_default = input_name in interface.defaults
        default = interface.defaults.get(input_name)
        flags = [f"--{input_name}"] + ([f"--{input_name.replace('_', '-')}"] if "_" in input_name else [])
        params.append(
            click.Option(
                [*flags, input_name],
                type=TypedParam(python_type, input_name),
                required=not has_default,
                default=default if has_default else None,
                help=type_label(python_type)
                + (f"  [default: {default_text(default)}]" if has_default else " (required)"),
            )
        )

    def run(**inputs: Any) -> None:
        _run(entity, inputs)

    return click.Command(name, params=params, callback=run, help=(entity.__doc__ or "").strip() or None)


def _run(entity: Any, inputs: dict[str, Any]) -> None:
    from roost.errors import ExecutionFailedError
    from roost.local.runner import local_options, run_local
    from roost.tasks import Task

    root = click.get_current_context().find_root()
    run_ctx = next(c for c in _contexts(click.get_current_context()) if isinstance(c.command, RunGroup))
    options = run_ctx.params
    signals = dict(_split(s) for s in options["signal"])
    settings = {
        "processes": options["processes"],
        "max_parallelism": options["max_parallelism"],
        "cache": not options["no_cache"],
        "overwrite_cache": options["overwrite_cache"],
        "skip_sleep": options["skip_sleep"],
        "approvals": frozenset(options["approve"]),
        "signals": signals,
        "progress": False if options["no_progress"] else None,
    }
    values = {k: v for k, v in inputs.items() if v is not None or k not in entity.interface.defaults}
    if options["remote"]:
        from roost.cli.remote import run_remote

        file = next(
            c.command.name for c in _contexts(click.get_current_context()) if isinstance(c.command, FileGroup)
        )
        run_remote(
            entity,
            values,
            file=str(file),
            project=options["project"],
            domain=options["domain"],
            wait=options["wait"],
            output=options["output"],
            name=options["name"],
        )
        return
    with local_options(**settings):
        try:
            if isinstance(entity, Task) or not hasattr(entity, "workflow"):
                result = run_local(entity, values)
            else:
                merged = {**entity.interface.defaults, **values, **entity.fixed_inputs}
                result = run_local(entity.workflow, merged, launch_plan=entity)
        except ExecutionFailedError as exc:
            raise click.ClickException(str(exc)) from None
    del root
    show_outputs(result.name, _named_outputs(entity, result.outputs), options["output"])
    if result.outputs_folder is not None and options["output"] != "json":
        Console().print(f"files kept in {result.outputs_folder}")


def show_outputs(execution: str, named: dict[str, Any], output: str) -> None:
    """Print an execution's outputs: a table of their reprs, or one JSON object (local and remote alike)."""
    if output == "json":
        click.echo(json.dumps(to_json(named), indent=2))
        return
    table = Table(title=f"outputs of {execution}", title_justify="left", min_width=len(execution) + 12)
    table.add_column("output")
    table.add_column("value")
    for key, value in named.items():
        table.add_row(key, repr(value))
    Console().print(table)


def _contexts(ctx: click.Context | None) -> Any:
    while ctx is not None:
        yield ctx
        ctx = ctx.parent


def _split(pair: str) -> tuple[str, str]:
    name, sep, value = pair.partition("=")
    if not sep:
        raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--signal")
    return name, value


def _named_outputs(entity: Any, outputs: Any) -> dict[str, Any]:
    names = list(entity.interface.outputs)
    if not names:
        return {}
    if len(names) == 1 and entity.interface.output_tuple is None:
        return {names[0]: outputs}
    return dict(zip(names, outputs, strict=True))
