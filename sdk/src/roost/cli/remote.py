"""The CLI as a client of an admin: config, register, remote runs, and get / terminate / relaunch / create /
update. Output is a table by default, or ``-o json`` / ``-o yaml``."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from google.protobuf import json_format
from rich.console import Console
from rich.table import Table

from roost.cli.attributes import (
    KIND,
    WORKFLOW,
    delete_attributes,
    scope_of,
    show_attributes,
    update_attributes,
)
from roost.cli.signals import approve_command, signal_group, signal_rows
from roost.errors import RemoteError, WorkflowDefinitionError

OUTPUT = click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json", "yaml"]),
    default="table",
    show_default=True,
    help="How to print the result.",
)
PROJECT = click.option("-p", "--project", default=None, help="The project [default: from the config].")
DOMAIN = click.option("-d", "--domain", default=None, help="The domain [default: from the config].")


def _client() -> Any:
    from roost.remote.client import RemoteClient

    return RemoteClient()


def _scope(project: str | None, domain: str | None) -> tuple[str, str]:
    from roost.remote.config import ClientConfig

    config = ClientConfig.load()
    return project or config.project, domain or config.domain


def _emit(rows: Sequence[dict[str, Any]], output: str, columns: Sequence[str], title: str = "") -> None:
    if output == "json":
        click.echo(json.dumps(list(rows), indent=2, default=str))
        return
    if output == "yaml":
        import yaml

        click.echo(yaml.safe_dump(list(rows), sort_keys=False, default_flow_style=False))
        return
    table = Table(title=title or None, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    Console().print(table)


def _guarded(action: Callable[[], None]) -> None:
    """Run ``action``; an admin's refusal or a definition error is one ``Error:`` message, not a traceback."""
    try:
        action()
    except (RemoteError, WorkflowDefinitionError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group("config")
def config_group() -> None:
    """The client's settings (where the admin is)."""


@config_group.command("init")
@click.option("--endpoint", default="localhost:8089", show_default=True, help="The admin's gRPC host:port.")
@click.option("--insecure/--secure", default=True, show_default=True, help="Plain or TLS gRPC.")
@PROJECT
@DOMAIN
@click.option("--ca-cert-file", default="", help="A CA bundle to trust for TLS (default: the system's).")
def config_init(
    endpoint: str, insecure: bool, project: str | None, domain: str | None, ca_cert_file: str
) -> None:
    """Write the endpoint (and default project and domain) to the client config file."""
    from roost.remote.config import ClientConfig

    config = ClientConfig(endpoint, insecure, project or "flytesnacks", domain or "development", ca_cert_file)
    path = config.save()
    click.echo(
        f"wrote {path}: endpoint {endpoint} ({'insecure' if insecure else 'TLS'}), "
        f"project {config.project}, domain {config.domain}"
    )


@click.command("register")
@click.argument("path", type=click.Path(exists=True))
@PROJECT
@DOMAIN
@click.option("--version", default=None, help="The version [default: derived from the code].")
@click.option("--image", default=None, help="The default container image of the tasks.")
@click.option("--activate-launchplans", is_flag=True, help="Activate every launch plan registered.")
@click.option(
    "--skip-errors",
    is_flag=True,
    help="Register what loads and compiles, and list what does not (default: register nothing then).",
)
def register_command(
    path: str,
    project: str | None,
    domain: str | None,
    version: str | None,
    image: str | None,
    activate_launchplans: bool,
    skip_errors: bool,
) -> None:
    """Upload the code under PATH and register its tasks, workflows and launch plans (fast registration).

    A file that fails to import, or a workflow that does not compile, stops the registration before anything
    is registered, unless --skip-errors.
    """
    from roost.remote.register import register

    project, domain = _scope(project, domain)

    def act() -> None:
        with _client() as client:
            result = register(
                client,
                path,
                project=project,
                domain=domain,
                version=version,
                image=image,
                activate=activate_launchplans,
                skip_errors=skip_errors,
            )
        click.echo(
            f"registered in {project}/{domain} as version {result.version}: {len(result.tasks)} task(s), "
            f"{len(result.workflows)} workflow(s), {len(result.launch_plans)} launch plan(s)"
        )
        if result.skipped:
            lines = "\n".join(f"  {reason}" for reason in result.skipped)
            click.echo(f"skipped {len(result.skipped)}:\n{lines}", err=True)

    _guarded(act)


def run_remote(
    entity: Any,
    inputs: dict[str, Any],
    *,
    file: str,
    project: str | None,
    domain: str | None,
    wait: bool,
    output: str,
    name: str = "",
) -> None:
    """`roost run --remote`: register what the entity needs, launch it, and follow it."""
    import tempfile
    from pathlib import Path

    from flyteidl.core import execution_pb2 as core_execution

    from roost.launch_plan import LaunchPlan
    from roost.remote.register import register
    from roost.remote.uploads import remote_inputs
    from roost.workflows import Workflow

    project, domain = _scope(project, domain)
    if not isinstance(entity, (Workflow, LaunchPlan)):
        raise click.ClickException(f"{entity.label} cannot run remotely on its own: call it from a workflow")
    workflow = entity if isinstance(entity, Workflow) else entity.workflow
    with _client() as client:
        try:
            result = register(client, file, project=project, domain=domain, entities=[entity])
            lp_name = entity.name if isinstance(entity, LaunchPlan) else workflow.name
            lp_id = result.serializer.launch_plans[lp_name].id
            with tempfile.TemporaryDirectory(prefix="roost-inputs-") as folder:
                literal_inputs = remote_inputs(
                    client, entity, inputs, project=project, domain=domain, work_dir=Path(folder)
                )
            execution_id = client.launch(lp_id, literal_inputs, name=name, project=project, domain=domain)
            click.echo(
                f"execution {project}/{domain}/{execution_id.name} started (version {result.version})",
                err=True,
            )
            if not wait and not sys.stderr.isatty():
                return
            final = _follow(client, execution_id)
        except (RemoteError, WorkflowDefinitionError) as exc:
            raise click.ClickException(str(exc)) from None
        phase = core_execution.WorkflowExecution.Phase.Name(final.closure.phase)
        if phase != "SUCCEEDED":
            raise click.ClickException(
                f"execution {execution_id.name} {phase.lower()}: "
                f"{final.closure.error.message or final.closure.abort_metadata.cause}"
            )
        if wait:
            _print_outputs(client, execution_id, workflow, output)


def _node_names(client: Any, execution: Any) -> dict[str, str]:
    """Top-level node id → what the node runs (its task, sub-workflow or launch plan, as the workflow names
    it), read from the execution's workflow; empty when the admin cannot say (a single-task execution)."""
    if not execution.closure.HasField("workflow_id"):
        return {}
    try:
        workflow = client.get_workflow(execution.closure.workflow_id)
    except RemoteError:
        return {}
    names = {}
    for node in workflow.closure.compiled_workflow.primary.template.nodes:
        target = node.task_node.reference_id.name or (
            node.workflow_node.sub_workflow_ref.name or node.workflow_node.launchplan_ref.name
        )
        names[node.id] = node.metadata.name or target.rpartition(".")[2] or node.id
    return names


def _follow(client: Any, execution_id: Any) -> Any:
    from roost.local.progress import ProgressSink
    from roost_core.engine.graph import is_start_or_end
    from roost_core.events import EventSummary

    sink = ProgressSink(f"execution {execution_id.name}", live=sys.stderr.isatty(), stream=sys.stderr)
    seen: dict[str, str] = {}
    names: dict[str, str] = {}
    from flyteidl.core import execution_pb2 as core_execution

    def poll(execution: Any) -> None:
        if not names:
            names.update(_node_names(client, execution))
        changes = []
        for node in client.node_executions(execution_id):
            uid = node.id.node_id
            if is_start_or_end(uid):
                continue
            phase = core_execution.NodeExecution.Phase.Name(node.closure.phase)
            if seen.get(uid) == phase:
                continue
            seen[uid] = phase
            at = node.closure.updated_at.ToNanoseconds() / 1e9 or time.time()
            spec_id = node.metadata.spec_node_id or uid
            changes.append(("node", EventSummary(uid, phase, at, names.get(spec_id, spec_id))))
        if changes:
            sink.record(changes)

    try:
        return client.wait(execution_id, on_poll=poll)
    finally:
        sink.close()


def _print_outputs(client: Any, execution_id: Any, workflow: Any, output: str) -> None:
    import tempfile
    from pathlib import Path

    from roost import _typing
    from roost.cli.run import show_outputs
    from roost.plugins.storage import sdk_storage
    from roost.types import TypeContext

    data = client.execution_data(execution_id)
    storage = sdk_storage()
    with (
        tempfile.TemporaryDirectory(prefix="roost-outputs-") as folder,
        TypeContext(storage, Path(folder).as_uri(), work_dir=folder) as ctx,
    ):
        values = _typing.python_values(workflow, data.full_outputs, ctx)
        show_outputs(execution_id.name, values, output, data.full_outputs)


@click.command("get")
@click.argument(
    "kind",
    type=click.Choice(
        [
            "projects",
            "tasks",
            "workflows",
            "launchplans",
            "executions",
            "execution",
            "attributes",
            "signals",
            "notifications",
        ]
    ),
)
@click.argument("name", required=False, default="")
@PROJECT
@DOMAIN
@click.option("--nodes", is_flag=True, help="With `execution NAME`: a table of its nodes.")
@click.option("--limit", default=100, show_default=True, help="At most this many rows.")
@WORKFLOW
@KIND
@click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With `attributes`: write the document to this file (to edit it for `roost update attributes`).",
)
@OUTPUT
def get_command(
    kind: str,
    name: str,
    project: str | None,
    domain: str | None,
    nodes: bool,
    limit: int,
    workflow: str,
    attribute_kind: str | None,
    file: Path | None,
    output: str,
) -> None:
    """List projects, tasks, workflows, launch plans or executions; show one execution, its signals (``signals
    NAME``) or its notifications (``notifications NAME``: each delivery's channel, state, attempts and last error);
    or show the matchable attribute of one kind (``attributes --kind K``; without --domain the project's own)."""
    if kind == "attributes":
        if attribute_kind is None:
            raise click.UsageError("roost get attributes needs --kind")
        scope = scope_of(project, domain, workflow)
        _guarded(lambda: _show_attributes(scope, attribute_kind, file, output))
        return
    project, domain = _scope(project, domain)

    def act() -> None:
        with _client() as client:
            if kind == "signals":
                if not name:
                    raise click.UsageError("roost get signals needs the execution's NAME")
                rows = signal_rows(client, project, domain, name)
                _emit(rows, output, ["signal", "type", "value"], f"signals of {name}")
                return
            if kind == "execution":
                if not name:
                    raise click.UsageError("roost get execution needs the execution's NAME")
                _show_execution(client, project, domain, name, nodes, output)
                return
            if kind == "notifications":
                if not name:
                    raise click.UsageError("roost get notifications needs the execution's NAME")
                _show_notifications(client, project, domain, name, output)
                return
            _show_list(client, kind, project, domain, name, limit, output)

    _guarded(act)


