"""The ``roost`` command line: run workflows locally, compile and package them, manage the local cache."""

from __future__ import annotations

import sys
from typing import Any

import click

from roost.cli.auth import login, logout
from roost.cli.remote import COMMANDS as REMOTE_COMMANDS
from roost.cli.run import RunGroup
from roost.cli.scaffold import plugin


class RoostGroup(click.Group):
    """The top-level group; plugins add commands through the ``roost_cli_commands`` hook."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugin_commands()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or self._plugin_commands().get(name)

    @staticmethod
    def _plugin_commands() -> dict[str, click.Command]:
        from roost.plugins.manager import sdk_plugins

        return {command.name: command for command in sdk_plugins().cli_commands() if command.name}


@click.group(cls=RoostGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="roost")
def main() -> None:
    """Roost: workflows for ML and data work, on a laptop or a cluster."""


main.add_command(RunGroup(name="run", help=RunGroup.__doc__))
for _command in (*REMOTE_COMMANDS, login, logout, plugin):
    main.add_command(_command)


@main.command()
@click.argument("path", type=click.Path(exists=True))
def compile(path: str) -> None:
    """Compile every workflow under PATH with the core compiler; print every error."""
    from roost.cli.commands import compile_path

    sys.exit(compile_path(path))


@main.command()
@click.argument("path", type=click.Path(exists=True))
@click.option(
    "-o", "--output", "output", default="roost-package.tgz", show_default=True, help="The archive to write."
)
@click.option("--image", default=None, help="The default container image of the tasks.")
@click.option("--skip-errors", is_flag=True, help="Leave out the files that fail to load (listing them).")
def package(path: str, output: str, image: str | None, skip_errors: bool) -> None:
    """Write every task, workflow and launch plan under PATH as flyteidl .pb files in a tgz."""
    from roost.cli.commands import package_path
    from roost.errors import WorkflowDefinitionError

    try:
        package_path(path, output, image, skip_errors=skip_errors)
    except WorkflowDefinitionError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def cache() -> None:
    """The local cache of task outputs."""


@cache.command("clear")
def cache_clear() -> None:
    """Remove every entry of the local cache."""
    from roost.local.cache import cache_folder, clear_cache

    removed = clear_cache()
    click.echo(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'} from {cache_folder()}")


@main.group(invoke_without_command=True)
@click.pass_context
def plugins(ctx: click.Context) -> None:
    """List the installed plugins: SDK side and engine side, with their task types, and what needs
    attention."""
    if ctx.invoked_subcommand is None:
        from rich.console import Console

        from roost.cli.commands import list_plugins
        from roost.cli.plugin_check import print_attention

        list_plugins()
        print_attention(Console())


@plugins.command("check", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def plugins_check(name: str, pytest_args: tuple[str, ...]) -> None:
    """Run the conformance suite against the installed plugin NAME (arguments after it go to pytest)."""
    from roost.cli.plugin_check import check_plugin

    check_plugin(name, pytest_args)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--print", "print_only", is_flag=True, help="Print the Dockerfile instead of building.")
@click.option("--builder", default=None, help="The image builder to use (default: the spec's own).")
def build(file: str, print_only: bool, builder: str | None) -> None:
    """Build the container images (ImageSpec) the tasks in FILE use."""
    from roost.cli.commands import build_images

    build_images(file, print_only=print_only, builder=builder)


def run_cli(argv: list[str] | None = None) -> Any:
    """Run the CLI in-process (tests use it)."""
    return main.main(args=argv, prog_name="roost", standalone_mode=False)
