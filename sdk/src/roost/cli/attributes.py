"""``roost get|update|delete attributes``: matchable attributes of a project, a project and domain, or a
workflow, one kind at a time, as documents (see :mod:`roost.remote.attributes`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

ATTRIBUTE_KINDS = (
    "task-resource",
    "cluster-resource",
    "execution-queue",
    "execution-cluster-label",
    "quality-of-service",
    "plugin-override",
    "workflow-execution-config",
    "cluster-assignment",
)
"""The kinds ``--kind`` takes (the names of :data:`roost.remote.attributes.KINDS`)."""

KIND = click.option(
    "--kind", "attribute_kind", type=click.Choice(ATTRIBUTE_KINDS), help="The attribute's kind."
)
WORKFLOW = click.option("--workflow", default="", help="A workflow's attribute (needs --domain).")
SCOPE_HELP = "Without --domain: the project's attribute; with it, the project and domain's."


def scope_of(
    project: str | None, domain: str | None, workflow: str, given: dict[str, str] | None = None
) -> Any:
    """The attribute scope of the options (which win) and a document's keys; the project defaults to the
    client config's, the domain to none (the project's own attribute)."""
    from roost.remote.attributes import AttributeScope
    from roost.remote.config import ClientConfig

    given = given or {}
    project = project or given.get("project") or ClientConfig.load().project
    domain = domain or given.get("domain") or ""
    workflow = workflow or given.get("workflow") or ""
    if workflow and not domain:
        raise click.UsageError("a workflow's attributes need --domain")
    return AttributeScope(project, domain, workflow)


def _read_document(path: Path, kind: str) -> tuple[dict[str, str], Any]:
    import yaml

    from roost.remote.attributes import AttributeDocumentError, parse_document

    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{path} is not YAML: {exc}") from None
    try:
        return parse_document(document, kind, str(path))
    except AttributeDocumentError as exc:
        raise click.ClickException(str(exc)) from None


def show_attributes(client: Any, scope: Any, kind: str, file: Path | None, output: str) -> None:
    """Print (or write to ``file``) the attribute document of ``kind`` at ``scope``."""
    import yaml

    from roost.remote.attributes import document_of, kind_of

    resource, _ = kind_of(kind)
    document = document_of(scope, client.get_attributes(scope, resource))
    text = json.dumps(document, indent=2) if output == "json" else yaml.safe_dump(document, sort_keys=False)
    if file is not None:
        file.write_text(text)
        click.echo(f"wrote the {kind} attributes of {scope.describe()} to {file}")
    else:
        click.echo(text.rstrip("\n"))


@click.command("attributes")
@click.option("-p", "--project", default=None, help="The project [default: from the config].")
@click.option("-d", "--domain", default=None, help=SCOPE_HELP)
@WORKFLOW
@KIND
@click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The attribute document (YAML).",
)
def update_attributes(
    project: str | None, domain: str | None, workflow: str, attribute_kind: str | None, file: Path
) -> None:
    """Set a matchable attribute from a document; it applies to executions created from now on."""
    from roost.cli.remote import _client, _guarded

    if attribute_kind is None:
        raise click.UsageError("--kind is required")
    given, attributes = _read_document(file, attribute_kind)
    scope = scope_of(project, domain, workflow, given)

    def act() -> None:
        with _client() as client:
            client.update_attributes(scope, attributes)
        click.echo(f"updated the {attribute_kind} attributes of {scope.describe()}")

    _guarded(act)


@click.command("attributes")
@click.option("-p", "--project", default=None, help="The project [default: from the config].")
@click.option("-d", "--domain", default=None, help=SCOPE_HELP)
@WORKFLOW
@KIND
def delete_attributes(
    project: str | None, domain: str | None, workflow: str, attribute_kind: str | None
) -> None:
    """Remove a matchable attribute."""
    from roost.cli.remote import _client, _guarded
    from roost.remote.attributes import kind_of

    if attribute_kind is None:
        raise click.UsageError("--kind is required")
    scope = scope_of(project, domain, workflow)

    def act() -> None:
        with _client() as client:
            client.delete_attributes(scope, kind_of(attribute_kind)[0])
        click.echo(f"deleted the {attribute_kind} attributes of {scope.describe()}")

    _guarded(act)
