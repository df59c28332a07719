"""Set-up the admin benchmarks share: a throw-away PostgreSQL database, an admin on free ports, gRPC clients,
registering the benchmark workflows, launching them, and printing results as tables.

Run as scripts, the benchmarks find this module (and ``_bench_flows``) in their own folder, which Python puts
first on ``sys.path``; task processes find ``_bench_flows`` through ``PYTHONPATH`` (see :func:`running_admin`), ahead
of the entries of the bench's own ``PYTHONPATH``, so that a bench run with ``PYTHONPATH`` naming other sources (a
branch's, to compare with) runs its tasks on them too.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import grpc
import sqlalchemy
from _bench_clients import DOMAIN, PROJECT, VERSION, create_request
from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc
from rich.console import Console
from rich.table import Table

from roost import LaunchPlan
from roost.serialize import SerializationSettings, Serializer
from roost_admin.app import AdminApp, grpc_options
from roost_admin.config import Settings

HERE = Path(__file__).parent
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
"""The PostgreSQL server the benchmarks use when it is reachable (each run makes and drops its own database)."""

R = TypeVar("R")


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """The URL of a new, empty database on :data:`POSTGRES`, dropped afterwards; None if the server is down."""
    name = f"roost_bench_{uuid.uuid4().hex[:8]}"
    server = sqlalchemy.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    except sqlalchemy.exc.OperationalError:
        server.dispose()
        yield None
        return
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with server.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@contextmanager
def running_admin(
    folder: Path, db_url: str = "", *, workers: int = 0, local_process: dict[str, Any] | None = None
) -> Iterator[AdminApp]:
    """An admin (gRPC and HTTP on free ports) with its data in ``folder`` and the database at ``db_url``
    (empty: SQLite in ``folder``), and ``workers`` engine workers whose task processes can import the
    benchmark workflows; ``local_process`` adds settings of the local-process handler."""
    paths = os.pathsep.join([str(HERE), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])
    handler = {"task_environment": {"env": {"PYTHONPATH": paths}}, **(local_process or {})}
    settings = Settings(
        data_dir=folder,
        db_url=db_url,
        grpc_port=0,
        http_port=0,
        workers=workers,
        engine={"handlers": {"local-process": handler}},
    )
    app = AdminApp(settings)
    app.start()
    try:
        yield app
    finally:
        app.stop()


@contextmanager
def bench_admin(db_url: str = "") -> Iterator[tuple[AdminApp, admin_pb2_grpc.AdminServiceStub]]:
    """An admin without engine workers on ``db_url`` (empty: SQLite), its data in a throw-away folder, and an
    AdminService client of it: the start-up every admin benchmark shares."""
    with (
        tempfile.TemporaryDirectory() as folder,
        running_admin(Path(folder), db_url) as app,
        admin_stub(app) as stub,
    ):
        yield app, stub


def on_each_database(run: Callable[[str, str], R], skipped: R) -> list[R]:
    """``run(label, db_url)`` on a fresh SQLite database, then on a fresh PostgreSQL database of
    :data:`POSTGRES` (``skipped`` in its place when the server is not reachable)."""
    with tempfile.TemporaryDirectory() as folder:
        results = [run("SQLite", f"sqlite:///{folder}/roost.db")]
    with postgres_database() as url:
        results.append(skipped if url is None else run("PostgreSQL", url))
    return results


def channel(app: AdminApp) -> grpc.Channel:
    """A channel of its own to the admin: a local subchannel pool keeps gRPC from sharing one connection
    between channels with the same target and options, so concurrent clients are really concurrent."""
    options = [*grpc_options(app.settings), ("grpc.use_local_subchannel_pool", 1)]
    return grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}", options=options)


@contextmanager
def admin_stub(app: AdminApp) -> Iterator[admin_pb2_grpc.AdminServiceStub]:
    """An AdminService client on a channel of its own, closed afterwards."""
    with channel(app) as opened:
        yield admin_pb2_grpc.AdminServiceStub(opened)


def register(stub: admin_pb2_grpc.AdminServiceStub, launch_plans: Iterable[LaunchPlan]) -> None:
    """Register the launch plans, with their workflows and tasks, as ``flytesnacks/development@v1``."""
    serializer = Serializer(SerializationSettings(project=PROJECT, domain=DOMAIN, version=VERSION))
    for plan in launch_plans:
        serializer.launch_plan(plan)
    for template in serializer.tasks.values():
        stub.CreateTask(task_pb2.TaskCreateRequest(id=template.id, spec=task_pb2.TaskSpec(template=template)))
    for template in serializer.workflows.values():
        stub.CreateWorkflow(
            workflow_pb2.WorkflowCreateRequest(
                id=template.id, spec=workflow_pb2.WorkflowSpec(template=template)
            )
        )
    for proto in serializer.launch_plans.values():
        stub.CreateLaunchPlan(launch_plan_pb2.LaunchPlanCreateRequest(id=proto.id, spec=proto.spec))


def launch(
    stub: admin_pb2_grpc.AdminServiceStub, launch_plan: str
) -> identifier_pb2.WorkflowExecutionIdentifier:
    """Start an execution of ``launch_plan``; its identifier."""
    return stub.CreateExecution(create_request(launch_plan)).id


def timed(call: Callable[[Any], R], requests: Iterable[Any]) -> list[float]:
    """Seconds each call took, one request after another."""
    seconds = []
    for request in requests:
        start = time.perf_counter()
        call(request)
        seconds.append(time.perf_counter() - start)
    return seconds


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(fraction * len(ordered)))) - 1]


def p50(values: Sequence[float]) -> float:
    """The median."""
    return statistics.median(values)


def ms(seconds: float) -> str:
    """Seconds as milliseconds, for a table cell."""
    return f"{seconds * 1000:.1f} ms"


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], note: str = "") -> None:
    """A table on stdout (numbers right-aligned), with a note under it."""
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row)
    # Not a terminal under nox: a fixed width keeps rich from squeezing the table into 80 columns.
    console = Console(width=110)
    console.print(table)
    if note:
        console.print(note, highlight=False)
    console.print()
