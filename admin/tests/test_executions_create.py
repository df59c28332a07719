"""CreateExecution over a real socket: inputs merged and checked, launch plan settings applied, names, bad
requests with their exact messages, and an execution run to the end by engine workers."""

from __future__ import annotations

import re

import grpc
import pytest
from execution_support import (
    DOMAIN,
    PROJECT,
    create_request,
    fails,
    launch,
    literal,
    lp_id,
    outputs,
    register_flows,
    running_admin,
    wait,
)
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from roost_admin.services.launching import single_task_node_id

PAIR = f"launch plan '{PROJECT}/{DOMAIN}/execution_flows.pair@v1'"
PAIR_FIXED = f"launch plan '{PROJECT}/{DOMAIN}/execution_flows.pair_fixed@v1'"


def get(admin, ident) -> execution_pb2.Execution:
    return admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident))


def data(admin, ident) -> execution_pb2.WorkflowExecutionGetDataResponse:
    return admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=ident))


def test_a_one_task_workflow_runs_to_succeeded_with_its_outputs(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, _signals):
        ident = launch(admin, "one", x=41)
        execution = wait(admin, ident)
        closure = execution.closure
        assert closure.phase == core_execution_pb2.WorkflowExecution.SUCCEEDED, closure.error.message
        assert closure.started_at.ToDatetime() >= closure.created_at.ToDatetime()
        assert closure.duration.ToNanoseconds() > 0
        assert closure.updated_at.ToDatetime() >= closure.started_at.ToDatetime()
        assert closure.outputs.uri.endswith("/outputs.pb")
        assert closure.workflow_id.name == "execution_flows.one"
        assert closure.workflow_id.resource_type == identifier_pb2.WORKFLOW
        assert closure.state_change_details.state == execution_pb2.EXECUTION_ACTIVE
        # The spec comes back as created: FlyteRemote reads spec.launch_plan to find what ran.
        assert execution.spec.launch_plan == lp_id("one")
        assert execution.spec.metadata.principal == "tester"
        assert outputs(admin, ident) == {"o0": 42}
        response = data(admin, ident)
        assert response.full_inputs.literals["x"] == literal(41)
        assert response.inputs.bytes > 0 and response.outputs.bytes > 0
        assert response.outputs.url.startswith("http://")


def test_launch_plan_defaults_are_merged_into_the_given_inputs(app, admin):
    register_flows(admin)
    ident = launch(admin, "pair", x=1)
    inputs = data(admin, ident).full_inputs.literals
    assert inputs["x"] == literal(1) and inputs["y"] == literal(2)
    execution = get(admin, ident)
    assert execution.closure.phase == core_execution_pb2.WorkflowExecution.QUEUED
    assert execution.spec.inputs == literals_pb2.LiteralMap()


def test_fixed_inputs_and_labels_come_from_the_launch_plan(app, admin):
    register_flows(admin)
    ident = launch(admin, "pair_fixed", x=1)
    assert data(admin, ident).full_inputs.literals["y"] == literal(10)
    assert dict(get(admin, ident).spec.labels.values) == {"team": "ml"}


def test_the_requests_own_settings_win_over_the_launch_plans(app, admin):
    register_flows(admin)
    request = create_request("mine", "pair_fixed", x=1)
    request.spec.labels.values["team"] = "data"
    request.spec.max_parallelism = 3
    request.spec.raw_output_data_config.output_location_prefix = (app.settings.data_dir / "raw").as_uri()
    spec = get(admin, admin.CreateExecution(request).id).spec
    assert dict(spec.labels.values) == {"team": "data"}
    assert spec.max_parallelism == 3
    assert spec.raw_output_data_config.output_location_prefix.endswith("/raw")


@pytest.mark.parametrize(
    ("lp", "inputs", "message"),
    [
        ("pair", {"x": 1, "z": 3}, f"{PAIR}: 'z' is not an input (inputs: x, y)"),
        ("pair", {}, f"{PAIR}: input 'x' (int) is required"),
        ("pair", {"x": "three"}, f"{PAIR}: input 'x' expects int but got str"),
        (
            "pair_fixed",
            {"x": 1, "y": 3},
            f"{PAIR_FIXED}: input 'y' is fixed by the launch plan and cannot be overridden",
        ),
        (
            "pair",
            {"x": 1.5, "y": "two"},
            f"{PAIR}: input 'x' expects int but got float; input 'y' expects int but got str",
        ),
    ],
)
def test_inputs_that_do_not_fit_are_invalid_argument_naming_the_input(app, admin, lp, inputs, message):
    register_flows(admin)
    error = fails(admin.CreateExecution, create_request("bad", lp, **inputs))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == message
    # Nothing was half-written: the name is still free.
    launch(admin, "pair", name="bad", x=1)


def test_a_generated_name_is_a_letter_and_nineteen_lowercase_alphanumerics(app, admin):
    register_flows(admin)
    names = {launch(admin, "one", x=1).name for _ in range(3)}
    assert len(names) == 3
    assert all(re.fullmatch(r"[a-z][a-z0-9]{19}", name) for name in names)


