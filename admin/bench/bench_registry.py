"""Registry latency: CreateTask, CreateWorkflow, GetWorkflow and ListTasks over a real gRPC socket, on SQLite
and on the PostgreSQL server at 127.0.0.1:5432 (when reachable). Printed, never asserted."""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import sqlalchemy
from flyteidl.admin import common_pb2, task_pb2, workflow_pb2
from flyteidl.core import (
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
)
from flyteidl.core import (
    workflow_pb2 as core,
)
from flyteidl.service import admin_pb2_grpc

from roost_admin.app import AdminApp, grpc_options
from roost_admin.config import Settings

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
TASKS = 200
WORKFLOWS = 50
NODES = 10
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)


@contextmanager
def postgres_database() -> Iterator[str | None]:
    name = f"roost_bench_{uuid.uuid4().hex[:8]}"
    server = sqlalchemy.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    except sqlalchemy.exc.OperationalError:
        yield None
        return
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with server.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def ident(kind: int, name: str, version: str = "v1") -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=kind, project="flytesnacks", domain="development", name=name, version=version
    )


def task(name: str) -> task_pb2.TaskCreateRequest:
    variables = interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=INT)})
    template = tasks_pb2.TaskTemplate(
        id=ident(identifier_pb2.TASK, name),
        type="python-task",
        interface=interface_pb2.TypedInterface(
            inputs=variables,
            outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=INT)}),
        ),
        container=tasks_pb2.Container(
            image="python:3.11", args=["pyflyte-execute", "--inputs", "{{.input}}"]
        ),
    )
    return task_pb2.TaskCreateRequest(id=template.id, spec=task_pb2.TaskSpec(template=template))


def chain(name: str, task_ids: list[identifier_pb2.Identifier]) -> workflow_pb2.WorkflowCreateRequest:
    """A chain of NODES task nodes."""
    nodes = []
    for index, task_id in enumerate(task_ids):
        source = types_pb2.OutputReference(
            node_id=f"n{index - 1}" if index else "", var="o0" if index else "x"
        )
        nodes.append(
            core.Node(
                id=f"n{index}",
                inputs=[literals_pb2.Binding(var="x", binding=literals_pb2.BindingData(promise=source))],
                task_node=core.TaskNode(reference_id=task_id),
            )
        )
    template = core.WorkflowTemplate(
        id=ident(identifier_pb2.WORKFLOW, name),
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=INT)}),
            outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=INT)}),
        ),
        nodes=nodes,
        outputs=[
            literals_pb2.Binding(
                var="o0",
                binding=literals_pb2.BindingData(
                    promise=types_pb2.OutputReference(node_id=f"n{len(nodes) - 1}", var="o0")
                ),
            )
        ],
    )
    return workflow_pb2.WorkflowCreateRequest(
        id=template.id, spec=workflow_pb2.WorkflowSpec(template=template)
    )


def timed(call: Callable[[object], object], requests: list[object]) -> list[float]:
    seconds = []
    for request in requests:
        start = time.perf_counter()
        call(request)
        seconds.append(time.perf_counter() - start)
    return seconds


def report(what: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"  {what:<34} n={len(seconds):<4} p50 {statistics.median(seconds) * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms"
    )


def run(label: str, database_url: str, folder: Path) -> None:
    settings = Settings(data_dir=folder, db_url=database_url, grpc_port=0, http_port=0, workers=0)
    app = AdminApp(settings)
    app.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}", options=grpc_options(settings)) as channel:
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            print(f"{label}:")
            tasks = [task(f"bench.t{i}") for i in range(TASKS)]
            report("CreateTask", timed(admin.CreateTask, tasks))
            report("CreateTask, identical again", timed(admin.CreateTask, tasks[:50]))
            workflows = [
                chain(f"bench.wf{i}", [t.id for t in tasks[i : i + NODES]]) for i in range(WORKFLOWS)
            ]
            report(f"CreateWorkflow ({NODES} task nodes)", timed(admin.CreateWorkflow, workflows))
            gets = [common_pb2.ObjectGetRequest(id=w.id) for w in workflows]
            report("GetWorkflow", timed(admin.GetWorkflow, gets))
            scope = common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development")
            lists = [common_pb2.ResourceListRequest(id=scope, limit=100, token=str(i)) for i in range(50)]
            report("ListTasks (100 a page)", timed(admin.ListTasks, lists))
    finally:
        app.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        run("SQLite, file store", f"sqlite:///{temp}/roost.db", Path(temp) / "sqlite")
    with postgres_database() as url, tempfile.TemporaryDirectory() as temp:
        if url is None:
            print("PostgreSQL: not reachable at 127.0.0.1:5432, skipped")
        else:
            run("PostgreSQL, file store", url, Path(temp))


if __name__ == "__main__":
    main()
