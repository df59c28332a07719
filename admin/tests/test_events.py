"""CreateWorkflowEvent, CreateNodeEvent and CreateTaskEvent: flyteadmin's rules, with exact statuses and messages,
and what the events change in the executions clients read. The engine workers' event sink applies the same
rules (one EventLedger); here an outside producer sends events over the socket."""

from __future__ import annotations

import grpc
import pytest
from execution_support import DOMAIN, PROJECT, fails, launch, literal_map, register_flows
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2
from google.protobuf import timestamp_pb2
from test_executions_lifecycle import terminal_state_details

from roost_admin.workers.sink import AdminEventSink
from roost_core.events import Event

Phase = core_execution_pb2.WorkflowExecution
NodePhase = core_execution_pb2.NodeExecution
TaskPhase = core_execution_pb2.TaskExecution
TASK = identifier_pb2.Identifier(
    resource_type=identifier_pb2.TASK,
    project=PROJECT,
    domain=DOMAIN,
    name="execution_flows.add_one",
    version="v1",
)


def at(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=1_800_000_000 + seconds)


def workflow_event(
    ident, phase: int, seconds: int = 0, **fields
) -> admin_event_pb2.WorkflowExecutionEventRequest:
    return admin_event_pb2.WorkflowExecutionEventRequest(
        request_id="r",
        event=event_pb2.WorkflowExecutionEvent(
            execution_id=ident, phase=phase, occurred_at=at(seconds), **fields
        ),
    )


def node_event(
    ident, node_id: str, phase: int, seconds: int = 0, **fields
) -> admin_event_pb2.NodeExecutionEventRequest:
    return admin_event_pb2.NodeExecutionEventRequest(
        event=event_pb2.NodeExecutionEvent(
            id=identifier_pb2.NodeExecutionIdentifier(node_id=node_id, execution_id=ident),
            phase=phase,
            occurred_at=at(seconds),
            spec_node_id=node_id,
            **fields,
        )
    )


def task_event(
    ident, phase: int, version: int = 0, attempt: int = 0, **fields
) -> admin_event_pb2.TaskExecutionEventRequest:
    return admin_event_pb2.TaskExecutionEventRequest(
        event=event_pb2.TaskExecutionEvent(
            task_id=TASK,
            parent_node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=ident),
            retry_attempt=attempt,
            phase=phase,
            phase_version=version,
            occurred_at=at(5 + version),
            **fields,
        )
    )


@pytest.fixture
def ident(app, admin):
    """A queued execution no worker runs (the test sends its events)."""
    register_flows(admin)
    return launch(admin, "one", name="evented", x=1)


def execution(admin, ident) -> execution_pb2.Execution:
    return admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident))


KEY = f"{PROJECT}/{DOMAIN}/evented"


def test_workflow_events_move_the_execution_and_follow_flyteadmins_rules(app, admin, ident):
    outputs = f"{app.settings.storage_prefix}/somewhere/outputs.pb"
    admin.CreateWorkflowEvent(workflow_event(ident, Phase.QUEUED))
    admin.CreateWorkflowEvent(workflow_event(ident, Phase.QUEUED))  # QUEUED may repeat
    admin.CreateWorkflowEvent(workflow_event(ident, Phase.RUNNING, 1))
    error = fails(admin.CreateWorkflowEvent, workflow_event(ident, Phase.RUNNING, 2))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.ALREADY_EXISTS,
        f"phase RUNNING was already recorded for workflow execution {KEY}",
    )
    error = fails(admin.CreateWorkflowEvent, workflow_event(ident, Phase.QUEUED, 2))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        f"cannot go from RUNNING to QUEUED for workflow execution {KEY}",
    )
    admin.CreateWorkflowEvent(workflow_event(ident, Phase.SUCCEEDED, 11, output_uri=outputs))
    closure = execution(admin, ident).closure
    assert closure.phase == Phase.SUCCEEDED
    assert closure.started_at == at(1)
    assert closure.updated_at == at(11)
    assert closure.duration.seconds == 10
    assert closure.outputs.uri == outputs
    error = fails(admin.CreateWorkflowEvent, workflow_event(ident, Phase.SUCCEEDED, 12))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    error = fails(admin.CreateWorkflowEvent, workflow_event(ident, Phase.FAILED, 12))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        f"invalid phase change from SUCCEEDED to FAILED for workflow execution {KEY}: it already ended",
    )
    assert terminal_state_details(error).already_in_terminal_state.current_phase == "SUCCEEDED"


