"""Signals from the command line: ``roost get signals EXEC`` lists an execution's signals, ``roost approve EXEC
NODE [--reject]`` answers an approval gate, and ``roost signal set EXEC SIGNAL_ID VALUE`` gives a signal its
value, parsed by the signal's type (as ``roost run`` parses inputs)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click


def _execution_id(project: str, domain: str, name: str) -> Any:
    from flyteidl.core import identifier_pb2

    return identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)


def _type_text(literal_type: Any) -> str:
    from roost_core import literal_types

    return str(literal_types.describe(literal_type))


def _value_text(literal: Any) -> str:
    """A signal's value for a table: a primitive as itself, anything else as protobuf's JSON."""
    import json

    from google.protobuf import json_format

    primitive = literal.scalar.primitive
    kind = primitive.WhichOneof("value") if literal.scalar.HasField("primitive") else None
    if kind == "datetime":
        return str(primitive.datetime.ToDatetime().isoformat())
    if kind == "duration":
        return str(primitive.duration.ToTimedelta())
    if kind is not None:
        return str(getattr(primitive, kind))
    return json.dumps(json_format.MessageToDict(literal))


def signal_rows(client: Any, project: str, domain: str, name: str) -> list[dict[str, str]]:
    """One row per signal of the execution: its id, type and value (empty while it waits)."""
    return [
        {
            "signal": signal.id.signal_id,
            "type": _type_text(signal.type),
            "value": _value_text(signal.value) if signal.HasField("value") else "",
        }
        for signal in client.execution_signals(_execution_id(project, domain, name))
    ]


def _gate_signals(client: Any, execution: Any) -> Iterator[tuple[str, str]]:
    """(node id, signal id) of every approval gate of the execution's workflow and its sub-workflows."""
    workflow = client.get_workflow(execution.closure.workflow_id).closure.compiled_workflow
    templates = [workflow.primary.template, *(sub.template for sub in workflow.sub_workflows)]
    pending = [node for template in templates for node in template.nodes]
    while pending:
        node = pending.pop()
        if node.HasField("gate_node") and node.gate_node.HasField("approve"):
            yield node.id, node.gate_node.approve.signal_id
        if node.HasField("branch_node"):
            branch = node.branch_node.if_else
            pending += [branch.case.then_node, *(c.then_node for c in branch.other)]
            if branch.HasField("else_node"):
                pending.append(branch.else_node)


@click.command("approve")
@click.argument("execution")
@click.argument("node")
@click.option("--reject", is_flag=True, help="Reject instead: the gate fails its execution.")
@click.option("-p", "--project", default=None, help="The project [default: from the config].")
@click.option("-d", "--domain", default=None, help="The domain [default: from the config].")
def approve_command(execution: str, node: str, reject: bool, project: str | None, domain: str | None) -> None:
    """Approve (or reject) the approval gate NODE of EXECUTION (the gate's node id or its signal's name)."""
    from flyteidl.core import identifier_pb2, literals_pb2

    from roost.cli.remote import _client, _guarded, _scope

    project, domain = _scope(project, domain)

    def act() -> None:
        ident = _execution_id(project, domain, execution)
        with _client() as client:
            found = client.execution(ident)
            gates = dict(_gate_signals(client, found))
            signal_id = gates.get(node) or (node if node in gates.values() else "")
            if not signal_id:
                known = ", ".join(sorted(gates)) or "none"
                raise click.ClickException(
                    f"execution {project}/{domain}/{execution} has no approval gate {node!r}; its gates: {known}"
                )
            value = literals_pb2.Literal(
                scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=not reject))
            )
            client.set_signal(identifier_pb2.SignalIdentifier(signal_id=signal_id, execution_id=ident), value)
        click.echo(f"{'rejected' if reject else 'approved'} {node} of {project}/{domain}/{execution}")

    _guarded(act)


@click.group("signal")
def signal_group() -> None:
    """Signals of executions."""


@signal_group.command("set")
@click.argument("execution")
@click.argument("signal_id")
@click.argument("value")
@click.option("-p", "--project", default=None, help="The project [default: from the config].")
@click.option("-d", "--domain", default=None, help="The domain [default: from the config].")
def set_signal(execution: str, signal_id: str, value: str, project: str | None, domain: str | None) -> None:
    """Give the waiting signal SIGNAL_ID of EXECUTION the VALUE, parsed by the signal's type (JSON for lists,
    maps and dataclasses)."""
    from flyteidl.core import identifier_pb2

    from roost.cli.params import InputParseError, parse_value
    from roost.cli.remote import _client, _guarded, _scope
    from roost.plugins.storage import sdk_storage
    from roost.types import TypeContext, guess_python_type, to_literal

    project, domain = _scope(project, domain)

    def act() -> None:
        ident = _execution_id(project, domain, execution)
        with _client() as client:
            signals = {s.id.signal_id: s for s in client.execution_signals(ident)}
            signal = signals.get(signal_id)
            if signal is None:
                known = ", ".join(sorted(signals)) or "none"
                raise click.ClickException(
                    f"execution {project}/{domain}/{execution} has no signal {signal_id!r}; its signals: {known}"
                )
            python_type = guess_python_type(signal.type)
            what = f"signal {signal_id!r}"
            try:
                parsed = parse_value(value, python_type, what=what)
            except InputParseError as exc:
                raise click.ClickException(str(exc)) from None
            with (
                tempfile.TemporaryDirectory(prefix="roost-signal-") as folder,
                TypeContext(sdk_storage(), Path(folder).as_uri(), work_dir=folder) as ctx,
            ):
                literal = to_literal(ctx, parsed, python_type, signal.type)
            client.set_signal(
                identifier_pb2.SignalIdentifier(signal_id=signal_id, execution_id=ident), literal
            )
        click.echo(f"set {signal_id} of {project}/{domain}/{execution}")

    _guarded(act)
