"""``roost run [OPTIONS] FILE WORKFLOW [--input value ...]``: run a workflow, task or launch plan locally.

The inputs become options typed from the entity's interface (``roost run flows.py wf --help`` lists them
with their docstring text, types and defaults; bools are ``--flag/--no-flag``), or come from
``--inputs-file`` (YAML or JSON); outputs are printed, or as one JSON object with ``-o json`` (accepted before
the file, after it, or among the inputs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from roost import _typing
from roost.cli.params import TypedParam, default_text, to_json, type_label

if TYPE_CHECKING:
    from flyteidl.core import literals_pb2


class RunGroup(click.Group):
    """Run a workflow, task or launch plan locally: roost run [OPTIONS] FILE NAME [--INPUT VALUE ...]."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for option in _RUN_OPTIONS:
            self.params.append(option)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return []

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from roost.loader import ModuleLoadError, load_file

        try:
            module = load_file(name)
        except ModuleLoadError as exc:
            raise click.ClickException(str(exc)) from None
        return FileGroup(name, module)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS] FILE NAME [--INPUT VALUE ...]")


_OUTPUT_DEST = "_roost_output"
_INPUTS_FILE_DEST = "_roost_inputs_file"


def _output_option(decls: list[str], *, default: str | None) -> click.Option:
    """``-o/--output``, which the run group, the file and the entity all accept: the last one given wins."""
    return click.Option(
        [*decls, _OUTPUT_DEST],
        type=click.Choice(["table", "json"]),
        default=default,
        show_default=default is not None,
        help="How to print the outputs.",
    )


_RUN_OPTIONS = [
    _output_option(["-o", "--output"], default="table"),
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
    click.Option(
        ["--resume-from"],
        default="",
        metavar="RUN",
        help="Resume from the local run RUN: reuse its deterministic nodes whose code and inputs are unchanged.",
    ),
    click.Option(["--remote"], is_flag=True, help="Register and run on the admin of the client config."),
    click.Option(["--wait"], is_flag=True, help="With --remote: wait for the end and print the outputs."),
    click.Option(["--name"], default="", help="With --remote: the execution's name [default: generated]."),
    click.Option(["-p", "--project"], default=None, help="With --remote: the project [default: config]."),
    click.Option(["-d", "--domain"], default=None, help="With --remote: the domain [default: config]."),
]


class FileGroup(click.Group):
    """The runnable entities of one file."""

    def __init__(self, file: str, module: Any) -> None:
        super().__init__(
            name=file,
            help=f"Run a workflow, task or launch plan of {file}.",
            params=[_output_option(["-o", "--output"], default=None)],
        )
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
        from roost_core.errors import RoostError

        entity = self._entities().get(name)
        if entity is None:
            available = ", ".join(sorted(self._entities())) or "none"
            raise click.UsageError(
                f"{self.name} has no workflow, task or launch plan {name!r}; it has: {available}"
            )
        try:
            return _entity_command(name, entity)
        except RoostError as exc:
            raise click.ClickException(str(exc)) from None


def _entity_command(name: str, entity: Any) -> click.Command:
    from roost.docstring import parse_docstring

    docs = parse_docstring(_docstring_of(entity))
    params: list[click.Parameter] = [
        _input_option(input_name, python_type, entity, docs.parameters.get(input_name, ""))
        for input_name, python_type in entity.interface.inputs.items()
    ]
    taken = {decl for param in params for decl in (*param.opts, *param.secondary_opts)}
    params.append(_output_option([d for d in ("-o", "--output") if d not in taken], default=None))
    if "--inputs-file" not in taken:
        params.append(
            click.Option(
                ["--inputs-file", _INPUTS_FILE_DEST],
                type=click.Path(exists=True, dir_okay=False),
                help="A YAML or JSON file mapping input names to values (options given here win).",
            )
        )

    def run(**given: Any) -> None:
        output = given.pop(_OUTPUT_DEST)
        inputs_file = given.pop(_INPUTS_FILE_DEST, None)
        _run(entity, _inputs(entity, given, inputs_file), output)

    return click.Command(name, params=params, callback=run, help=docs.description or None)


def _docstring_of(entity: Any) -> str | None:
    """The docstring of the function behind an entity (a launch plan's workflow's)."""
    target = getattr(entity, "workflow", entity)
    fn = getattr(target, "fn", None)
    doc = fn.__doc__ if fn is not None else vars(target).get("__doc__")
    return doc if isinstance(doc, str) else None