def test_an_aborting_execution_takes_only_a_terminal_event(admin, ident):
    admin.CreateWorkflowEvent(workflow_event(ident, Phase.RUNNING, 1))
    admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=ident, cause="stop"))
    error = fails(admin.CreateWorkflowEvent, workflow_event(ident, Phase.SUCCEEDING, 2))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        f"invalid phase change from ABORTING to SUCCEEDING for workflow execution {KEY}: it is being aborted",
    )
    admin.CreateWorkflowEvent(workflow_event(ident, Phase.ABORTED, 3))
    closure = execution(admin, ident).closure
    assert closure.phase == Phase.ABORTED and closure.abort_metadata.cause == "stop"


def test_a_failed_event_carries_its_error_into_the_closure(admin, ident):
    admin.CreateWorkflowEvent(workflow_event(ident, Phase.RUNNING, 1))
    error = core_execution_pb2.ExecutionError(
        code="Boom", message="it broke", kind=core_execution_pb2.ExecutionError.SYSTEM
    )
    admin.CreateWorkflowEvent(workflow_event(ident, Phase.FAILED, 2, error=error))
    assert execution(admin, ident).closure.error == error


def test_node_events_create_the_node_and_follow_flyteadmins_rules(admin, ident):
    admin.CreateNodeEvent(node_event(ident, "n0", NodePhase.QUEUED, 1, input_data=literal_map(x=1)))
    admin.CreateNodeEvent(node_event(ident, "n0", NodePhase.RUNNING, 2, is_parent=True))
    error = fails(admin.CreateNodeEvent, node_event(ident, "n0", NodePhase.RUNNING, 3))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.ALREADY_EXISTS,
        f"phase RUNNING was already recorded for node execution 'n0' of execution {KEY}",
    )
    admin.CreateNodeEvent(
        node_event(ident, "n0-0-n1", NodePhase.SUCCEEDED, 4, parent_node_metadata={"node_id": "n0"})
    )
    admin.CreateNodeEvent(node_event(ident, "n0", NodePhase.SUCCEEDED, 5, output_data=literal_map(o0=2)))
    error = fails(admin.CreateNodeEvent, node_event(ident, "n0", NodePhase.FAILED, 6))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        f"invalid phase change from SUCCEEDED to FAILED for node execution 'n0' of execution {KEY}: it already ended",
    )
    assert terminal_state_details(error).already_in_terminal_state.current_phase == "SUCCEEDED"
    node = admin.GetNodeExecution(
        node_execution_pb2.NodeExecutionGetRequest(
            id=identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=ident)
        )
    )
    assert node.closure.phase == NodePhase.SUCCEEDED
    assert node.closure.created_at == at(1) and node.closure.started_at == at(2)
    assert node.closure.duration.seconds == 3
    assert node.metadata.is_parent_node
    data = admin.GetNodeExecutionData(node_execution_pb2.NodeExecutionGetDataRequest(id=node.id))
    assert data.full_inputs == literal_map(x=1) and data.full_outputs == literal_map(o0=2)
    children = admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=ident, limit=10, unique_parent_id="n0"
        )
    ).node_executions
    assert [c.id.node_id for c in children] == ["n0-0-n1"]
    top = admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=ident, limit=10)
    )
    assert [n.id.node_id for n in top.node_executions] == ["n0"]


def test_node_events_need_their_execution_parent_and_child(admin, ident):
    error = fails(
        admin.CreateNodeEvent,
        node_event(ident, "n0-0-n1", NodePhase.RUNNING, parent_node_metadata={"node_id": "n0"}),
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        f"parent node execution 'n0' of node 'n0-0-n1' of execution {KEY} does not exist",
    )
    child = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="nobody")
    error = fails(
        admin.CreateNodeEvent,
        node_event(ident, "n0", NodePhase.RUNNING, workflow_node_metadata={"execution_id": child}),
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        f"child execution {PROJECT}/{DOMAIN}/nobody of node 'n0' of execution {KEY} does not exist",
    )
    elsewhere = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="elsewhere")
    error = fails(admin.CreateNodeEvent, node_event(elsewhere, "n0", NodePhase.RUNNING))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        f"execution {PROJECT}/{DOMAIN}/elsewhere does not exist",
    )
    error = fails(admin.CreateNodeEvent, admin_event_pb2.NodeExecutionEventRequest())
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "event is required")
    # None of the refused events created anything.
    top = admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=ident, limit=10)
    )
    assert list(top.node_executions) == []


