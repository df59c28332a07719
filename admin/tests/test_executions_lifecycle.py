"""Executions after they start: failures, retries resuming from checkpoints, termination (the running task process is killed), relaunch and
archiving."""

from __future__ import annotations

import os

import grpc
from execution_support import (
    DOMAIN,
    PROJECT,
    fails,
    launch,
    list_request,
    outputs,
    register_flows,
    running_admin,
    wait,
    wait_until,
)
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from google.rpc import status_pb2

from roost_admin.server.errors import STATUS_DETAILS_KEY

Phase = core_execution_pb2.WorkflowExecution


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def terminal_state_details(error: grpc.RpcError) -> admin_event_pb2.EventFailureReason:
    """The EventFailureReason flyteadmin attaches to FAILED_PRECONDITION for entities that already ended."""
    details = dict(error.trailing_metadata())[STATUS_DETAILS_KEY]
    status = status_pb2.Status.FromString(details)
    assert status.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    reason = admin_event_pb2.EventFailureReason()
    assert status.details[0].Unpack(reason)
    return reason


def test_a_failing_task_fails_the_execution_with_its_error(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, _signals):
        execution = wait(admin, launch(admin, "failing", x=7))
        assert execution.closure.phase == Phase.FAILED
        error = execution.closure.error
        assert error.kind == core_execution_pb2.ExecutionError.USER
        assert "cannot take 7" in error.message
        listed = admin.ListExecutions(list_request(filters="eq(phase,FAILED)")).executions
        assert [e.id.name for e in listed] == [execution.id.name]
        assert len(listed[0].closure.error.message) <= 100


def test_a_retried_task_resumes_from_every_earlier_attempts_checkpoint(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, _signals):
        execution = wait(admin, launch(admin, "checkpointed", x=1))
        assert execution.closure.phase == Phase.SUCCEEDED, execution.closure.error
        # Attempt 0 wrote "0|", attempt 1 read it and wrote "0|1|", attempt 2 read that.
        assert outputs(admin, execution.id) == {"o0": "0|1| 1"}


def test_terminating_a_running_execution_kills_its_task_and_ends_it_aborted(tmp_path, database_url):
    pid_file = tmp_path / "pid"
    with running_admin(tmp_path, database_url) as (_, admin, _signals):
        ident = launch(admin, "slow", path=str(pid_file), seconds=120.0, x=1)
        pid = int(wait_until(lambda: pid_file.exists() and pid_file.read_text(), what="the task start"))
        assert _alive(pid)
        admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=ident, cause="changed my mind"))
        execution = wait(admin, ident)
        assert execution.closure.phase == Phase.ABORTED
        assert execution.closure.abort_metadata.cause == "changed my mind"
        wait_until(lambda: not _alive(pid), what="the task process's end")
        error = fails(
            admin.TerminateExecution, execution_pb2.ExecutionTerminateRequest(id=ident, cause="again")
        )
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error.details() == (
            f"execution {PROJECT}/{DOMAIN}/{ident.name} already ended (ABORTED); only running executions can be "
            "terminated"
        )
        assert terminal_state_details(error).already_in_terminal_state.current_phase == "ABORTED"


def test_terminating_a_finished_execution_is_failed_precondition(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, _signals):
        ident = launch(admin, "one", x=1)
        assert wait(admin, ident).closure.phase == Phase.SUCCEEDED
        error = fails(admin.TerminateExecution, execution_pb2.ExecutionTerminateRequest(id=ident))
        assert (error.code(), error.details()) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            f"execution {PROJECT}/{DOMAIN}/{ident.name} already ended (SUCCEEDED); only running executions can be "
            "terminated",
        )


def test_a_queued_execution_terminated_before_any_worker_saw_it_ends_aborted(tmp_path, database_url):
    with running_admin(tmp_path, database_url, workers=0) as (_app, admin, _signals):
        ident = launch(admin, "one", x=1)
        admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=ident, cause="not today"))
        execution = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident))
        assert execution.closure.phase == Phase.ABORTING
        assert execution.closure.abort_metadata.cause == "not today"
    with running_admin(tmp_path, database_url, workers=1, register=False) as (_, admin, _signals):
        execution = wait(admin, ident)
        assert execution.closure.phase == Phase.ABORTED
        assert execution.closure.abort_metadata.cause == "not today"


def test_relaunch_runs_the_same_spec_and_inputs_under_a_new_name(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, _signals):
        original = launch(admin, "pair", x=4)
        wait(admin, original)
        ident = admin.RelaunchExecution(execution_pb2.ExecutionRelaunchRequest(id=original, name="again")).id
        assert ident.name == "again"
        execution = wait(admin, ident)
        assert execution.closure.phase == Phase.SUCCEEDED
        assert execution.spec.launch_plan.name == "execution_flows.pair"
        assert execution.spec.metadata.mode == execution_pb2.ExecutionMetadata.RELAUNCH
        assert execution.spec.metadata.reference_execution == original
        assert outputs(admin, ident) == outputs(admin, original) == {"o0": 5, "o1": 4}
        error = fails(
            admin.RelaunchExecution, execution_pb2.ExecutionRelaunchRequest(id=original, name="again")
        )
        assert (error.code(), error.details()) == (
            grpc.StatusCode.ALREADY_EXISTS,
            f"execution {PROJECT}/{DOMAIN}/again already exists",
        )


def test_archived_executions_leave_the_default_list(app, admin):
    register_flows(admin)
    kept = launch(admin, "one", name="kept", x=1)
    archived = launch(admin, "one", name="archived", x=1)
    admin.UpdateExecution(
        execution_pb2.ExecutionUpdateRequest(id=archived, state=execution_pb2.EXECUTION_ARCHIVED)
    )
    listed = admin.ListExecutions(list_request()).executions
    assert [e.id.name for e in listed] == [kept.name]
    only_archived = admin.ListExecutions(list_request(filters="eq(state,1)")).executions
    assert [e.id.name for e in only_archived] == ["archived"]
    details = only_archived[0].closure.state_change_details
    assert details.state == execution_pb2.EXECUTION_ARCHIVED
    assert details.occurred_at.ToDatetime() >= only_archived[0].closure.created_at.ToDatetime()
    error = fails(admin.UpdateExecution, execution_pb2.ExecutionUpdateRequest(id=kept, state=5))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "request field 'state' has the unknown value 5; known: EXECUTION_ACTIVE, EXECUTION_ARCHIVED",
    )


def test_unknown_executions_are_not_found(app, admin):
    missing = execution_pb2.WorkflowExecutionGetRequest(
        id={"project": PROJECT, "domain": DOMAIN, "name": "nope"}
    )
    for call in (admin.GetExecution, admin.GetExecutionData):
        error = fails(call, missing)
        assert (error.code(), error.details()) == (
            grpc.StatusCode.NOT_FOUND,
            f"execution {PROJECT}/{DOMAIN}/nope does not exist",
        )
    error = fails(admin.TerminateExecution, execution_pb2.ExecutionTerminateRequest(id=missing.id))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = fails(
        admin.GetExecution,
        execution_pb2.WorkflowExecutionGetRequest(
            id={"project": PROJECT, "domain": DOMAIN, "name": "Bad_Name"}
        ),
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "id.name 'Bad_Name' is not valid: use 1-63 lowercase letters, digits and '-', starting with a letter",
    )
