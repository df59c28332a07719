"""Execution credentials: task processes get a client credential of their own execution, which gets tokens
while the execution runs, holds the launcher role on its project and domain only, and is never stored."""

from __future__ import annotations

import stat
from pathlib import Path

import grpc
import httpx
import pytest
from auth_support import authorized, error_of, grant, start_admin, token
from execution_support import (
    DOMAIN,
    PROJECT,
    create_request,
    engine_section,
    register_flows,
    wait,
    wait_until,
)
from flyteidl.admin import common_pb2, execution_pb2, task_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc
from sqlalchemy import update

from roost_admin.app import AdminApp
from roost_admin.auth.roles import Role
from roost_admin.db import models


def _stub(app: AdminApp, value: str) -> tuple[grpc.Channel, admin_pb2_grpc.AdminServiceStub]:
    channel = authorized(grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}"), value)
    return channel, admin_pb2_grpc.AdminServiceStub(channel)


def _credential_token(app: AdminApp, env: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{app.http_url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(env["ROOST_CLIENT_ID"], env["ROOST_CLIENT_SECRET"]),
    )


def test_credential_of_a_running_execution(tmp_path, database_url: str) -> None:
    app = start_admin(tmp_path, database_url)
    try:
        grant(app, "client", "dev", PROJECT, Role.EDITOR)
        channel, admin = _stub(app, token(app, "dev"))
        register_flows(admin)
        ident = admin.CreateExecution(create_request(x=1)).id
        assert app.task_credentials is not None
        env = app.task_credentials(ident)
        assert env["FLYTE_CREDENTIALS_AUTH_MODE"] == "ClientSecret"
        assert (
            env["ROOST_CLIENT_ID"]
            == env["FLYTE_CREDENTIALS_CLIENT_ID"]
            == f"execution/{PROJECT}/{DOMAIN}/{ident.name}"
        )
        response = _credential_token(app, env)
        assert response.status_code == 200, response.text
        _, task_admin = _stub(app, response.json()["access_token"])
        assert task_admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident)).id == ident
        assert task_admin.CreateExecution(create_request(x=2)).id.name  # launcher: it may start executions
        denied = error_of(
            task_admin.CreateTask,
            task_pb2.TaskCreateRequest(id=identifier_pb2.Identifier(project=PROJECT, domain=DOMAIN)),
        )
        assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
        elsewhere = error_of(
            task_admin.ListExecutions,
            common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain="production"), limit=1
            ),
        )
        assert "project 'flytesnacks', domain 'production'" in elsewhere.details()
        wrong = _credential_token(app, {**env, "ROOST_CLIENT_SECRET": "guess"})
        assert wrong.status_code == 401 and wrong.json()["error_description"].startswith(
            "wrong secret for client"
        )
        with app.db.begin() as session:
            session.execute(
                update(models.Execution)
                .where(models.Execution.name == ident.name)
                .values(phase=core_execution_pb2.WorkflowExecution.SUCCEEDED)
            )
        ended = _credential_token(app, env)
        assert ended.status_code == 401
        assert (
            ended.json()["error_description"] == f"execution {PROJECT}/{DOMAIN}/{ident.name} is not running"
        )
        channel.close()
    finally:
        app.stop()


def test_task_processes_get_the_credential(tmp_path, database_url: str) -> None:
    engine = engine_section()
    engine["handlers"]["local-process"]["work_dir"] = str(tmp_path / "work")
    app = start_admin(tmp_path, database_url, workers=1, engine=engine)
    try:
        grant(app, "client", "dev", PROJECT, Role.EDITOR)
        channel, admin = _stub(app, token(app, "dev"))
        register_flows(admin)
        pid_file = tmp_path / "pid"
        ident = admin.CreateExecution(create_request(lp="slow", path=str(pid_file), seconds=3.0, x=1)).id
        pid = wait_until(lambda: pid_file.exists() and pid_file.read_text(), what="the task to start")
        environ = dict(
            entry.split("=", 1)
            for entry in Path(f"/proc/{pid}/environ").read_text().split("\0")
            if "=" in entry
        )
        assert app.task_credentials is not None
        expected = app.task_credentials(ident)
        assert {key: environ[key] for key in expected} == expected
        specs = list((tmp_path / "work").rglob("spec.json"))
        assert specs and all(stat.S_IMODE(spec.stat().st_mode) == 0o600 for spec in specs)
        assert wait(admin, ident).closure.phase == core_execution_pb2.WorkflowExecution.SUCCEEDED
        channel.close()
    finally:
        app.stop()


@pytest.mark.parametrize("settings", [{"execution_credentials": False}])
def test_credentials_can_be_turned_off(tmp_path, database_url: str, settings: dict) -> None:
    app = start_admin(tmp_path, database_url, auth=settings)
    try:
        assert app.task_credentials is None
    finally:
        app.stop()