def test_task_events_are_deduplicated_on_phase_version(admin, ident):
    text = f"task execution 'execution_flows.add_one' attempt 0 of node 'n0' of execution {KEY}"
    error = fails(admin.CreateTaskEvent, task_event(ident, TaskPhase.RUNNING))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        f"node execution 'n0' of execution {KEY} does not exist",
    )
    admin.CreateNodeEvent(node_event(ident, "n0", NodePhase.RUNNING, 1))
    admin.CreateTaskEvent(
        task_event(ident, TaskPhase.RUNNING, 0, logs=[{"name": "stdout", "uri": "file:///o"}])
    )
    error = fails(admin.CreateTaskEvent, task_event(ident, TaskPhase.RUNNING, 0))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.ALREADY_EXISTS,
        f"phase RUNNING (version 0) was already recorded for {text}",
    )
    admin.CreateTaskEvent(task_event(ident, TaskPhase.RUNNING, 2, reason="still going"))
    error = fails(admin.CreateTaskEvent, task_event(ident, TaskPhase.RUNNING, 1))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.ALREADY_EXISTS,
        f"phase RUNNING (version 1) was already recorded for {text}",
    )
    admin.CreateTaskEvent(
        task_event(
            ident,
            TaskPhase.SUCCEEDED,
            3,
            logs=[{"name": "stderr", "uri": "file:///e"}],
            output_data=literal_map(o0=2),
        )
    )
    error = fails(admin.CreateTaskEvent, task_event(ident, TaskPhase.RUNNING, 9))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        f"invalid phase change from SUCCEEDED to RUNNING for {text}: it already ended",
    )
    assert terminal_state_details(error).already_in_terminal_state.current_phase == "SUCCEEDED"
    node_id = identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=ident)
    (attempt,) = admin.ListTaskExecutions(
        task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id, limit=10)
    ).task_executions
    assert attempt.closure.phase == TaskPhase.SUCCEEDED
    assert [log.name for log in attempt.closure.logs] == ["stdout", "stderr"]
    assert attempt.closure.reason == "still going"
    assert attempt.closure.started_at == at(5) and attempt.closure.duration.seconds == 3
    data = admin.GetTaskExecutionData(task_execution_pb2.TaskExecutionGetDataRequest(id=attempt.id))
    assert data.full_outputs == literal_map(o0=2)
    admin.CreateTaskEvent(task_event(ident, TaskPhase.RUNNING, 0, attempt=1))
    attempts = admin.ListTaskExecutions(
        task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id, limit=10)
    )
    assert [a.id.retry_attempt for a in attempts.task_executions] == [0, 1]


def test_map_task_events_merge_their_indices(admin, ident):
    admin.CreateNodeEvent(node_event(ident, "n0", NodePhase.RUNNING, 1, is_array=True))

    def indices(*phases: int) -> event_pb2.TaskExecutionMetadata:
        return event_pb2.TaskExecutionMetadata(
            external_resources=[
                event_pb2.ExternalResourceInfo(external_id=str(i), index=i, phase=p)
                for i, p in enumerate(phases)
            ]
        )

    admin.CreateTaskEvent(
        task_event(ident, TaskPhase.RUNNING, 0, metadata=indices(TaskPhase.RUNNING, TaskPhase.QUEUED))
    )
    admin.CreateTaskEvent(task_event(ident, TaskPhase.RUNNING, 1, metadata=indices(TaskPhase.SUCCEEDED)))
    node_id = identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=ident)
    (attempt,) = admin.ListTaskExecutions(
        task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id, limit=10)
    ).task_executions
    merged = attempt.closure.metadata.external_resources
    assert [(r.index, r.phase) for r in merged] == [(0, TaskPhase.SUCCEEDED), (1, TaskPhase.QUEUED)]
    node = admin.GetNodeExecution(node_execution_pb2.NodeExecutionGetRequest(id=node_id))
    assert node.metadata.is_array