def test_a_name_that_exists_is_already_exists(app, admin):
    register_flows(admin)
    launch(admin, "one", name="twice", x=1)
    error = fails(admin.CreateExecution, create_request("twice", "one", x=2))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error.details() == f"execution {PROJECT}/{DOMAIN}/twice already exists"


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (
            lambda r: setattr(r, "name", "Upper"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "execution name 'Upper' is not valid: use 1-63 lowercase letters, digits and '-', starting with a letter",
        ),
        (
            lambda r: setattr(r, "name", "x" * 64),
            grpc.StatusCode.INVALID_ARGUMENT,
            f"execution name '{'x' * 64}' is not valid: use 1-63 lowercase letters, digits and '-', starting with a letter",
        ),
        (
            lambda r: setattr(r, "project", "nowhere"),
            grpc.StatusCode.NOT_FOUND,
            "project 'nowhere' does not exist; create it first (roost create project nowhere)",
        ),
        (
            lambda r: setattr(r, "domain", "moon"),
            grpc.StatusCode.NOT_FOUND,
            "execution domain 'moon' does not exist; domains: development, staging, production",
        ),
        (
            lambda r: r.spec.ClearField("launch_plan"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "spec.launch_plan is required (the launch plan or task to execute)",
        ),
        (
            lambda r: setattr(r.spec.launch_plan, "resource_type", identifier_pb2.WORKFLOW),
            grpc.StatusCode.INVALID_ARGUMENT,
            "spec.launch_plan must name a LAUNCH_PLAN or a TASK, not WORKFLOW",
        ),
        (
            lambda r: setattr(r.spec.launch_plan, "version", "v9"),
            grpc.StatusCode.NOT_FOUND,
            f"launch plan '{PROJECT}/{DOMAIN}/execution_flows.one@v9' is not registered",
        ),
        (lambda r: r.ClearField("spec"), grpc.StatusCode.INVALID_ARGUMENT, "spec is required"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_message(app, admin, change, code, message):
    register_flows(admin)
    request = create_request("", "one", x=1)
    change(request)
    error = fails(admin.CreateExecution, request)
    assert (error.code(), error.details()) == (code, message)


def test_a_single_task_runs_as_its_own_execution(tmp_path, database_url):
    with running_admin(tmp_path, database_url) as (_, admin, _signals):
        task = identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project=PROJECT,
            domain=DOMAIN,
            name="execution_flows.double",
            version="v1",
        )
        request = create_request()
        request.spec.launch_plan.CopyFrom(task)
        request.inputs.literals["x"].CopyFrom(literal(21))
        ident = admin.CreateExecution(request).id
        execution = wait(admin, ident)
        assert execution.closure.phase == core_execution_pb2.WorkflowExecution.SUCCEEDED, (
            execution.closure.error
        )
        assert execution.spec.launch_plan.resource_type == identifier_pb2.TASK
        assert execution.closure.workflow_id.name == ".flytegen.execution_flows.double"
        assert outputs(admin, ident) == {"o0": 42}
        missing = create_request("nox")
        missing.spec.launch_plan.CopyFrom(task)
        error = fails(admin.CreateExecution, missing)
        assert error.details() == (
            f"task '{PROJECT}/{DOMAIN}/execution_flows.double@v1': input 'x' (int) is required"
        )


def test_single_task_node_ids_keep_letters_digits_and_dashes():
    assert single_task_node_id("execution_flows.double") == "executionflowsdouble"
    assert single_task_node_id("a" * 70 + "-b") == "a" * 61 + "-b"


def test_list_executions_filters_sorts_and_pages(app, admin):
    register_flows(admin)
    names = [launch(admin, "one", name=f"e{i}", x=i).name for i in range(5)]
    launch(admin, "pair", name="other", x=1)
    page = admin.ListExecutions(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN),
            limit=2,
            filters="eq(launch_plan.name,execution_flows.one)+eq(execution.phase,QUEUED)",
            sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING),
        )
    )
    # a keyset token (the last row's sort values), which the next page seeks from
    assert [e.id.name for e in page.executions] == names[:2] and page.token.startswith("~")
    rest = admin.ListExecutions(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN),
            limit=10,
            token=page.token,
            filters="eq(launch_plan.name,execution_flows.one)",
            sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING),
        )
    )
    assert [e.id.name for e in rest.executions] == names[2:] and rest.token == ""
    newest_first = admin.ListExecutions(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=100
        )
    )
    assert newest_first.executions[0].id.name == "other"
    assert newest_first.executions[0].spec.launch_plan.name == "execution_flows.pair"
    error = fails(
        admin.ListExecutions,
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN),
            limit=10,
            filters="eq(phase,DONE)",
        ),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(
        "filter eq(phase,...): bad value: 'DONE' is not one of UNDEFINED, QUEUED"
    )