def _show_attributes(scope: Any, kind: str, file: Path | None, output: str) -> None:
    with _client() as client:
        show_attributes(client, scope, kind, file, output)


def _show_list(client: Any, kind: str, project: str, domain: str, name: str, limit: int, output: str) -> None:
    from flyteidl.core import execution_pb2 as core_execution

    items = client.list(kind, project, domain, name, limit=limit)
    if kind == "projects":
        rows = [{"id": p.id, "name": p.name, "description": p.description} for p in items]
        _emit(rows, output, ["id", "name", "description"])
    elif kind == "executions":
        rows = [
            {
                "name": e.id.name,
                "launch plan": e.spec.launch_plan.name,
                "phase": core_execution.WorkflowExecution.Phase.Name(e.closure.phase),
                "started": e.closure.started_at.ToDatetime().isoformat(timespec="seconds")
                if e.closure.HasField("started_at")
                else "",
                "duration": f"{e.closure.duration.ToTimedelta().total_seconds():.1f}s",
            }
            for e in items
        ]
        _emit(rows, output, ["name", "launch plan", "phase", "started", "duration"])
    elif name:
        rows = [
            {
                "name": e.id.name,
                "version": e.id.version,
                "created": e.closure.created_at.ToDatetime().isoformat(timespec="seconds"),
            }
            for e in items
        ]
        _emit(rows, output, ["name", "version", "created"])
    else:
        rows = [{"name": e.name} for e in items]
        _emit(rows, output, ["name"])


