"""Executions end to end, over a real gRPC socket, with engine workers running python tasks as local processes:

- the time from CreateExecution to SUCCEEDED (as GetExecution reports it) of a one-task workflow on the
  embedded default (SQLite, local folder, two workers), run one after another;
- executions per minute of a ten-task chain with two workers on the PostgreSQL server at 127.0.0.1:5432
  (when reachable), many executions launched at once.

    python admin/bench/bench_executions.py

Printed, never asserted. Each task is a Python process (``roost-execute``), which costs about 0.25 s of CPU.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import sqlalchemy
from flyteidl.admin import execution_pb2, launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc

from roost_admin.app import AdminApp, grpc_options
from roost_admin.config import Settings

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import _bench_flows as flows  # noqa: E402 - importable by the task processes through the same folder

from roost import LaunchPlan  # noqa: E402
from roost.serialize import SerializationSettings, Serializer  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
LATENCY_RUNS = 20
THROUGHPUT_EXECUTIONS = 20
TERMINAL = {
    core_execution_pb2.WorkflowExecution.SUCCEEDED,
    core_execution_pb2.WorkflowExecution.FAILED,
    core_execution_pb2.WorkflowExecution.ABORTED,
}


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


@contextmanager
def admin(folder: Path, db_url: str = "") -> Iterator[admin_pb2_grpc.AdminServiceStub]:
    settings = Settings(
        data_dir=folder,
        db_url=db_url,
        grpc_port=0,
        http_port=0,
        workers=2,
        engine={"handlers": {"local-process": {"env": {"PYTHONPATH": str(HERE)}}}},
    )
    app = AdminApp(settings)
    app.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}", options=grpc_options(settings)) as channel:
            stub = admin_pb2_grpc.AdminServiceStub(channel)
            register(stub)
            yield stub
    finally:
        app.stop()


def register(stub: admin_pb2_grpc.AdminServiceStub) -> None:
    serializer = Serializer(SerializationSettings(project="flytesnacks", domain="development", version="v1"))
    for wf in (flows.one, flows.ten):
        serializer.workflow(wf)
        serializer.launch_plan(LaunchPlan.get_or_create(wf))
    for template in serializer.tasks.values():
        stub.CreateTask(task_pb2.TaskCreateRequest(id=template.id, spec=task_pb2.TaskSpec(template=template)))
    for template in serializer.workflows.values():
        stub.CreateWorkflow(
            workflow_pb2.WorkflowCreateRequest(
                id=template.id, spec=workflow_pb2.WorkflowSpec(template=template)
            )
        )
    for plan in serializer.launch_plans.values():
        stub.CreateLaunchPlan(launch_plan_pb2.LaunchPlanCreateRequest(id=plan.id, spec=plan.spec))


def launch(
    stub: admin_pb2_grpc.AdminServiceStub, workflow: str
) -> identifier_pb2.WorkflowExecutionIdentifier:
    inputs = literals_pb2.LiteralMap()
    inputs.literals["x"].scalar.primitive.integer = 1
    request = execution_pb2.ExecutionCreateRequest(
        project="flytesnacks",
        domain="development",
        spec=execution_pb2.ExecutionSpec(
            launch_plan=identifier_pb2.Identifier(
                resource_type=identifier_pb2.LAUNCH_PLAN,
                project="flytesnacks",
                domain="development",
                name=f"_bench_flows.{workflow}",
                version="v1",
            )
        ),
        inputs=inputs,
    )
    return stub.CreateExecution(request).id


def phase(stub: admin_pb2_grpc.AdminServiceStub, ident: identifier_pb2.WorkflowExecutionIdentifier) -> int:
    return int(stub.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident)).closure.phase)


def wait(stub: admin_pb2_grpc.AdminServiceStub, ident: identifier_pb2.WorkflowExecutionIdentifier) -> None:
    while (current := phase(stub, ident)) not in TERMINAL:
        time.sleep(0.005)
    if current != core_execution_pb2.WorkflowExecution.SUCCEEDED:
        raise SystemExit(
            f"execution {ident.name} ended {core_execution_pb2.WorkflowExecution.Phase.Name(current)}"
        )


def latency() -> None:
    with tempfile.TemporaryDirectory() as folder, admin(Path(folder)) as stub:
        wait(stub, launch(stub, "one"))  # warm up: imports, handler threads
        times = []
        for _ in range(LATENCY_RUNS):
            start = time.perf_counter()
            wait(stub, launch(stub, "one"))
            times.append(time.perf_counter() - start)
    times.sort()
    print(
        f"CreateExecution -> SUCCEEDED, one python task, SQLite, {LATENCY_RUNS} runs: "
        f"p50 {statistics.median(times):.3f}s  p90 {times[int(0.9 * len(times)) - 1]:.3f}s  "
        f"min {times[0]:.3f}s  max {times[-1]:.3f}s"
    )


def throughput() -> None:
    with postgres_database() as url:
        if url is None:
            print("executions/minute on PostgreSQL: skipped (no server at 127.0.0.1:5432)")
            return
        with tempfile.TemporaryDirectory() as folder, admin(Path(folder), url) as stub:
            start = time.perf_counter()
            idents = [launch(stub, "ten") for _ in range(THROUGHPUT_EXECUTIONS)]
            for ident in idents:
                wait(stub, ident)
            elapsed = time.perf_counter() - start
    print(
        f"ten-task chains, 2 workers, PostgreSQL: {THROUGHPUT_EXECUTIONS} executions in {elapsed:.1f}s = "
        f"{THROUGHPUT_EXECUTIONS / elapsed * 60:.0f} executions/minute ({THROUGHPUT_EXECUTIONS * 10} task processes)"
    )


if __name__ == "__main__":
    latency()
    throughput()
