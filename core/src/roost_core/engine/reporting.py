"""Builds the flyteidl events of an execution, each with its deterministic id."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from flyteidl.core import catalog_pb2, execution_pb2, identifier_pb2, tasks_pb2, workflow_pb2
from flyteidl.event import event_pb2
from google.protobuf import struct_pb2, timestamp_pb2

from roost_core.engine.phases import NodePhase, WorkflowPhase
from roost_core.engine.state import NodeState
from roost_core.errors import ErrorKind, ExecutionError
from roost_core.events.event import Event, EventSummary
from roost_core.handler import TaskPhase

_TASK_EVENT_PHASE = {
    TaskPhase.NOT_READY: execution_pb2.TaskExecution.UNDEFINED,
    TaskPhase.WAITING_FOR_RESOURCES: execution_pb2.TaskExecution.WAITING_FOR_RESOURCES,
    TaskPhase.QUEUED: execution_pb2.TaskExecution.QUEUED,
    TaskPhase.INITIALIZING: execution_pb2.TaskExecution.INITIALIZING,
    TaskPhase.RUNNING: execution_pb2.TaskExecution.RUNNING,
    TaskPhase.SUCCESS: execution_pb2.TaskExecution.SUCCEEDED,
    TaskPhase.RETRYABLE_FAILURE: execution_pb2.TaskExecution.RETRYABLE_FAILED,
    TaskPhase.PERMANENT_FAILURE: execution_pb2.TaskExecution.FAILED,
}
TASK_ABORTED = -1
"""Pseudo task phase for an attempt the engine aborted (flyteidl's ABORTED has no handler phase)."""


def error_proto(error: ExecutionError) -> execution_pb2.ExecutionError:
    """The flyteidl form of an error."""
    kind = (
        execution_pb2.ExecutionError.USER
        if error.kind is ErrorKind.USER
        else execution_pb2.ExecutionError.SYSTEM
    )
    return execution_pb2.ExecutionError(
        code=error.code, message=error.message, kind=kind, error_uri=error.error_uri
    )


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    """A protobuf timestamp for epoch seconds."""
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


@dataclass(frozen=True, slots=True)
class IndexRange:
    """Consecutive indices of an array node that reached ``phase`` in attempt ``attempt``, with no logs or cache
    status: one entry of :attr:`TaskReport.external` standing for one ``ExternalResourceInfo`` per index, made
    only when the event's message is built (a local map's inline indices end by the thousand, and its progress
    display never builds the message)."""

    first: int
    count: int
    attempt: int = 0
    phase: int = int(TaskPhase.SUCCESS)


@dataclass(slots=True)
class TaskReport:
    """One observed change of a task attempt, to be turned into a TaskExecutionEvent."""

    attempt: int
    phase: int
    version: int
    occurred_at: float
    reason: str = ""
    logs: tuple[tuple[str, str], ...] = ()
    error: ExecutionError | None = None
    output_uri: str = ""
    custom_info: Mapping[str, Any] | None = None
    external: list[event_pb2.ExternalResourceInfo | IndexRange] = field(default_factory=list)
    """An array node's changed indices (flyteidl's external resources)."""


class EventFactory:
    """Makes the events of one execution."""

    def __init__(self, project: str, domain: str, name: str, producer_id: str) -> None:
        self.execution_id = identifier_pb2.WorkflowExecutionIdentifier(
            project=project, domain=domain, name=name
        )
        self.producer_id = producer_id
        self._key = f"{project}/{domain}/{name}"

    def workflow(
        self,
        phase: WorkflowPhase,
        occurred_at: float,
        *,
        error: ExecutionError | None = None,
        output_uri: str = "",
    ) -> Event:
        """A workflow phase change."""
        message = event_pb2.WorkflowExecutionEvent(
            execution_id=self.execution_id,
            producer_id=self.producer_id,
            phase=int(phase),
            occurred_at=timestamp(occurred_at),
        )
        if error is not None:
            message.error.CopyFrom(error_proto(error))
        elif output_uri:
            message.output_uri = output_uri
        return Event(f"{self._key}/wf/{phase.name}", "workflow", message)

    def node(
        self,
        uid: str,
        node: workflow_pb2.Node,
        state: NodeState,
        phase: NodePhase,
        occurred_at: float,
        *,
        parent_uid: str = "",
        retry_group: str = "",
        target: identifier_pb2.Identifier | None = None,
    ) -> Event | None:
        """A node phase change; None for phases flyteidl does not report."""
        event_phase = phase.event_phase
        if event_phase is None:
            return None
        name = node.metadata.name or node.id
        # The state keeps changing after this call: capture what the event says now.
        inputs_uri = state.inputs_uri
        dynamic = bool(state.dynamic_closure_uri)
        cache_status = state.cache_status
        child = state.child_execution
        failed = phase in (NodePhase.FAILED, NodePhase.FAILING, NodePhase.TIMED_OUT)
        error = state.error if failed else None
        output_uri = state.outputs_uri if phase.is_success else ""

        def build() -> event_pb2.NodeExecutionEvent:
            kind = node.WhichOneof("target")
            message = event_pb2.NodeExecutionEvent(
                id=identifier_pb2.NodeExecutionIdentifier(node_id=uid, execution_id=self.execution_id),
                producer_id=self.producer_id,
                phase=event_phase,
                occurred_at=timestamp(occurred_at),
                input_uri=inputs_uri,
                spec_node_id=node.id,
                node_name=name,
                retry_group=retry_group,
                event_version=1,
                is_parent=kind == "branch_node"
                or (kind == "workflow_node" and node.workflow_node.HasField("sub_workflow_ref"))
                or dynamic,
                is_dynamic=dynamic,
                is_array=kind == "array_node",
            )
            if parent_uid:
                message.parent_node_metadata.node_id = parent_uid
            if target is not None:
                message.target_entity.CopyFrom(target)
            if kind == "task_node" and cache_status:
                message.task_node_metadata.cache_status = cache_status
            if child:
                project, domain, child_name = child.split("/", 2)
                message.workflow_node_metadata.execution_id.CopyFrom(
                    identifier_pb2.WorkflowExecutionIdentifier(
                        project=project, domain=domain, name=child_name
                    )
                )
            if error is not None:
                message.error.CopyFrom(error_proto(error))
            elif output_uri:
                message.output_uri = output_uri
            return message

        summary = EventSummary(
            uid,
            phase.name if phase is not NodePhase.DYNAMIC_RUNNING else "DYNAMIC_RUNNING",
            occurred_at,
            name,
        )
        return Event(f"{self._key}/{uid}/{phase.name}", "node", build=build, summary=summary)

    def task(
        self, uid: str, task: tasks_pb2.TaskTemplate, report: TaskReport, *, inputs_uri: str = ""
    ) -> Event:
        """A task attempt phase change (or a new version within a phase)."""
        if report.phase == TASK_ABORTED:
            event_phase = execution_pb2.TaskExecution.ABORTED
            phase_name = "ABORTED"
        else:
            event_phase = _TASK_EVENT_PHASE[TaskPhase(report.phase)]
            phase_name = TaskPhase(report.phase).name

        def build() -> event_pb2.TaskExecutionEvent:
            message = event_pb2.TaskExecutionEvent(
                task_id=task.id,
                parent_node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                    node_id=uid, execution_id=self.execution_id
                ),
                retry_attempt=report.attempt,
                phase=event_phase,
                producer_id=self.producer_id,
                occurred_at=timestamp(report.occurred_at),
                input_uri=inputs_uri,
                phase_version=report.version,
                reason=report.reason,
                task_type=task.type,
                event_version=1,
                logs=[execution_pb2.TaskLog(name=name, uri=uri) for name, uri in report.logs],
            )
            if report.error is not None:
                message.error.CopyFrom(error_proto(report.error))
            elif report.output_uri:
                message.output_uri = report.output_uri
            if report.custom_info:
                struct = struct_pb2.Struct()
                struct.update(dict(report.custom_info))
                message.custom_info.CopyFrom(struct)
            if report.external:
                message.metadata.external_resources.extend(external_resources(report.external))
            return message

        event_id = f"{self._key}/{uid}/{report.attempt}/{phase_name}/{report.version}"
        summary = EventSummary(
            uid,
            execution_pb2.TaskExecution.Phase.Name(event_phase),
            report.occurred_at,
            attempt=report.attempt,
        )
        return Event(event_id, "task", build=build, summary=summary)


