"""``roost plugin new NAME --kind ...``: writes a complete task-type plugin package from the templates under
``plugin_templates/<kind>/`` (package data), rendered with :class:`string.Template`."""

from __future__ import annotations

import keyword
import string
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import click

KINDS = ("in-process", "remote-job", "k8s")
"""The kinds of plugin ``roost plugin new`` writes, each a folder of templates."""


class ScaffoldError(click.ClickException):
    """A name or folder ``roost plugin new`` cannot use; the message says which and why."""


def check_name(name: str) -> None:
    """A plugin name must be a lowercase Python identifier (it names the module ``roost_NAME``)."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ScaffoldError(
            f"plugin name {name!r} is not a Python identifier: use letters, digits and underscores, "
            "starting with a letter (e.g. 'my_task')"
        )
    if name != name.lower() or name.startswith("_"):
        raise ScaffoldError(
            f"plugin name {name!r} must be lowercase and start with a letter (e.g. {name.lower().lstrip('_') or 'my_task'!r})"
        )


def variables(name: str) -> dict[str, str]:
    """What the templates refer to: ``$name``, ``$Name``, ``$NAME``, ``$package``, ``$distribution``,
    ``$task_type``."""
    return {
        "name": name,
        "NAME": name.upper(),
        "Name": "".join(part.capitalize() for part in name.split("_")),
        "package": f"roost_{name}",
        "distribution": f"roost-{name.replace('_', '-')}",
        "task_type": name.replace("_", "-"),
    }


def new_plugin(name: str, kind: str, parent: Path) -> Path:
    """Write the package of plugin ``name`` of ``kind`` into ``parent/roost-NAME``; return that folder."""
    check_name(name)
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}; the kinds are {', '.join(KINDS)}")
    values = variables(name)
    target = parent / values["distribution"]
    if target.exists():
        raise ScaffoldError(f"{target} already exists: choose another name or --dir, or remove it")
    root = resources.files("roost.cli").joinpath("plugin_templates", kind)
    files = list(_walk(root, ()))
    target.mkdir(parents=True)
    for parts, template in files:
        relative = Path(*(values["package"] if part == "PACKAGE" else part for part in parts))
        path = target / relative.with_name(relative.name.removesuffix(".tmpl"))
        path.parent.mkdir(parents=True, exist_ok=True)
        text = template.read_text(encoding="utf-8")
        if relative.name.endswith(".tmpl"):
            text = string.Template(text).substitute(values)
        path.write_text(text, encoding="utf-8")
    return target


def _walk(folder: Traversable, parts: tuple[str, ...]) -> list[tuple[tuple[str, ...], Traversable]]:
    found: list[tuple[tuple[str, ...], Traversable]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            found.extend(_walk(entry, (*parts, entry.name)))
        else:
            found.append(((*parts, entry.name), entry))
    return found


@click.group("plugin")
def plugin() -> None:
    """Write a new task-type plugin (see docs/plugins.md)."""


@plugin.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the handler builds on.")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to write the package folder roost-NAME.",
)
def new(name: str, kind: str, folder: Path) -> None:
    """Write the package roost-NAME: both sides, a handler, an example workflow, tests, a README."""
    target = new_plugin(name, kind, folder)
    click.echo(f"wrote {target}: cd {target} && pip install -e '.[test]' && pytest")
