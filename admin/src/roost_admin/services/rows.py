"""Finding execution, node execution and task execution rows, and the phase facts every part of the execution
side shares (which phases are terminal, how phases and times are written)."""

from __future__ import annotations

import datetime

from flyteidl.core import execution_pb2, identifier_pb2
from google.protobuf import timestamp_pb2
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.db.base import utcnow
from roost_admin.errors import NotFound

WorkflowPhase = execution_pb2.WorkflowExecution.Phase
NodePhase = execution_pb2.NodeExecution.Phase
TaskPhase = execution_pb2.TaskExecution.Phase

TERMINAL_WORKFLOW = frozenset(
    {
        execution_pb2.WorkflowExecution.SUCCEEDED,
        execution_pb2.WorkflowExecution.FAILED,
        execution_pb2.WorkflowExecution.ABORTED,
        execution_pb2.WorkflowExecution.TIMED_OUT,
    }
)
TERMINAL_NODE = frozenset(
    {
        execution_pb2.NodeExecution.SUCCEEDED,
        execution_pb2.NodeExecution.FAILED,
        execution_pb2.NodeExecution.SKIPPED,
        execution_pb2.NodeExecution.ABORTED,
        execution_pb2.NodeExecution.TIMED_OUT,
        execution_pb2.NodeExecution.RECOVERED,
    }
)
TERMINAL_TASK = frozenset(
    {
        execution_pb2.TaskExecution.SUCCEEDED,
        execution_pb2.TaskExecution.FAILED,
        execution_pb2.TaskExecution.ABORTED,
    }
)


SINGLE_TASK_PREFIX = ".flytegen."
"""flyteadmin's name prefix for the workflow wrapping a single-task execution."""


def workflow_phase_name(phase: int) -> str:
    """``SUCCEEDED`` for a WorkflowExecution phase number."""
    return str(WorkflowPhase.Name(phase))


def node_phase_name(phase: int) -> str:
    """``RUNNING`` for a NodeExecution phase number."""
    return str(NodePhase.Name(phase))


def task_phase_name(phase: int) -> str:
    """``RUNNING`` for a TaskExecution phase number."""
    return str(TaskPhase.Name(phase))


def aware(moment: datetime.datetime) -> datetime.datetime:
    """A database time as an aware UTC datetime (SQLite hands back naive ones, which are UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


def to_datetime(stamp: timestamp_pb2.Timestamp) -> datetime.datetime:
    """An event's timestamp as an aware UTC datetime (now, when the event left it unset)."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return utcnow()
    return stamp.ToDatetime(tzinfo=datetime.UTC)


def seconds_between(start: datetime.datetime, end: datetime.datetime) -> float:
    """Seconds from ``start`` to ``end`` (never negative)."""
    return max(0.0, (aware(end) - aware(start)).total_seconds())


def key_text(project: str, domain: str, name: str) -> str:
    """``project/domain/name``: how messages name an execution."""
    return f"{project}/{domain}/{name}"


def execution_key(row: models.Execution) -> str:
    """``project/domain/name`` of an execution row (also the engine's key of its state)."""
    return key_text(row.project, row.domain, row.name)


def execution_identifier(row: models.Execution) -> identifier_pb2.WorkflowExecutionIdentifier:
    """The flyteidl identifier of an execution row."""
    return identifier_pb2.WorkflowExecutionIdentifier(project=row.project, domain=row.domain, name=row.name)


def find_execution(session: Session, project: str, domain: str, name: str) -> models.Execution | None:
    """The execution named so, or None."""
    return session.scalars(
        select(models.Execution).where(
            models.Execution.project == project,
            models.Execution.domain == domain,
            models.Execution.name == name,
        )
    ).one_or_none()


def get_execution(session: Session, ident: identifier_pb2.WorkflowExecutionIdentifier) -> models.Execution:
    """The execution ``ident`` names; NOT_FOUND naming it otherwise."""
    row = find_execution(session, ident.project, ident.domain, ident.name)
    if row is None:
        raise NotFound(f"execution {key_text(ident.project, ident.domain, ident.name)} does not exist")
    return row


def find_node(session: Session, execution_id: int, node_id: str) -> models.NodeExecution | None:
    """The node execution ``node_id`` of an execution, or None."""
    return session.scalars(
        select(models.NodeExecution).where(
            models.NodeExecution.execution_id == execution_id, models.NodeExecution.node_id == node_id
        )
    ).one_or_none()


def get_node(
    session: Session, ident: identifier_pb2.NodeExecutionIdentifier
) -> tuple[models.Execution, models.NodeExecution]:
    """The execution and node execution ``ident`` names; NOT_FOUND naming the missing one otherwise."""
    execution = get_execution(session, ident.execution_id)
    node = find_node(session, execution.id, ident.node_id)
    if node is None:
        raise NotFound(
            f"node execution '{ident.node_id}' of execution {execution_key(execution)} does not exist"
        )
    return execution, node


def find_task(
    session: Session, node_row_id: int, task_id: identifier_pb2.Identifier, retry_attempt: int
) -> models.TaskExecution | None:
    """The task execution (one attempt of a task on a node), or None."""
    table = models.TaskExecution
    return session.scalars(
        select(table).where(
            table.node_execution_id == node_row_id,
            table.task_project == task_id.project,
            table.task_domain == task_id.domain,
            table.task_name == task_id.name,
            table.task_version == task_id.version,
            table.retry_attempt == retry_attempt,
        )
    ).one_or_none()


def task_text(task_id: identifier_pb2.Identifier, retry_attempt: int, node_id: str, key: str) -> str:
    """``task 't' attempt 0 of node 'n0' of p/d/n`` for messages."""
    return f"task execution '{task_id.name}' attempt {retry_attempt} of node '{node_id}' of execution {key}"


def get_task(
    session: Session, ident: identifier_pb2.TaskExecutionIdentifier
) -> tuple[models.Execution, models.NodeExecution, models.TaskExecution]:
    """The execution, node execution and task execution ``ident`` names; NOT_FOUND otherwise."""
    execution, node = get_node(session, ident.node_execution_id)
    task = find_task(session, node.id, ident.task_id, ident.retry_attempt)
    if task is None:
        text = task_text(ident.task_id, ident.retry_attempt, node.node_id, execution_key(execution))
        raise NotFound(f"{text} does not exist")
    return execution, node, task


def wake(session: Session, execution_id: int) -> bool:
    """Ask for a round of an unfinished execution as soon as possible: whoever holds it (or claims it next)
    looks at it. Returns whether the execution is unfinished (so workers should be poked after the commit)."""
    now = utcnow()
    result = session.execute(
        update(models.Execution)
        .where(models.Execution.id == execution_id, models.Execution.phase.not_in(TERMINAL_WORKFLOW))
        .values(wake_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