def _show_notifications(client: Any, project: str, domain: str, name: str, output: str) -> None:
    from flyteidl.core import identifier_pb2

    execution_id = identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
    rows = [
        {
            "channel": found["channel"],
            "phase": found["phase"],
            "state": found["state"],
            "attempts": int(found["attempts"]),
            "delivered": found["delivered_at"],
            "last error": found["last_error"],
        }
        for found in client.notifications(execution_id)
    ]
    if not rows and output == "table":
        click.echo(f"execution {project}/{domain}/{name} has no notifications")
        return
    _emit(rows, output, ["channel", "phase", "state", "attempts", "delivered", "last error"])


def _show_execution(client: Any, project: str, domain: str, name: str, nodes: bool, output: str) -> None:
    from flyteidl.core import execution_pb2 as core_execution
    from flyteidl.core import identifier_pb2

    execution_id = identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
    execution = client.execution(execution_id)
    if not nodes:
        if output == "table":
            closure = execution.closure
            row = {
                "name": name,
                "launch plan": execution.spec.launch_plan.name,
                "phase": core_execution.WorkflowExecution.Phase.Name(closure.phase),
                "duration": f"{closure.duration.ToTimedelta().total_seconds():.1f}s",
                "error": closure.error.message,
            }
            _emit([row], output, list(row))
        else:
            _emit([json_format.MessageToDict(execution)], output, [])
        return
    from roost_core.engine.graph import is_start_or_end

    rows = []
    names = _node_names(client, execution)
    for node in client.node_executions(execution_id):
        if is_start_or_end(node.id.node_id):
            continue
        closure = node.closure
        spec_id = node.metadata.spec_node_id or node.id.node_id
        rows.append(
            {
                "node": node.id.node_id,
                "name": names.get(spec_id, spec_id),
                "phase": core_execution.NodeExecution.Phase.Name(closure.phase),
                "duration": f"{closure.duration.ToTimedelta().total_seconds():.2f}s",
                "error": closure.error.message.splitlines()[0] if closure.error.message else "",
            }
        )
    _emit(rows, output, ["node", "name", "phase", "duration", "error"], f"nodes of {name}")