def test_the_engine_sink_records_through_the_same_rules_and_drops_what_they_refuse(app, admin, ident):
    pokes: list[int] = []
    app.services.context.wakeups.listen(lambda: pokes.append(1))
    sink = AdminEventSink(app.services.events)
    running = Event("e1", "workflow", workflow_event(ident, Phase.RUNNING, 1).event)
    node = Event("e2", "node", node_event(ident, "n0", NodePhase.RUNNING, 1).event)
    sink.send([running, node])
    # Delivered again (after a crash) and an event that arrives after the end: dropped, not raised.
    sink.send([running, node, Event("e3", "workflow", workflow_event(ident, Phase.SUCCEEDED, 4).event)])
    sink.send([Event("e4", "workflow", workflow_event(ident, Phase.FAILED, 5).event)])
    closure = execution(admin, ident).closure
    assert closure.phase == Phase.SUCCEEDED and closure.duration.seconds == 3
    assert pokes == []


def engine_batch(app, *messages) -> None:
    """Record ``messages`` as one batch of the engine workers' sink (one transaction)."""
    kinds = {
        event_pb2.WorkflowExecutionEvent: "workflow",
        event_pb2.NodeExecutionEvent: "node",
        event_pb2.TaskExecutionEvent: "task",
    }
    sink = AdminEventSink(app.services.events)
    sink.send([Event(f"e{i}", kinds[type(m)], m) for i, m in enumerate(messages)])


def attempt_event(
    ident, node_id: str, phase: int, version: int = 0, **fields
) -> event_pb2.TaskExecutionEvent:
    """A task event of attempt 0 (unless ``retry_attempt`` says otherwise) of ``node_id``."""
    event = task_event(ident, phase, version, **fields).event
    event.parent_node_execution_id.node_id = node_id
    return event


def node_of(admin, ident, node_id: str) -> node_execution_pb2.NodeExecution:
    return admin.GetNodeExecution(
        node_execution_pb2.NodeExecutionGetRequest(
            id=identifier_pb2.NodeExecutionIdentifier(node_id=node_id, execution_id=ident)
        )
    )


def attempts_of(admin, ident, node_id: str) -> list[task_execution_pb2.TaskExecution]:
    node_id_ = identifier_pb2.NodeExecutionIdentifier(node_id=node_id, execution_id=ident)
    return list(
        admin.ListTaskExecutions(
            task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_id_, limit=10)
        ).task_executions
    )


def test_an_engine_batch_creates_a_node_and_its_attempt_then_moves_both(app, admin, ident):
    engine_batch(
        app,
        node_event(ident, "n0", NodePhase.QUEUED, 1).event,
        node_event(ident, "n0", NodePhase.RUNNING, 2, is_parent=True).event,
        attempt_event(ident, "n0", TaskPhase.RUNNING, 0),
        attempt_event(ident, "n0", TaskPhase.SUCCEEDED, 1, output_data=literal_map(o0=2)),
        node_event(ident, "n0-0-n1", NodePhase.QUEUED, 3, parent_node_metadata={"node_id": "n0"}).event,
        node_event(ident, "n0-0-n1", NodePhase.SUCCEEDED, 4, parent_node_metadata={"node_id": "n0"}).event,
        node_event(ident, "n0", NodePhase.SUCCEEDED, 7).event,
    )
    node = node_of(admin, ident, "n0")
    assert node.closure.phase == NodePhase.SUCCEEDED and node.metadata.is_parent_node
    assert node.closure.created_at == at(1) and node.closure.started_at == at(2)
    assert node.closure.duration.seconds == 5
    (attempt,) = attempts_of(admin, ident, "n0")
    assert attempt.closure.phase == TaskPhase.SUCCEEDED
    assert attempt.closure.started_at == at(5) and attempt.closure.duration.seconds == 1
    data = admin.GetTaskExecutionData(task_execution_pb2.TaskExecutionGetDataRequest(id=attempt.id))
    assert data.full_outputs == literal_map(o0=2)
    children = admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=ident, limit=10, unique_parent_id="n0"
        )
    ).node_executions
    assert [(c.id.node_id, c.closure.phase) for c in children] == [("n0-0-n1", NodePhase.SUCCEEDED)]
    # The next batch finds the rows the first one made: its repeats are dropped, a new attempt is added.
    engine_batch(
        app,
        node_event(ident, "n0", NodePhase.RUNNING, 8).event,
        attempt_event(ident, "n0", TaskPhase.SUCCEEDED, 1),
        attempt_event(ident, "n0", TaskPhase.RUNNING, 0, attempt=1),
    )
    assert node_of(admin, ident, "n0").closure.phase == NodePhase.SUCCEEDED
    first, second = attempts_of(admin, ident, "n0")
    assert first.closure.phase == TaskPhase.SUCCEEDED and first.closure.duration.seconds == 1
    assert (second.id.retry_attempt, second.closure.phase) == (1, TaskPhase.RUNNING)


