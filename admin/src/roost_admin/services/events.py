"""Recording workflow, node and task events: flyteadmin's rules, and how each event changes the rows.

The event operations (CreateWorkflowEvent, CreateNodeEvent, CreateTaskEvent) and the engine workers' event sink
record events through :class:`Events` and its :class:`EventLedger`, so the rules exist once:

- workflow events: a phase recorded again is ALREADY_EXISTS (QUEUED excepted: it may repeat); any event
  after a terminal phase is FAILED_PRECONDITION carrying ``EventFailureReason.already_in_terminal_state``;
  RUNNING → QUEUED and ABORTING → anything but a terminal phase are FAILED_PRECONDITION;
- node events: the first event of a node creates its row (its parent node must exist); the same phase again
  is ALREADY_EXISTS; anything after a terminal phase is FAILED_PRECONDITION (already in terminal state); a
  launch-plan node's child execution must exist;
- task events: the first event of an attempt creates its row (its node must exist); the same phase with the
  same or a lower phase version is ALREADY_EXISTS; anything after a terminal phase is FAILED_PRECONDITION
  (already in terminal state).

Every check happens before anything is changed, so a refused event leaves the rows as they were.

Events are recorded a transaction at a time (one over the API, a batch from the engine workers): one query finds
every row the transaction's events name (:meth:`EventLedger.look_up`), the events are applied to those rows in
order, and the changes are written when the transaction commits, a new node and its new attempts together.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import execution_pb2, identifier_pb2
from flyteidl.event import event_pb2
from google.protobuf import json_format
from sqlalchemy import and_, bindparam, select, tuple_
from sqlalchemy.orm import Session

from roost_admin import blobs
from roost_admin.db import models
from roost_admin.errors import (
    AdminError,
    AlreadyExists,
    AlreadyInTerminalState,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from roost_admin.services import concurrency, notifications, publishing, validation
from roost_admin.services.base import Service
from roost_admin.services.context import ExecutionKey
from roost_admin.services.rows import (
    TERMINAL_NODE,
    TERMINAL_TASK,
    TERMINAL_WORKFLOW,
    key_text,
    node_phase_name,
    seconds_between,
    task_phase_name,
    task_text,
    to_datetime,
    wake,
    workflow_phase_name,
)
from roost_core.events import Event
from roost_core.storage import Storage

log = logging.getLogger(__name__)

_WF = execution_pb2.WorkflowExecution


_STORED_TEXT = {
    "id.node_id": 255,
    "spec_node_id": 255,
    "node_name": 255,
    "retry_group": 63,
    "task_id.project": 63,
    "task_id.domain": 63,
    "task_id.name": 255,
    "task_id.version": 255,
    "task_type": 255,
    "error.code": 255,
}
"""Event fields kept in the database as they are, with the length of their column."""


def check_api_event(event: Any, storage_prefix: str) -> None:
    """Checks of an event sent over the API, beyond the ledger's rules: the names it carries fit their
    columns, and its ``input_uri`` and ``output_uri`` lie in the admin's storage (the admin reads those blobs to
    answer the Get*Data RPCs, and must never be led to other files)."""
    for path, limit in _STORED_TEXT.items():
        value: Any = event
        for part in path.split("."):
            value = getattr(value, part, None)
        if isinstance(value, str):
            validation.text(value, f"event.{path}", limit)
    for name in ("input_uri", "output_uri"):
        uri = getattr(event, name, "")
        if uri and not blobs.within(uri, storage_prefix):
            raise InvalidArgument(
                f"event.{name} {uri!r} is not under this admin's storage ({storage_prefix}); events may only "
                "point to its blobs"
            )


def _error_columns(row: Any, error: execution_pb2.ExecutionError) -> None:
    row.error_code = error.code
    row.error_kind = int(error.kind)
    row.error_message = error.message


_TaskIdentity = tuple[str, str, str, str, int]
"""A task attempt within its node: the task's project, domain, name and version, and the retry attempt."""
_NodeKey = tuple[ExecutionKey, str]
"""A node execution: its execution and its node id."""
_TaskKey = tuple[ExecutionKey, str, str, str, str, str, int]
"""A task attempt: its node's key, then its identity."""
_LOOK_UP_EVENTS = 300
"""Events whose rows one query looks up at most (bind parameters are limited)."""
_E, _N, _T = models.Execution, models.NodeExecution, models.TaskExecution
_LOOK_UP = (
    select(_E, _N, _T)
    .outerjoin(_N, and_(_N.execution_id == _E.id, _N.node_id.in_(bindparam("node_ids", expanding=True))))
    .outerjoin(
        _T,
        and_(
            _T.node_execution_id == _N.id,
            tuple_(_T.task_project, _T.task_domain, _T.task_name, _T.task_version, _T.retry_attempt).in_(
                bindparam("attempts", expanding=True)
            ),
        ),
    )
    .where(tuple_(_E.project, _E.domain, _E.name).in_(bindparam("executions", expanding=True)))
)
"""Executions, each with those of its nodes and their attempts that are asked for (some nodes or attempts of other
executions of the query may come along: they are real rows too)."""


