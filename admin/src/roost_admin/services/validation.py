"""Checks of identifiers and payloads; every failure is an InvalidArgument naming the field (in its message and
as its ``field``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from flyteidl.admin import common_pb2
from flyteidl.core import execution_pb2, identifier_pb2

from roost_admin.errors import InvalidArgument, NotFound, ResourceExhausted
from roost_admin.notifiers import Channel

_PROJECT = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}$")
_VERSION = re.compile(r"^[A-Za-z0-9_.\-=+:]{1,255}$")
_EXECUTION = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_PHASE = execution_pb2.WorkflowExecution.Phase
_TERMINAL = frozenset(
    {
        execution_pb2.WorkflowExecution.SUCCEEDED,
        execution_pb2.WorkflowExecution.FAILED,
        execution_pb2.WorkflowExecution.TIMED_OUT,
        execution_pb2.WorkflowExecution.ABORTED,
    }
)


def _check(pattern: re.Pattern[str], value: str, what: str, rule: str) -> str:
    if not value:
        raise InvalidArgument(f"{what} is required", field=what)
    if not pattern.match(value):
        raise InvalidArgument(f"{what} {value!r} is not valid: {rule}", field=what)
    return value


def project_id(value: str, what: str = "project") -> str:
    """A project id: lowercase letters, digits and dashes, 1 to 63, starting and ending alphanumeric."""
    return _check(_PROJECT, value, what, "use 1-63 lowercase letters, digits and '-'")


def entity_name(value: str, what: str = "name") -> str:
    """A task, workflow or launch plan name: letters, digits, '_', '.', '-', up to 255."""
    return _check(_NAME, value, what, "use letters, digits, '_', '.' and '-', up to 255 characters")


def version(value: str, what: str = "version") -> str:
    """An entity version: letters, digits and ``_ . - = + :``, up to 255."""
    return _check(_VERSION, value, what, "use letters, digits and '_.-=+:', up to 255 characters")


def execution_name(value: str, what: str = "execution name") -> str:
    """An execution name: lowercase letters, digits and dashes, starting with a letter, up to 63."""
    return _check(
        _EXECUTION, value, what, "use 1-63 lowercase letters, digits and '-', starting with a letter"
    )


def text(value: str, what: str, limit: int = 255) -> str:
    """A name stored as it is given (a principal, a node id, an error code): at most ``limit`` characters."""
    if len(value) > limit:
        raise InvalidArgument(f"{what} is {len(value)} characters long; the limit is {limit}", field=what)
    return value


def domain(value: str, domains: Iterable[str], what: str = "domain") -> str:
    """A configured domain."""
    known = list(domains)
    if not value:
        raise InvalidArgument(f"{what} is required", field=what)
    if value not in known:
        raise NotFound(f"{what} {value!r} does not exist; domains: {', '.join(known)}")
    return value


def identifier(
    ident: identifier_pb2.Identifier, domains: Iterable[str], *, what: str, need_version: bool = True
) -> identifier_pb2.Identifier:
    """A full (project, domain, name[, version]) identifier."""
    project_id(ident.project, f"{what} project")
    domain(ident.domain, domains, f"{what} domain")
    entity_name(ident.name, f"{what} name")
    if need_version:
        version(ident.version, f"{what} version")
    return ident


def size(payload: bytes | int, limit: int, what: str) -> None:
    """Refuse payloads over ``limit`` bytes."""
    length = payload if isinstance(payload, int) else len(payload)
    if length > limit:
        raise ResourceExhausted(f"{what} is {length} bytes; the limit is {limit}")


def execution_id(
    domains: Iterable[str], ident: identifier_pb2.WorkflowExecutionIdentifier, what: str = "id"
) -> identifier_pb2.WorkflowExecutionIdentifier:
    """A full execution identifier; ``what`` prefixes the field names in messages."""
    project_id(ident.project, f"{what}.project")
    domain(ident.domain, domains, f"{what}.domain")
    execution_name(ident.name, f"{what}.name")
    return ident


def node_execution_id(
    domains: Iterable[str], ident: identifier_pb2.NodeExecutionIdentifier, what: str = "id"
) -> identifier_pb2.NodeExecutionIdentifier:
    """A node execution identifier: its execution's, and a node id."""
    execution_id(domains, ident.execution_id, f"{what}.execution_id")
    if not ident.node_id:
        raise InvalidArgument(f"{what}.node_id is required", field=f"{what}.node_id")
    return ident


def task_execution_id(
    domains: Iterable[str], ident: identifier_pb2.TaskExecutionIdentifier, what: str = "id"
) -> identifier_pb2.TaskExecutionIdentifier:
    """A task execution identifier: its node execution's, and a task id."""
    node_execution_id(domains, ident.node_execution_id, f"{what}.node_execution_id")
    if not ident.task_id.name:
        raise InvalidArgument(f"{what}.task_id is required", field=f"{what}.task_id")
    return ident


def notifications(
    notifications: Sequence[common_pb2.Notification],
    what: str,
    field: str,
    routes: Mapping[str, str],
    channels: Mapping[str, Channel],
    registered: Iterable[str],
) -> None:
    """Each notification names a kind whose channel (``routes``) is registered, terminal phases, and
    recipients that channel can reach; INVALID_ARGUMENT naming ``what`` (the launch plan or execution) and the
    field otherwise."""
    for index, notification in enumerate(notifications):
        at = f"{field}[{index}]"
        kind = notification.WhichOneof("type")
        if kind is None:
            raise InvalidArgument(f"{what}: {at} names no channel (email, slack or pager_duty)", field=at)
        name = routes.get(kind, "email")
        channel = channels.get(name)
        if channel is None:
            raise InvalidArgument(
                f"{what}: {at}.{kind} is sent through channel '{name}' (notifications.routes.{kind}), which is "
                f"not registered (registered: {', '.join(sorted(registered))})",
                field=f"{at}.{kind}",
            )
        if not notification.phases:
            raise InvalidArgument(
                f"{what}: {at}.phases is empty; name the terminal phases to tell of", field=at
            )
        for number, phase in enumerate(notification.phases):
            if phase not in _TERMINAL:
                phase_name = _PHASE.Name(phase) if phase in _PHASE.values() else str(phase)
                raise InvalidArgument(
                    f"{what}: {at}.phases[{number}] is {phase_name}, not a terminal phase (SUCCEEDED, FAILED, "
                    "TIMED_OUT, ABORTED)",
                    field=f"{at}.phases[{number}]",
                )
        recipients = getattr(notification, kind).recipients_email
        if not recipients:
            raise InvalidArgument(f"{what}: {at}.{kind}.recipients_email is empty", field=at)
        for number, address in enumerate(recipients):
            problem = channel.check(address)
            if problem:
                where = f"{at}.{kind}.recipients_email[{number}]"
                raise InvalidArgument(f"{what}: {where} '{address}' {problem}", field=where)