@click.command("terminate")
@click.argument("name")
@PROJECT
@DOMAIN
@click.option("--cause", default="terminated from the roost CLI", show_default=True)
def terminate_command(name: str, project: str | None, domain: str | None, cause: str) -> None:
    """Abort a running execution."""
    from flyteidl.core import identifier_pb2

    project, domain = _scope(project, domain)

    def act() -> None:
        with _client() as client:
            client.terminate(
                identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name), cause
            )
        click.echo(f"terminating {project}/{domain}/{name}")

    _guarded(act)


@click.command("relaunch")
@click.argument("name")
@PROJECT
@DOMAIN
def relaunch_command(name: str, project: str | None, domain: str | None) -> None:
    """Run an execution again with the same inputs."""
    from flyteidl.core import identifier_pb2

    project, domain = _scope(project, domain)

    def act() -> None:
        with _client() as client:
            new = client.relaunch(
                identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
            )
        click.echo(f"relaunched {name} as {project}/{domain}/{new.name}")

    _guarded(act)


@click.command("recover")
@click.argument("name")
@PROJECT
@DOMAIN
@click.option(
    "--version", default="", help="Resume on this version of the launch plan, reusing what is unchanged."
)
@click.option("--latest", is_flag=True, help="Resume on the newest registered version.")
@click.option(
    "--dry-run", is_flag=True, help="With --version or --latest: print what would be reused, and why."
)
@click.option("--new-name", default="", help="The new execution's name [default: generated].")
@OUTPUT
def recover_command(
    name: str,
    project: str | None,
    domain: str | None,
    version: str,
    latest: bool,
    dry_run: bool,
    new_name: str,
    output: str,
) -> None:
    """Recover an ended execution: what succeeded is reused, the rest runs. With --version or --latest,
    resume it on that version: deterministic tasks whose code and inputs are unchanged are reused."""
    from flyteidl.core import identifier_pb2

    if version and latest:
        raise click.UsageError("give --version or --latest, not both")
    if dry_run and not (version or latest):
        raise click.UsageError("--dry-run plans a resume: give --version or --latest")
    project, domain = _scope(project, domain)
    target = "latest" if latest else version

    def act() -> None:
        ident = identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
        with _client() as client:
            new, plan = client.recover(ident, name=new_name, version=target, dry_run=dry_run)
        if dry_run:
            rows = [
                {
                    "node": step["node"],
                    "action": "reuse" if step["reuse"] else "re-run",
                    "reason": step["reason"],
                }
                for step in plan
            ]
            _emit(rows, output, ["node", "action", "reason"], title=f"resuming {name} on {target}")
            return
        how = f"resumed {name} on version {target}" if target else f"recovered {name}"
        click.echo(f"{how} as {project}/{domain}/{new.name}")

    _guarded(act)