def _key(ident: identifier_pb2.WorkflowExecutionIdentifier) -> ExecutionKey:
    return (ident.project, ident.domain, ident.name)


def _task_identity(task_id: identifier_pb2.Identifier, attempt: int) -> _TaskIdentity:
    return (task_id.project, task_id.domain, task_id.name, task_id.version, attempt)


def _row_key(row: models.Execution) -> ExecutionKey:
    return (row.project, row.domain, row.name)


def _task_identity_of(row: models.TaskExecution) -> _TaskIdentity:
    return (row.task_project, row.task_domain, row.task_name, row.task_version, row.retry_attempt)


class EventLedger:
    """Records events into one session (the caller's transaction).

    ``woke`` turns True when an event woke another execution (a child ended and its parent should look at
    it); the caller then pokes the engine workers after committing.
    """

    def __init__(self, session: Session, storage: Storage, storage_prefix: str) -> None:
        self.session = session
        self.storage = storage
        self.storage_prefix = storage_prefix
        self.woke = False
        self.ended: list[models.Execution] = []
        """Executions whose terminal phase was recorded (their notifications are due)."""
        self.recorded: list[tuple[models.Execution, Any]] = []
        """Every event recorded, with its execution (they are published)."""
        # Rows already found, made, or known missing (None) in this transaction: a batch of events names the same
        # few again and again, and :meth:`look_up` finds them all at once.
        self._executions: dict[ExecutionKey, models.Execution | None] = {}
        self._nodes: dict[_NodeKey, models.NodeExecution | None] = {}
        self._tasks: dict[_TaskKey, models.TaskExecution | None] = {}

    def look_up(self, messages: Iterable[Any]) -> None:
        """Find every execution, node execution and task attempt the events name, with one query (per few
        hundred events), remembering what is missing: recording them then selects nothing more. Events without
        the fields that name a row are left to the rules, which refuse them."""
        batch = list(messages)
        for start in range(0, len(batch), _LOOK_UP_EVENTS):
            executions: set[ExecutionKey] = set()
            nodes: set[_NodeKey] = set()
            tasks: set[_TaskKey] = set()
            for message in batch[start : start + _LOOK_UP_EVENTS]:
                if isinstance(message, event_pb2.WorkflowExecutionEvent):
                    executions.add(_key(message.execution_id))
                elif isinstance(message, event_pb2.NodeExecutionEvent):
                    key = _key(message.id.execution_id)
                    nodes.add((key, message.id.node_id))
                    if message.parent_node_metadata.node_id:
                        nodes.add((key, message.parent_node_metadata.node_id))
                    if message.workflow_node_metadata.HasField("execution_id"):
                        executions.add(_key(message.workflow_node_metadata.execution_id))
                elif isinstance(message, event_pb2.TaskExecutionEvent):
                    node = message.parent_node_execution_id
                    key = _key(node.execution_id)
                    nodes.add((key, node.node_id))
                    tasks.add(
                        (key, node.node_id, *_task_identity(message.task_id, int(message.retry_attempt)))
                    )
            self._load(
                executions - self._executions.keys(), nodes - self._nodes.keys(), tasks - self._tasks.keys()
            )

    def _load(self, executions: set[ExecutionKey], nodes: set[_NodeKey], tasks: set[_TaskKey]) -> None:
        """Select the rows named (in one query: executions, with the nodes and attempts wanted joined) and
        remember each as found or missing."""
        if not (executions or nodes or tasks):
            return
        executions = executions | {key[0] for key in nodes} | {key[0] for key in tasks}
        parameters = {
            "executions": list(executions),
            "node_ids": list({key[1] for key in nodes} | {key[1] for key in tasks}),
            "attempts": list({key[2:] for key in tasks}),
        }
        # Rows this transaction made or changed are remembered already: flushing them first would only cost.
        with self.session.no_autoflush:
            found = self.session.execute(_LOOK_UP, parameters).all()
        for execution, node, task in found:
            key = _row_key(execution)
            self._executions.setdefault(key, execution)
            if node is not None:
                self._nodes.setdefault((key, node.node_id), node)
                if task is not None:
                    self._tasks.setdefault((key, node.node_id, *_task_identity_of(task)), task)
        for execution_key in executions:
            self._executions.setdefault(execution_key, None)
        for node_key in nodes:
            self._nodes.setdefault(node_key, None)
        for task_key in tasks:
            self._tasks.setdefault(task_key, None)

    def _execution(self, project: str, domain: str, name: str) -> models.Execution | None:
        key = (project, domain, name)
        if key not in self._executions:
            self._load({key}, set(), set())
        return self._executions[key]

    def _node(self, execution: models.Execution, node_id: str) -> models.NodeExecution | None:
        key = (_row_key(execution), node_id)
        if key not in self._nodes:
            self._load(set(), {key}, set())
        return self._nodes[key]

    def _task(
        self, execution: models.Execution, node: models.NodeExecution, identity: _TaskIdentity
    ) -> models.TaskExecution | None:
        key = (_row_key(execution), node.node_id, *identity)
        if key not in self._tasks:
            if node in self.session.new:  # made by an earlier event, not inserted yet: it has no attempts
                self._tasks[key] = None
            else:
                self._load(set(), set(), {key})
        return self._tasks[key]

    def executions(self) -> frozenset[ExecutionKey]:
        """(project, domain, name) of every execution an event was recorded for."""
        return frozenset((row.project, row.domain, row.name) for row, _ in self.recorded)

    # workflow events

    def workflow(self, event: event_pb2.WorkflowExecutionEvent) -> models.Execution:
        """Record a workflow execution event."""
        if not event.HasField("execution_id"):
            raise InvalidArgument("event.execution_id is required")
        ident = event.execution_id
        key = key_text(ident.project, ident.domain, ident.name)
        row = self._execution(ident.project, ident.domain, ident.name)
        if row is None:
            raise NotFound(f"execution {key} does not exist")
        phase, current = int(event.phase), row.phase
        new_name, current_name = workflow_phase_name(phase), workflow_phase_name(current)
        if phase != _WF.QUEUED and phase == current:
            raise AlreadyExists(f"phase {new_name} was already recorded for workflow execution {key}")
        if current in TERMINAL_WORKFLOW:
            raise AlreadyInTerminalState(
                f"invalid phase change from {current_name} to {new_name} for workflow execution {key}: "
                "it already ended",
                current_name,
            )
        if current == _WF.RUNNING and phase == _WF.QUEUED:
            raise FailedPrecondition(f"cannot go from RUNNING to QUEUED for workflow execution {key}")
        if current == _WF.ABORTING and phase not in TERMINAL_WORKFLOW:
            raise FailedPrecondition(
                f"invalid phase change from ABORTING to {new_name} for workflow execution {key}: "
                "it is being aborted"
            )
        occurred = to_datetime(event.occurred_at)
        row.phase = phase
        row.updated_at = occurred
        if phase == _WF.RUNNING:
            row.started_at = occurred
        elif phase in TERMINAL_WORKFLOW and row.started_at is not None:
            row.duration = seconds_between(row.started_at, occurred)
        result = event.WhichOneof("output_result")
        if result == "output_uri":
            row.outputs_uri = event.output_uri
        elif result == "output_data":
            row.outputs_uri = self._offload(event.output_data, row, "event_outputs.pb")
        elif result == "error":
            _error_columns(row, event.error)
        self.recorded.append((row, event))
        if phase in TERMINAL_WORKFLOW:
            self.ended.append(row)
        if phase in TERMINAL_WORKFLOW and row.parent_node_execution_id is not None:
            parent = self.session.get(models.NodeExecution, row.parent_node_execution_id)
            if parent is not None and wake(self.session, parent.execution_id):
                self.woke = True
        return row

    # node events

    def node(
        self, event: event_pb2.NodeExecutionEvent, *, dynamic_workflow_uri: str = ""
    ) -> models.NodeExecution:
        """Record a node execution event; ``dynamic_workflow_uri`` is the compiled workflow a dynamic node
        generated, when the caller already stored it (the engine does)."""
        if not event.HasField("id") or not event.id.node_id:
            raise InvalidArgument("event.id.node_id is required")
        ident = event.id.execution_id
        key = key_text(ident.project, ident.domain, ident.name)
        execution = self._execution(ident.project, ident.domain, ident.name)
        if execution is None:
            raise NotFound(f"execution {key} does not exist")
        node_id = event.id.node_id
        phase = int(event.phase)
        row = self._node(execution, node_id)
        parent_id: int | None = None
        if row is None:
            parent_node = event.parent_node_metadata.node_id if event.HasField("parent_node_metadata") else ""
            if parent_node:
                parent = self._node(execution, parent_node)
                if parent is None:
                    raise NotFound(
                        f"parent node execution '{parent_node}' of node '{node_id}' of execution {key} "
                        "does not exist"
                    )
                if parent in self.session.new:  # made by an earlier event: inserted now, for its id
                    self.session.flush()
                parent_id = parent.id
        else:
            if row.phase == phase:
                raise AlreadyExists(
                    f"phase {node_phase_name(phase)} was already recorded for node execution '{node_id}' of "
                    f"execution {key}"
                )
            if row.phase in TERMINAL_NODE:
                current = node_phase_name(row.phase)
                raise AlreadyInTerminalState(
                    f"invalid phase change from {current} to {node_phase_name(phase)} for node execution "
                    f"'{node_id}' of execution {key}: it already ended",
                    current,
                )
        child: models.Execution | None = None
        if event.workflow_node_metadata.HasField("execution_id"):
            child_id = event.workflow_node_metadata.execution_id
            child = self._execution(child_id.project, child_id.domain, child_id.name)
            if child is None:
                raise NotFound(
                    f"child execution {key_text(child_id.project, child_id.domain, child_id.name)} of node "
                    f"'{node_id}' of execution {key} does not exist"
                )
        occurred = to_datetime(event.occurred_at)
        if row is None:
            row = models.NodeExecution(
                execution_id=execution.id,
                node_id=node_id,
                parent_id=parent_id,
                created_at=occurred,
                is_parent=False,
                is_dynamic=False,
                is_array=False,
                target={},
            )
            self.session.add(row)
            self._nodes[(_row_key(execution), node_id)] = row
        self._apply_node(event, execution, row, phase, occurred, dynamic_workflow_uri)
        if child is not None:
            self._link_child(execution, row, child)
        self.recorded.append((execution, event))
        return row

    def _apply_node(
        self,
        event: event_pb2.NodeExecutionEvent,
        execution: models.Execution,
        row: models.NodeExecution,
        phase: int,
        occurred: datetime.datetime,
        dynamic_workflow_uri: str,
    ) -> None:
        row.phase = phase
        row.updated_at = to_datetime(event.reported_at) if event.HasField("reported_at") else occurred
        row.spec_node_id = event.spec_node_id or row.spec_node_id
        row.node_name = event.node_name or row.node_name
        row.retry_group = event.retry_group or row.retry_group
        row.event_version = event.event_version
        row.is_parent = bool(row.is_parent or event.is_parent)
        row.is_dynamic = bool(row.is_dynamic or event.is_dynamic)
        row.is_array = bool(row.is_array or event.is_array)
        if event.HasField("target_entity"):
            row.target = json_format.MessageToDict(event.target_entity, preserving_proto_field_name=True)
        if not row.input_uri:
            if event.input_uri:
                row.input_uri = event.input_uri
            elif event.HasField("input_data"):
                row.input_uri = self._offload(event.input_data, execution, row.node_id, "event_inputs.pb")
        if phase == execution_pb2.NodeExecution.RUNNING:
            row.started_at = occurred
        if phase in TERMINAL_NODE:
            if row.started_at is not None:
                row.duration = seconds_between(row.started_at, occurred)
            result = event.WhichOneof("output_result")
            if result == "output_uri":
                row.output_uri = event.output_uri
            elif result == "output_data":
                row.output_uri = self._offload(event.output_data, execution, row.node_id, "event_outputs.pb")
            elif result == "error":
                _error_columns(row, event.error)
        if event.HasField("task_node_metadata"):
            metadata = event.task_node_metadata
            row.cache_status = int(metadata.cache_status)
            if not dynamic_workflow_uri and metadata.dynamic_workflow.HasField("compiled_workflow"):
                dynamic_workflow_uri = self._offload(
                    metadata.dynamic_workflow.compiled_workflow, execution, row.node_id, "dynamic_workflow.pb"
                )
        if dynamic_workflow_uri:
            row.dynamic_workflow_uri = dynamic_workflow_uri
        if event.workflow_node_metadata.HasField("execution_id"):
            child_id = event.workflow_node_metadata.execution_id
            row.child_execution = key_text(child_id.project, child_id.domain, child_id.name)

    def _link_child(
        self, execution: models.Execution, row: models.NodeExecution, child: models.Execution
    ) -> None:
        """Point the child execution at the node that launched it. A child that already ended before its
        parent heard of it wakes the parent, which would otherwise wait for its next poll."""
        if child.parent_node_execution_id is not None:
            return
        self.session.flush()
        child.parent_node_execution_id = row.id
        if child.phase in TERMINAL_WORKFLOW and wake(self.session, execution.id):
            self.woke = True

    # task events

    def task(self, event: event_pb2.TaskExecutionEvent) -> models.TaskExecution:
        """Record a task execution event."""
        if not event.HasField("task_id") or not event.task_id.name:
            raise InvalidArgument("event.task_id is required")
        if not event.HasField("parent_node_execution_id") or not event.parent_node_execution_id.node_id:
            raise InvalidArgument("event.parent_node_execution_id is required")
        node_ident = event.parent_node_execution_id
        ident = node_ident.execution_id
        key = key_text(ident.project, ident.domain, ident.name)
        execution = self._execution(ident.project, ident.domain, ident.name)
        if execution is None:
            raise NotFound(f"execution {key} does not exist")
        node = self._node(execution, node_ident.node_id)
        if node is None:
            raise NotFound(f"node execution '{node_ident.node_id}' of execution {key} does not exist")
        attempt = int(event.retry_attempt)
        phase, version = int(event.phase), int(event.phase_version)
        text = task_text(event.task_id, attempt, node.node_id, key)
        identity = _task_identity(event.task_id, attempt)
        row = self._task(execution, node, identity)
        occurred = to_datetime(event.occurred_at)
        if row is None:
            task_id = event.task_id
            row = models.TaskExecution(
                node=node,
                task_project=task_id.project,
                task_domain=task_id.domain,
                task_name=task_id.name,
                task_version=task_id.version,
                retry_attempt=attempt,
                created_at=occurred,
                logs=[],
                custom_info={},
                metadata_json={},
            )
            self.session.add(row)
            self._tasks[(_row_key(execution), node.node_id, *identity)] = row
        else:
            if row.phase == phase and row.phase_version >= version:
                raise AlreadyExists(
                    f"phase {task_phase_name(phase)} (version {version}) was already recorded for {text}"
                )
            if row.phase in TERMINAL_TASK:
                current = task_phase_name(row.phase)
                raise AlreadyInTerminalState(
                    f"invalid phase change from {current} to {task_phase_name(phase)} for {text}: "
                    "it already ended",
                    current,
                )
        self._apply_task(event, execution, node, row, phase, version, occurred)
        self.recorded.append((execution, event))
        return row

    def _apply_task(
        self,
        event: event_pb2.TaskExecutionEvent,
        execution: models.Execution,
        node: models.NodeExecution,
        row: models.TaskExecution,
        phase: int,
        version: int,
        occurred: datetime.datetime,
    ) -> None:
        row.phase = phase
        row.phase_version = version
        row.updated_at = to_datetime(event.reported_at) if event.HasField("reported_at") else occurred
        row.event_version = event.event_version
        row.task_type = event.task_type or row.task_type
        if event.reasons:
            row.reason = event.reasons[-1].reason
        elif event.reason:
            row.reason = event.reason
        if event.logs:
            logs = list(row.logs)
            for log in event.logs:
                entry = json_format.MessageToDict(log, preserving_proto_field_name=True)
                if entry not in logs:
                    logs.append(entry)
            row.logs = logs
        if event.HasField("custom_info"):
            row.custom_info = {**row.custom_info, **json_format.MessageToDict(event.custom_info)}
        if event.HasField("metadata"):
            row.metadata_json = _merge_metadata(row.metadata_json, event.metadata)
        if not row.input_uri:
            if event.input_uri:
                row.input_uri = event.input_uri
            elif event.HasField("input_data"):
                row.input_uri = self._offload(
                    event.input_data, execution, node.node_id, str(row.retry_attempt), "event_inputs.pb"
                )
        if phase == execution_pb2.TaskExecution.RUNNING and row.started_at is None:
            row.started_at = occurred
        if phase in TERMINAL_TASK:
            if row.started_at is not None:
                row.duration = seconds_between(row.started_at, occurred)
            result = event.WhichOneof("output_result")
            if result == "output_uri":
                row.output_uri = event.output_uri
            elif result == "output_data":
                row.output_uri = self._offload(
                    event.output_data, execution, node.node_id, str(row.retry_attempt), "event_outputs.pb"
                )
            elif result == "error":
                _error_columns(row, event.error)

    # data sent inline

    def _offload(self, message: Any, execution: models.Execution, *parts: str) -> str:
        """Write data an event carried inline next to the execution's data; returns its URI."""
        prefix = blobs.execution_data_prefix(
            self.storage_prefix, execution.project, execution.domain, execution.name
        )
        uri = self.storage.join(prefix, *parts)
        self.storage.write_proto(uri, message)
        return uri