def test_an_engine_batch_of_two_executions_keeps_their_rows_apart(app, admin, ident):
    other = launch(admin, "one", name="other", x=1)
    engine_batch(
        app,
        workflow_event(ident, Phase.RUNNING, 1).event,
        workflow_event(other, Phase.RUNNING, 2).event,
        node_event(ident, "n0", NodePhase.RUNNING, 1).event,
        node_event(other, "n0", NodePhase.QUEUED, 2).event,
        attempt_event(ident, "n0", TaskPhase.RUNNING, 0),
        node_event(other, "n0", NodePhase.RUNNING, 3).event,
        attempt_event(other, "n0", TaskPhase.RUNNING, 0),
        attempt_event(other, "n0", TaskPhase.SUCCEEDED, 1),
        node_event(ident, "n0", NodePhase.SUCCEEDED, 4).event,
    )
    assert execution(admin, ident).closure.started_at == at(1)
    assert execution(admin, other).closure.started_at == at(2)
    assert node_of(admin, ident, "n0").closure.phase == NodePhase.SUCCEEDED
    assert node_of(admin, other, "n0").closure.phase == NodePhase.RUNNING
    assert [a.closure.phase for a in attempts_of(admin, ident, "n0")] == [TaskPhase.RUNNING]
    assert [a.closure.phase for a in attempts_of(admin, other, "n0")] == [TaskPhase.SUCCEEDED]
    # A batch over rows both executions have already: each event finds its own execution's.
    engine_batch(
        app,
        node_event(other, "n0", NodePhase.SUCCEEDED, 5).event,
        attempt_event(ident, "n0", TaskPhase.SUCCEEDED, 1),
        node_event(ident, "n0", NodePhase.FAILED, 6).event,  # it already ended: dropped
    )
    assert node_of(admin, ident, "n0").closure.phase == NodePhase.SUCCEEDED
    assert node_of(admin, other, "n0").closure.phase == NodePhase.SUCCEEDED
    assert [a.closure.phase for a in attempts_of(admin, ident, "n0")] == [TaskPhase.SUCCEEDED]
    assert [a.closure.phase for a in attempts_of(admin, other, "n0")] == [TaskPhase.SUCCEEDED]


def test_a_refused_event_in_an_engine_batch_changes_nothing_and_the_others_are_recorded(app, admin, ident):
    admin.CreateNodeEvent(node_event(ident, "n0", NodePhase.RUNNING, 1))
    admin.CreateTaskEvent(task_event(ident, TaskPhase.SUCCEEDED, 1, reason="done"))
    engine_batch(
        app,
        attempt_event(ident, "n1", TaskPhase.RUNNING, 0),  # its node does not exist yet: dropped
        node_event(ident, "n1", NodePhase.QUEUED, 2).event,
        attempt_event(ident, "n0", TaskPhase.RUNNING, 9, reason="late"),  # n0's attempt already ended
        node_event(ident, "n2", NodePhase.RUNNING, 2, parent_node_metadata={"node_id": "nope"}).event,
        node_event(ident, "n1", NodePhase.RUNNING, 3).event,
        node_event(ident, "n1", NodePhase.RUNNING, 4, is_parent=True).event,  # a repeat
        attempt_event(ident, "n1", TaskPhase.RUNNING, 0),
        node_event(ident, "n0", NodePhase.SUCCEEDED, 5).event,
    )
    (attempt,) = attempts_of(admin, ident, "n0")
    assert (attempt.closure.phase, attempt.closure.reason) == (TaskPhase.SUCCEEDED, "done")
    assert node_of(admin, ident, "n0").closure.phase == NodePhase.SUCCEEDED
    n1 = node_of(admin, ident, "n1")
    assert n1.closure.phase == NodePhase.RUNNING and n1.closure.started_at == at(3)
    assert not n1.metadata.is_parent_node
    assert [a.closure.phase for a in attempts_of(admin, ident, "n1")] == [TaskPhase.RUNNING]
    top = admin.ListNodeExecutions(
        node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=ident, limit=10)
    )
    assert sorted(n.id.node_id for n in top.node_executions) == ["n0", "n1"]