def external_resource(
    index: int,
    attempt: int,
    phase: int,
    *,
    logs: Iterable[tuple[str, str]] = (),
    cache_status: int = catalog_pb2.CACHE_DISABLED,
) -> event_pb2.ExternalResourceInfo:
    """The per-index entry of an array node's task event."""
    event_phase = (
        execution_pb2.TaskExecution.ABORTED if phase == TASK_ABORTED else _TASK_EVENT_PHASE[TaskPhase(phase)]
    )
    info = event_pb2.ExternalResourceInfo(
        external_id=str(index),
        index=index,
        retry_attempt=attempt,
        phase=event_phase,
        cache_status=cache_status,
    )
    if logs:  # most entries have none (every index of a local map)
        info.logs.extend(execution_pb2.TaskLog(name=name, uri=uri) for name, uri in logs)
    return info


def external_resources(
    entries: Iterable[event_pb2.ExternalResourceInfo | IndexRange],
) -> Iterator[event_pb2.ExternalResourceInfo]:
    """The per-index entries of an array node's task event, each :class:`IndexRange` spelled out (the wire
    form: one ``ExternalResourceInfo`` per index, as flytepropeller sends)."""
    for entry in entries:
        if isinstance(entry, IndexRange):
            for index in range(entry.first, entry.first + entry.count):
                yield external_resource(index, entry.attempt, entry.phase)
        else:
            yield entry