def _merge_metadata(stored: dict[str, Any], metadata: event_pb2.TaskExecutionMetadata) -> dict[str, Any]:
    """Task execution metadata: new fields replace old ones; external resources (the indices of a map task)
    are merged by (index, retry attempt) and kept in that order, as flyteadmin keeps them."""
    incoming = json_format.MessageToDict(metadata, preserving_proto_field_name=True)
    resources: dict[tuple[int, int], dict[str, Any]] = {}
    for entry in [*stored.get("external_resources", []), *incoming.get("external_resources", [])]:
        resources[(int(entry.get("index", 0)), int(entry.get("retry_attempt", 0)))] = entry
    merged = {**stored, **incoming}
    if resources:
        merged["external_resources"] = [resources[k] for k in sorted(resources)]
    return merged


class Events(Service):
    """Events from engines: sent over the API by one, or recorded by this admin's own engine workers."""

    def _record(self, messages: Sequence[Any], record: Callable[[EventLedger], object]) -> None:
        """Record events in one transaction: their rows are looked up at once, then ``record`` applies them
        to the ledger; the notifications and CloudEvents they call for are enqueued, and held executions their
        ends free are started, in the same transaction."""
        with self.ctx.db.begin() as session:
            ledger = EventLedger(session, self.ctx.storage, self.ctx.settings.storage_prefix)
            ledger.look_up(messages)
            record(ledger)
            notifications.enqueue(self.ctx, session, ledger.ended)
            publishing.enqueue(self.ctx, session, ledger.recorded)
            if concurrency.release(session, ledger.ended):
                ledger.woke = True
            touched = ledger.executions()
        if ledger.woke:
            self.ctx.wakeups.announce()
        self.ctx.recorded.announce(touched)

    def _record_api_event(self, request: Any, record: Callable[[EventLedger, Any], object]) -> None:
        """Check an event sent over the API (``request.event``), then record it with ``record`` in one
        transaction."""
        if not request.HasField("event"):
            raise InvalidArgument("event is required", field="event")
        check_api_event(request.event, self.ctx.settings.storage_prefix)
        self._record([request.event], lambda ledger: record(ledger, request.event))

    def create_workflow_event(
        self, request: admin_event_pb2.WorkflowExecutionEventRequest
    ) -> admin_event_pb2.WorkflowExecutionEventResponse:
        """Record a workflow execution's phase change (flyteadmin's rules)."""
        self._record_api_event(request, EventLedger.workflow)
        return admin_event_pb2.WorkflowExecutionEventResponse()

    def create_node_event(
        self, request: admin_event_pb2.NodeExecutionEventRequest
    ) -> admin_event_pb2.NodeExecutionEventResponse:
        """Record a node execution's phase change; its first event creates it."""
        self._record_api_event(request, EventLedger.node)
        return admin_event_pb2.NodeExecutionEventResponse()

    def create_task_event(
        self, request: admin_event_pb2.TaskExecutionEventRequest
    ) -> admin_event_pb2.TaskExecutionEventResponse:
        """Record a task execution's phase change; its first event creates it."""
        self._record_api_event(request, EventLedger.task)
        return admin_event_pb2.TaskExecutionEventResponse()

    def record_engine_events(
        self, events: Sequence[Event], dynamic_workflow_uri: Callable[[event_pb2.NodeExecutionEvent], str]
    ) -> None:
        """Record a batch of this admin's engine's events in one transaction, by the same rules; a dynamic node's
        compiled workflow is found with ``dynamic_workflow_uri``.

        An event the rules refuse is dropped: a repeat (already exists) is what an engine sends after a crash or
        a retried delivery, and an event after a terminal phase is one the admin already overruled (the
        execution was aborted meanwhile). Database errors and an unavailable blob store propagate, so the engine
        keeps the batch and delivers it again later."""
        messages = [event.message for event in events]

        def record(ledger: EventLedger) -> None:
            for event, message in zip(events, messages, strict=True):
                _record_engine_event(ledger, event.id, message, dynamic_workflow_uri)

        self._record(messages, record)


def _record_engine_event(
    ledger: EventLedger,
    event_id: str,
    message: Any,
    dynamic_workflow_uri: Callable[[event_pb2.NodeExecutionEvent], str],
) -> None:
    try:
        if isinstance(message, event_pb2.WorkflowExecutionEvent):
            ledger.workflow(message)
        elif isinstance(message, event_pb2.NodeExecutionEvent):
            ledger.node(message, dynamic_workflow_uri=dynamic_workflow_uri(message))
        else:
            ledger.task(message)
    except (AlreadyExists, FailedPrecondition) as exc:
        log.debug("event %s dropped: %s", event_id, exc.message)
    except (NotFound, InvalidArgument) as exc:
        log.warning("event %s dropped: %s", event_id, exc.message)
    except Unavailable:
        raise
    except AdminError as exc:
        log.error("event %s could not be recorded: %s", event_id, exc.message)