@click.group("create")
def create_group() -> None:
    """Create admin objects."""


@create_group.command("project")
@click.argument("project_id")
@click.option("--name", default="", help="A display name [default: the id].")
@click.option("--description", default="")
def create_project(project_id: str, name: str, description: str) -> None:
    """Create a project."""

    def act() -> None:
        with _client() as client:
            client.register_project(project_id, name, description)
        click.echo(f"created project {project_id}")

    _guarded(act)


@click.group("update")
def update_group() -> None:
    """Change admin objects."""


@update_group.command("launchplan")
@click.argument("name")
@click.option("--version", required=True, help="The version to change.")
@click.option("--activate/--deactivate", required=True, help="Make it the active version, or not.")
@PROJECT
@DOMAIN
def update_launch_plan(
    name: str, version: str, activate: bool, project: str | None, domain: str | None
) -> None:
    """Activate or deactivate a launch plan version."""
    from flyteidl.core import identifier_pb2

    project, domain = _scope(project, domain)

    def act() -> None:
        with _client() as client:
            client.set_launch_plan_state(
                identifier_pb2.Identifier(
                    resource_type=identifier_pb2.LAUNCH_PLAN,
                    project=project,
                    domain=domain,
                    name=name,
                    version=version,
                ),
                active=activate,
            )
        click.echo(f"launch plan {name}@{version} is now {'active' if activate else 'inactive'}")

    _guarded(act)


update_group.add_command(update_attributes)


@click.group("delete")
def delete_group() -> None:
    """Remove admin objects."""


delete_group.add_command(delete_attributes)


COMMANDS = [
    config_group,
    register_command,
    get_command,
    terminate_command,
    relaunch_command,
    recover_command,
    create_group,
    update_group,
    delete_group,
    approve_command,
    signal_group,
]
"""The client commands ``roost`` adds to its group."""
