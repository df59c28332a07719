"""Hostile input over gRPC: each case the fuzz suite stands for, answered with INVALID_ARGUMENT naming the field;
server faults answered without internals and logged with the request id the client sees; unimplemented RPCs
answered in one log line; the size limits."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc
import pytest
import sqlalchemy
from conftest import make_settings, started
from flyteidl.admin import (
    common_pb2,
    event_pb2,
    execution_pb2,
    project_pb2,
    task_execution_pb2,
    workflow_pb2,
)
from flyteidl.core import (
    execution_pb2 as core_execution_pb2,
)
from flyteidl.core import (
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    types_pb2,
)
from flyteidl.core import workflow_pb2 as core_workflow_pb2
from flyteidl.event import event_pb2 as events
from flyteidl.service import admin_pb2, admin_pb2_grpc, dataproxy_pb2, signal_pb2_grpc
from google.protobuf import duration_pb2, timestamp_pb2

from roost_admin.app import AdminApp, grpc_options

PROJECT, DOMAIN = "flytesnacks", "development"
EXECUTION = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="e1")
NODE = identifier_pb2.NodeExecutionIdentifier(execution_id=EXECUTION, node_id="n0")
SCOPE = common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN)
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def fails(call, request, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request, **kwargs)
    return info.value


def task_event(**fields) -> event_pb2.TaskExecutionEventRequest:
    event = events.TaskExecutionEvent(
        task_id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project=PROJECT, domain=DOMAIN, name="t", version="v1"
        ),
        parent_node_execution_id=NODE,
        **fields,
    )
    return event_pb2.TaskExecutionEventRequest(event=event)


def nested(depth: int) -> literals_pb2.Literal:
    """A literal nesting ``depth`` literals: a list of lists ... of an int."""
    literal = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1)))
    for _ in range(depth - 1):
        literal = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[literal]))
    return literal


def duration_text(seconds: int, nanos: int = 0) -> str:
    return (
        f"is not a valid duration (seconds {seconds}, nanos {nanos}): at most 315576000000 seconds "
        "(10,000 years) either way, with nanos of the same sign"
    )


CASES = [
    (
        "filter-nul",
        "ListExecutions",
        common_pb2.ResourceListRequest(id=SCOPE, limit=10, filters="eq(name,a\x00b)"),
        "request field 'filters' contains a NUL character",
    ),
    (
        "event-execution-name-nul",
        "CreateNodeEvent",
        event_pb2.NodeExecutionEventRequest(
            event=events.NodeExecutionEvent(
                id=identifier_pb2.NodeExecutionIdentifier(
                    execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                        project=PROJECT, domain=DOMAIN, name="a\x00b"
                    ),
                    node_id="n0",
                )
            )
        ),
        "request field 'event.id.execution_id.name' contains a NUL character",
    ),
    (
        "huge-page-token",
        "ListTasks",
        common_pb2.ResourceListRequest(id=SCOPE, limit=10, token="99999999999999999999"),
        "token '99999999999999999999' is not one this server gave out",
    ),
    (
        "unknown-resource-type",
        "ListNamedEntities",
        common_pb2.NamedEntityListRequest(resource_type=999, project=PROJECT, domain=DOMAIN, limit=10),
        "request field 'resource_type' has the unknown value 999; known: UNSPECIFIED, TASK, WORKFLOW, "
        "LAUNCH_PLAN, DATASET",
    ),
    (
        "unknown-artifact-type",
        "CreateDownloadLink",
        dataproxy_pb2.CreateDownloadLinkRequest(artifact_type=7, node_execution_id=NODE),
        "request field 'artifact_type' has the unknown value 7; known: ARTIFACT_TYPE_UNDEFINED, "
        "ARTIFACT_TYPE_DECK",
    ),
    (
        "expires-in-out-of-range",
        "CreateUploadLocation",
        dataproxy_pb2.CreateUploadLocationRequest(
            project=PROJECT,
            domain=DOMAIN,
            filename_root="x",
            expires_in=duration_pb2.Duration(seconds=2**63 - 1),
        ),
        "request field 'expires_in' " + duration_text(2**63 - 1),
    ),
    (
        "log-ttl-out-of-range",
        "CreateTaskEvent",
        task_event(logs=[core_execution_pb2.TaskLog(uri="x", ttl=duration_pb2.Duration(seconds=-(2**40)))]),
        "request field 'event.logs[0].ttl' " + duration_text(-(2**40)),
    ),
    (
        "timestamp-out-of-range",
        "CreateTaskEvent",
        task_event(occurred_at=timestamp_pb2.Timestamp(seconds=2**62)),
        f"request field 'event.occurred_at' is not a valid timestamp (seconds {2**62}, nanos 0): it must lie "
        "between 0001-01-01 and 9999-12-31",
    ),
    (
        "retry-attempt-beyond-int32",
        "GetTaskExecution",
        task_execution_pb2.TaskExecutionGetRequest(
            id=identifier_pb2.TaskExecutionIdentifier(
                node_execution_id=NODE,
                task_id=identifier_pb2.Identifier(name="t"),
                retry_attempt=2**32 - 1,
            )
        ),
        "request field 'id.retry_attempt' is 4294967295; the largest accepted is 2147483647",
    ),
    (
        "state-filter-out-of-range",
        "ListExecutions",
        common_pb2.ResourceListRequest(id=SCOPE, limit=10, filters="eq(state,99999999999999999999)"),
        "filter eq(state,...): bad value: '99999999999999999999' is not one of EXECUTION_ACTIVE, "
        "EXECUTION_ARCHIVED",
    ),
    (
        "number-filter-not-finite",
        "ListExecutions",
        common_pb2.ResourceListRequest(id=SCOPE, limit=10, filters="gt(duration,nan)"),
        "filter gt(duration,...): bad value: 'nan' is not a finite number",
    ),
    (
        "int-filter-out-of-range",
        "ListProjects",
        project_pb2.ProjectListRequest(limit=10, filters="eq(state,99999999999)"),
        "filter eq(state,...): bad value: '99999999999' is out of range",
    ),
    (
        "nan-outside-literals",
        "CreateWorkflow",
        workflow_pb2.WorkflowCreateRequest(
            spec=workflow_pb2.WorkflowSpec(
                template=core_workflow_pb2.WorkflowTemplate(
                    nodes=[
                        core_workflow_pb2.Node(
                            id="n0", array_node=core_workflow_pb2.ArrayNode(min_success_ratio=float("nan"))
                        )
                    ]
                )
            )
        ),
        "request field 'spec.template.nodes[0].array_node.min_success_ratio' must be a finite number, not nan",
    ),
    (
        "long-principal",
        "CreateExecution",
        execution_pb2.ExecutionCreateRequest(
            project=PROJECT,
            domain=DOMAIN,
            spec=execution_pb2.ExecutionSpec(
                launch_plan=identifier_pb2.Identifier(resource_type=identifier_pb2.LAUNCH_PLAN),
                metadata=execution_pb2.ExecutionMetadata(principal="p" * 300),
            ),
        ),
        "spec.metadata.principal is 300 characters long; the limit is 255",
    ),
    (
        "long-node-id",
        "CreateNodeEvent",
        event_pb2.NodeExecutionEventRequest(
            event=events.NodeExecutionEvent(
                id=identifier_pb2.NodeExecutionIdentifier(execution_id=EXECUTION, node_id="n" * 256)
            )
        ),
        "event.id.node_id is 256 characters long; the limit is 255",
    ),
    (
        "event-uri-outside-storage",
        "CreateTaskEvent",
        task_event(output_uri="file:///etc/passwd"),
        "event.output_uri 'file:///etc/passwd' is not under this admin's storage ({prefix}); events may only "
        "point to its blobs",
    ),
]


@pytest.mark.parametrize(("method", "request_", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_values_are_invalid_argument_naming_the_field(app, channel, method, request_, message):
    service = (
        "DataProxyService"
        if request_.DESCRIPTOR.full_name.startswith("flyteidl.service.")
        else "AdminService"
    )
    call = channel.unary_unary(
        f"/flyteidl.service.{service}/{method}",
        request_serializer=lambda m: m.SerializeToString(),
    )
    error = fails(call, request_)
    assert (error.code(), error.details()) == (INVALID, message.format(prefix=app.settings.storage_prefix))


def test_a_long_signal_id_is_invalid_argument(signals: signal_pb2_grpc.SignalServiceStub):
    from flyteidl.admin import signal_pb2

    request = signal_pb2.SignalGetOrCreateRequest(
        id=identifier_pb2.SignalIdentifier(signal_id="s" * 256, execution_id=EXECUTION),
        type=types_pb2.LiteralType(simple=types_pb2.BOOLEAN),
    )
    error = fails(signals.GetOrCreateSignal, request)
    assert (error.code(), error.details()) == (
        INVALID,
        "id.signal_id is 256 characters long; the limit is 255",
    )


@pytest.mark.parametrize(("given", "kept"), [("trace-42", True), ("two words", False), ("x" * 65, False)])
def test_a_server_fault_is_logged_with_the_request_id_the_client_sees(app, admin, caplog, given, kept):
    with app.db.begin() as session:
        session.execute(sqlalchemy.text("ALTER TABLE projects RENAME TO projects_gone"))
    with caplog.at_level(logging.WARNING, logger="roost_admin"):
        error = fails(
            admin.ListProjects, project_pb2.ProjectListRequest(limit=10), metadata=[("x-request-id", given)]
        )
    request_id = dict(error.trailing_metadata())["x-request-id"]
    assert (request_id == given) is kept
    # SQLite calls a missing table an operational error (UNAVAILABLE), PostgreSQL a programming one (INTERNAL).
    assert (error.code(), error.details()) in {
        (
            grpc.StatusCode.UNAVAILABLE,
            f"ListProjects: the database is unavailable; try again (request id {request_id})",
        ),
        (grpc.StatusCode.INTERNAL, f"ListProjects: internal error (request id {request_id})"),
    }
    [record] = [r for r in caplog.records if f"request id {request_id}" in r.getMessage()]
    logged = record.getMessage() + (
        caplog.handler.formatter.formatException(record.exc_info) if record.exc_info else ""
    )
    assert "SELECT" in logged and "projects" in logged


def test_a_successful_call_carries_its_request_id(channel):
    call = channel.unary_unary("/flyteidl.service.AdminService/GetDomains")
    _, outcome = call.with_call(
        project_pb2.GetDomainRequest().SerializeToString(), metadata=[("x-request-id", "abc.1")]
    )
    assert dict(outcome.trailing_metadata())["x-request-id"] == "abc.1"


def test_every_rpc_of_the_admin_dataproxy_and_signal_services_is_served():
    from flyteidl.service import dataproxy_pb2, dataproxy_pb2_grpc, signal_pb2, signal_pb2_grpc

    from roost_admin.server.admin import AdminService
    from roost_admin.server.dataproxy import DataProxyService
    from roost_admin.server.signals import SignalService

    unserved = [
        f"{name}/{method.name}"
        for name, descriptor, base, served in (
            ("AdminService", admin_pb2.DESCRIPTOR, admin_pb2_grpc.AdminServiceServicer, AdminService),
            (
                "DataProxyService",
                dataproxy_pb2.DESCRIPTOR,
                dataproxy_pb2_grpc.DataProxyServiceServicer,
                DataProxyService,
            ),
            ("SignalService", signal_pb2.DESCRIPTOR, signal_pb2_grpc.SignalServiceServicer, SignalService),
        )
        for method in descriptor.services_by_name[name].methods
        if getattr(served, method.name) is getattr(base, method.name)
    ]
    assert unserved == []


@pytest.fixture
def small_app(tmp_path, database_url) -> Iterator[AdminApp]:
    """An admin with tiny request limits."""
    settings = make_settings(
        tmp_path,
        database_url,
        max_message_bytes=4000,
        max_string_bytes=64,
        max_list_items=5,
        max_inputs=3,
        max_literal_depth=4,
    )
    with started(settings) as app:
        yield app


def execution_request(**fields) -> execution_pb2.ExecutionCreateRequest:
    spec = execution_pb2.ExecutionSpec(
        launch_plan=identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN, project=PROJECT, domain=DOMAIN, name="lp", version="v1"
        )
    )
    return execution_pb2.ExecutionCreateRequest(project=PROJECT, domain=DOMAIN, spec=spec, **fields)


def test_request_limits_have_clear_errors(small_app):
    with grpc.insecure_channel(
        f"127.0.0.1:{small_app.grpc_port}", options=grpc_options(small_app.settings)
    ) as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)

        error = fails(
            admin.ListExecutions, common_pb2.ResourceListRequest(id=SCOPE, limit=1, filters="x" * 65)
        )
        assert (error.code(), error.details()) == (
            INVALID,
            "request field 'filters' is 65 bytes long; the limit is 64 (setting max_string_bytes)",
        )

        labels = common_pb2.Labels(values={f"k{i}": "v" for i in range(6)})
        request = execution_request()
        request.spec.labels.CopyFrom(labels)
        error = fails(admin.CreateExecution, request)
        assert (error.code(), error.details()) == (
            INVALID,
            "request field 'spec.labels.values' has 6 items; the limit is 5 (setting max_list_items)",
        )

        inputs = literals_pb2.LiteralMap(literals={f"x{i}": nested(1) for i in range(4)})
        error = fails(admin.CreateExecution, execution_request(inputs=inputs))
        assert (error.code(), error.details()) == (
            INVALID,
            "request field 'inputs.literals' has 4 entries; the limit is 3 (setting max_inputs)",
        )

        # A map literal is a value, counted as a list, not as a set of inputs.
        four = literals_pb2.Literal(
            map=literals_pb2.LiteralMap(literals={f"k{i}": nested(1) for i in range(4)})
        )
        error = fails(
            admin.CreateExecution, execution_request(inputs=literals_pb2.LiteralMap(literals={"m": four}))
        )
        assert error.code() == grpc.StatusCode.NOT_FOUND  # past the checks: the launch plan does not exist

        deep = literals_pb2.LiteralMap(literals={"x": nested(5)})
        error = fails(admin.CreateExecution, execution_request(inputs=deep))
        inner = "".join(".collection.literals[0]" for _ in range(4))
        assert (error.code(), error.details()) == (
            INVALID,
            f"request field 'inputs.literals['x']{inner}' nests literals more than 4 deep (setting max_literal_depth)",
        )

        deep_type = types_pb2.LiteralType(simple=types_pb2.INTEGER)
        for _ in range(4):
            deep_type = types_pb2.LiteralType(collection_type=deep_type)
        interface = interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=deep_type)})
        )
        request = workflow_pb2.WorkflowCreateRequest(
            spec=workflow_pb2.WorkflowSpec(template=core_workflow_pb2.WorkflowTemplate(interface=interface))
        )
        error = fails(admin.CreateWorkflow, request)
        inner = "".join(".collection_type" for _ in range(4))
        assert (error.code(), error.details()) == (
            INVALID,
            f"request field 'spec.template.interface.inputs.variables['x'].type{inner}' nests types more than 4 "
            "deep (setting max_literal_depth)",
        )

        big = project_pb2.ProjectRegisterRequest(
            project=project_pb2.Project(id="p", name="n", description="d" * 5000)
        )
        error = fails(admin.RegisterProject, big)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "larger than max (" in error.details()