def _input_option(input_name: str, python_type: Any, entity: Any, description: str) -> click.Option:
    """The option of one input: ``--name VALUE`` typed from its annotation (``--name/--no-name`` for a bool),
    its docstring text, and its default. Never required here: a missing input is reported by :func:`_inputs`,
    which also reads ``--inputs-file``."""
    interface = entity.interface
    has_default = input_name in interface.defaults
    default = interface.defaults.get(input_name)
    names = [input_name] + ([input_name.replace("_", "-")] if "_" in input_name else [])
    state = f"default: {default_text(default)}" if has_default else "required"
    if not has_default and _typing.is_optional(python_type):
        state = "default: None"
    help_text = f"{description}  [{type_label(python_type)}; {state}]".strip()
    if python_type is bool:
        return click.Option([*(f"--{n}/--no-{n}" for n in names), input_name], default=None, help=help_text)
    return click.Option(
        [*(f"--{n}" for n in names), input_name],
        type=TypedParam(python_type, input_name),
        default=None,
        help=help_text,
    )


class MissingInputsError(click.ClickException):
    """A required input was given neither as an option nor in ``--inputs-file`` (a usage error: exit 2)."""

    exit_code = 2


def _inputs(entity: Any, given: dict[str, Any], inputs_file: str | None) -> dict[str, Any]:
    """The inputs to run with: the file's, then the options given; every required input must be there."""
    values = _read_inputs_file(entity, inputs_file) if inputs_file else {}
    ctx = click.get_current_context()
    values.update(
        {
            name: value
            for name, value in given.items()
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
        }
    )
    interface = entity.interface
    missing = [
        name
        for name, python_type in interface.inputs.items()
        if name not in values and name not in interface.defaults and not _typing.is_optional(python_type)
    ]
    if missing:
        described = " and ".join(f"{n!r} ({type_label(interface.inputs[n])})" for n in missing)
        how = " ".join(f"--{n} VALUE" for n in missing)
        raise MissingInputsError(
            f"{entity.label} needs input{'s' if len(missing) > 1 else ''} {described}: "
            f"pass {how}, or give {'them' if len(missing) > 1 else 'it'} in --inputs-file"
        )
    return values


def _read_inputs_file(entity: Any, path: str) -> dict[str, Any]:
    """The inputs in a YAML or JSON file (a mapping of input names to values), converted to their types."""
    import yaml

    from roost.cli.params import InputParseError, value_from_data

    text = Path(path).read_text()
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise click.ClickException(f"--inputs-file {path} is not valid {_format(path)}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise click.ClickException(
            f"--inputs-file {path} must map input names to values, not hold a {type(data).__name__}"
        )
    inputs = entity.interface.inputs
    unknown = sorted(str(k) for k in data if k not in inputs)
    if unknown:
        raise click.ClickException(
            f"--inputs-file {path}: {entity.label} has no input(s) {', '.join(map(repr, unknown))} "
            f"(its inputs: {', '.join(inputs) or 'none'})"
        )
    try:
        return {
            name: value_from_data(value, inputs[name], what=f"{entity.label} input {name!r} in {path}")
            for name, value in data.items()
        }
    except InputParseError as exc:
        raise click.ClickException(str(exc)) from None


def _format(path: str) -> str:
    return "JSON" if path.endswith(".json") else "YAML"


def _run(entity: Any, values: dict[str, Any], entity_output: str | None) -> None:
    from roost.local.runner import local_options, run_local
    from roost.tasks import Task
    from roost_core.errors import RoostError

    contexts = list(_contexts(click.get_current_context()))
    run_ctx = next(c for c in contexts if isinstance(c.command, RunGroup))
    file_ctx = next(c for c in contexts if isinstance(c.command, FileGroup))
    options = run_ctx.params
    output = entity_output or file_ctx.params[_OUTPUT_DEST] or options[_OUTPUT_DEST]
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
        "keep_for_resume": True,
        "resume_from": options["resume_from"],
    }
    if options["remote"]:
        from roost.cli.remote import run_remote

        run_remote(
            entity,
            values,
            file=str(file_ctx.command.name),
            project=options["project"],
            domain=options["domain"],
            wait=options["wait"],
            output=output,
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
        except RoostError as exc:
            raise click.ClickException(str(exc)) from None
    show_outputs(result.name, _named_outputs(entity, result.outputs), output, result.literals)
    if result.outputs_folder is not None and output != "json":
        Console().print(f"files kept in {result.outputs_folder}")


def show_outputs(
    execution: str, named: dict[str, Any], output: str, literals: literals_pb2.LiteralMap | None = None
) -> None:
    """Print an execution's outputs: a table of their reprs, or one JSON object (local and remote alike);
    ``literals`` (the outputs as literals) give data frames their URIs in JSON."""
    if output == "json":
        found = literals.literals if literals is not None else {}
        shown = {name: to_json(value, found.get(name)) for name, value in named.items()}
        click.echo(json.dumps(shown, indent=2))
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
