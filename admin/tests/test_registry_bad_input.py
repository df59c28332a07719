"""Bad registration requests: each gets a clear status and message, and leaves nothing behind."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import grpc
import pytest
import registry_flows as flows
from conftest import make_settings
from flyteidl.admin import common_pb2, task_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc

from roost_admin.app import AdminApp, grpc_options
from roost_admin.blobs import entity_closure_uri


def server_fault_logged(error: grpc.RpcError, caplog, message: str) -> str:
    """The server's log of a fault: the client got ``message`` with a request id and nothing of the cause; the
    log line with that request id holds the cause. Clears the captured log."""
    details = error.details()
    assert details.startswith(message + " (request id "), details
    request_id = details.removeprefix(message + " (request id ").removesuffix(")")
    assert dict(error.trailing_metadata())["x-request-id"] == request_id
    logged = "\n".join(
        record.getMessage()
        + "\n"
        + (caplog.handler.formatter.formatException(record.exc_info) if record.exc_info else "")
        for record in caplog.records
        if f"request id {request_id}" in record.getMessage()
    )
    assert logged, f"no log line has request id {request_id}"
    caplog.clear()
    return logged


def fails(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    return info.value


def add_one_request(**id_fields) -> task_pb2.TaskCreateRequest:
    request = flows.task_requests(flows.serialize(flows.inner))[0]
    for field, value in id_fields.items():
        setattr(request.id, field, value)
    return request


def tasks_in(admin) -> list[str]:
    listed = admin.ListTasks(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=flows.PROJECT, domain=flows.DOMAIN), limit=100
        )
    )
    return [t.id.name for t in listed.tasks]


@pytest.mark.parametrize(
    ("method", "stub"),
    [
        ("CreateTask", "flyteidl.service.AdminService"),
        ("GetWorkflow", "flyteidl.service.AdminService"),
        ("CreateUploadLocation", "flyteidl.service.DataProxyService"),
    ],
)
def test_a_malformed_protobuf_is_invalid_argument(channel, method, stub):
    call = channel.unary_unary(f"/{stub}/{method}")
    with pytest.raises(grpc.RpcError) as info:
        call(b"\x0a\xff\xff\xff\xff\x0f")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith(f"{method}: the request is not a valid protobuf message: ")


@pytest.mark.parametrize(
    ("id_fields", "code", "message"),
    [
        (
            {"project": "nope"},
            grpc.StatusCode.NOT_FOUND,
            "project 'nope' does not exist; create it first (roost create project nope)",
        ),
        (
            {"domain": "qa"},
            grpc.StatusCode.NOT_FOUND,
            "task id domain 'qa' does not exist; domains: development, staging, production",
        ),
        ({"name": ""}, grpc.StatusCode.INVALID_ARGUMENT, "task id name is required"),
        ({"version": ""}, grpc.StatusCode.INVALID_ARGUMENT, "task id version is required"),
        ({"project": ""}, grpc.StatusCode.INVALID_ARGUMENT, "task id project is required"),
        (
            {"name": "n" * 256},
            grpc.StatusCode.INVALID_ARGUMENT,
            f"task id name '{'n' * 256}' is not valid: use letters, digits, '_', '.' and '-', up to 255 characters",
        ),
        (
            {"name": "my task"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "task id name 'my task' is not valid: use letters, digits, '_', '.' and '-', up to 255 characters",
        ),
        (
            {"version": "v1/../x"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "task id version 'v1/../x' is not valid: use letters, digits and '_.-=+:', up to 255 characters",
        ),
        (
            {"project": "Big_Project"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "task id project 'Big_Project' is not valid: use 1-63 lowercase letters, digits and '-'",
        ),
        (
            {"resource_type": identifier_pb2.WORKFLOW},
            grpc.StatusCode.INVALID_ARGUMENT,
            "task id has resource type WORKFLOW, expected TASK",
        ),
    ],
    ids=[
        "unknown-project",
        "unknown-domain",
        "empty-name",
        "empty-version",
        "empty-project",
        "long-name",
        "bad-name",
        "bad-version",
        "bad-project",
        "resource-type",
    ],
)
def test_bad_identifiers(admin, id_fields, code, message):
    error = fails(admin.CreateTask, add_one_request(**id_fields))
    assert (error.code(), error.details()) == (code, message)
    assert tasks_in(admin) == []


def test_unknown_project_or_domain_in_lists_and_gets(admin):
    error = fails(
        admin.ListWorkflows,
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project="nope", domain=flows.DOMAIN), limit=5
        ),
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        "project 'nope' does not exist; create it first (roost create project nope)",
    )
    error = fails(
        admin.GetLaunchPlan,
        common_pb2.ObjectGetRequest(
            id=identifier_pb2.Identifier(
                resource_type=identifier_pb2.LAUNCH_PLAN,
                project=flows.PROJECT,
                domain="qa",
                name="lp",
                version="v1",
            )
        ),
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        "launch plan id domain 'qa' does not exist; domains: development, staging, production",
    )


def test_a_request_without_a_spec(admin):
    request = add_one_request()
    request.ClearField("spec")
    error = fails(admin.CreateTask, request)
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "task 'flytesnacks/development/registry_flows.add_one@v1': spec.template is required",
    )


@pytest.fixture
def small_app(tmp_path, database_url) -> Iterator[AdminApp]:
    """An admin whose messages may be at most 64 KiB."""
    app = AdminApp(make_settings(tmp_path, database_url, max_message_bytes=64 * 1024))
    app.start()
    try:
        yield app
    finally:
        app.stop()


def test_a_message_over_the_limit_is_resource_exhausted(small_app):
    # The client may send anything; the server's own limit refuses it.
    with grpc.insecure_channel(f"127.0.0.1:{small_app.grpc_port}") as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        request = add_one_request()
        request.spec.template.container.args.append("x" * 100_000)
        error = fails(admin.CreateTask, request)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "larger than max" in error.details()
        assert tasks_in(admin) == []


def test_a_closure_over_the_limit_is_resource_exhausted_and_nothing_is_written(small_app):
    # Each task fits, but the workflow's closure carries all of them and would not fit in a response.
    with grpc.insecure_channel(
        f"127.0.0.1:{small_app.grpc_port}", options=grpc_options(small_app.settings)
    ) as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        serializer = flows.serialize(flows.mapped)
        for request in flows.task_requests(serializer):
            request.spec.template.container.args.append("x" * 40_000)
            admin.CreateTask(request)
        request = flows.workflow_request(serializer, "registry_flows.mapped")
        error = fails(admin.CreateWorkflow, request)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error.details().startswith(
            "workflow 'flytesnacks/development/registry_flows.mapped@v1' with its closure is "
        )
        assert error.details().endswith(" bytes; the limit is 65536")
        assert (
            fails(admin.GetWorkflow, common_pb2.ObjectGetRequest(id=request.id)).code()
            == grpc.StatusCode.NOT_FOUND
        )
        uri = entity_closure_uri(small_app.settings.storage_prefix, request.id)
        assert not small_app.storage.exists(uri)


def test_a_failed_blob_write_leaves_no_row(app, admin, caplog):
    request = add_one_request()
    # A file where the task's folder should be makes the blob write fail after the row was inserted.
    folder = app.storage.store_for("file:///").path_of(
        entity_closure_uri(app.settings.storage_prefix, request.id)
    )
    folder = os.path.dirname(folder)
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    with open(folder, "w") as blocker:
        blocker.write("in the way")
    with caplog.at_level(logging.WARNING, logger="roost_admin"):
        error = fails(admin.CreateTask, request)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    logged = server_fault_logged(error, caplog, "CreateTask: the server's storage is unavailable; try again")
    assert "cannot store task 'flytesnacks/development/registry_flows.add_one@v1': cannot write " in logged
    assert "a parent of it is a file, not a folder" in logged
    assert tasks_in(admin) == []

    os.remove(folder)
    admin.CreateTask(request)
    assert tasks_in(admin) == ["registry_flows.add_one"]


def test_a_page_shrinks_to_fit_the_message_limit(small_app):
    with grpc.insecure_channel(
        f"127.0.0.1:{small_app.grpc_port}", options=grpc_options(small_app.settings)
    ) as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        for version in ("v1", "v2", "v3"):
            request = add_one_request(version=version)
            request.spec.template.container.args.append("x" * 25_000)
            admin.CreateTask(request)
        scope = common_pb2.NamedEntityIdentifier(project=flows.PROJECT, domain=flows.DOMAIN)
        first = admin.ListTasks(common_pb2.ResourceListRequest(id=scope, limit=10))
        assert ([t.id.version for t in first.tasks], first.token) == (["v3", "v2"], "2")
        second = admin.ListTasks(common_pb2.ResourceListRequest(id=scope, limit=10, token=first.token))
        assert ([t.id.version for t in second.tasks], second.token) == (["v1"], "")


def test_a_lost_or_unreadable_closure_is_logged_with_its_uri(app, caplog):
    with grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}", options=grpc_options(app.settings)) as channel:
        flows.register(admin_pb2_grpc.AdminServiceStub(channel), flows.serialize(flows.inner))
    app.stop()
    request = add_one_request()
    uri = entity_closure_uri(app.settings.storage_prefix, request.id)
    path = app.storage.store_for("file:///").path_of(uri)
    os.remove(path)
    restarted = AdminApp(app.settings)  # a fresh process: nothing cached
    restarted.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{restarted.grpc_port}") as channel:
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            get = common_pb2.ObjectGetRequest(id=request.id)
            with caplog.at_level(logging.WARNING, logger="roost_admin"):
                error = fails(admin.GetTask, get)
            assert error.code() == grpc.StatusCode.INTERNAL
            logged = server_fault_logged(error, caplog, "GetTask: internal error")
            assert f"the blob store lost {uri}, which a registered entity points to" in logged
            os.mkdir(path)
            with caplog.at_level(logging.WARNING, logger="roost_admin"):
                error = fails(admin.GetTask, get)
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            logged = server_fault_logged(
                error, caplog, "GetTask: the server's storage is unavailable; try again"
            )
            assert (
                f"cannot read {uri} from the blob store: cannot read {uri!r}: it is a folder, not a file"
                in logged
            )
            os.rmdir(path)
            with open(path, "wb") as garbage:
                garbage.write(b"\xff\xff\xff")
            with caplog.at_level(logging.WARNING, logger="roost_admin"):
                error = fails(admin.GetTask, get)
            assert error.code() == grpc.StatusCode.INTERNAL
            logged = server_fault_logged(error, caplog, "GetTask: internal error")
            assert f"{uri} is not a valid flyteidl.admin.Task: " in logged
    finally:
        restarted.stop()
