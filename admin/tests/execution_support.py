"""Helpers of the execution and worker tests: an admin with engine workers whose task processes can import
``execution_flows``, registration of those flows through the registry RPCs, launching and waiting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import execution_flows as flows
import grpc
import registry_flows
from conftest import make_settings
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc, signal_pb2_grpc

from roost_admin.app import AdminApp, grpc_options
from roost_core.plugins import EnginePlugins

TESTS = Path(__file__).parent
PROJECT = registry_flows.PROJECT
DOMAIN = registry_flows.DOMAIN
VERSION = "v1"
TERMINAL = {
    core_execution_pb2.WorkflowExecution.SUCCEEDED,
    core_execution_pb2.WorkflowExecution.FAILED,
    core_execution_pb2.WorkflowExecution.ABORTED,
    core_execution_pb2.WorkflowExecution.TIMED_OUT,
}
FLOWS = (
    flows.one,
    flows.pair,
    flows.pair_fixed,
    flows.failing,
    flows.slow,
    flows.noted,
    flows.parent,
    flows.gated,
    flows.dyn,
    flows.introspect,
    flows.checkpointed,
)


def engine_section(**extra: Any) -> dict[str, Any]:
    """The engine settings of test admins: task processes import the flows from this folder."""
    return {
        "task_environment": {"env": {"PYTHONPATH": str(TESTS)}},
        "handlers": {"local-process": {}},
        **extra,
    }


@contextmanager
def running_admin(
    tmp_path: Path,
    database_url: str,
    *,
    workers: int = 2,
    register: bool = True,
    plugins: EnginePlugins | None = None,
    **settings: Any,
) -> Iterator[tuple[AdminApp, admin_pb2_grpc.AdminServiceStub, signal_pb2_grpc.SignalServiceStub]]:
    """A started admin with ``workers`` engine workers (and ``plugins``' handlers), its flows registered, and
    stubs over a real socket."""
    settings.setdefault("engine", engine_section())
    app = AdminApp(make_settings(tmp_path, database_url, workers=workers, **settings), plugins=plugins)
    app.start()
    try:
        with grpc.insecure_channel(
            f"127.0.0.1:{app.grpc_port}", options=grpc_options(app.settings)
        ) as channel:
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            if register:
                register_flows(admin)
            yield app, admin, signal_pb2_grpc.SignalServiceStub(channel)
    finally:
        app.stop()


def register_flows(admin: admin_pb2_grpc.AdminServiceStub) -> None:
    """Register the flows (tasks, workflows, their default launch plans and the named ones)."""
    registry_flows.register(admin, registry_flows.serialize(*FLOWS, version=VERSION))


def lp_id(name: str, version: str = VERSION) -> identifier_pb2.Identifier:
    """The identifier of a launch plan of the flows (``one`` → ``execution_flows.one``)."""
    return identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=PROJECT,
        domain=DOMAIN,
        name=f"execution_flows.{name}",
        version=version,
    )


def literal(value: Any) -> literals_pb2.Literal:
    """A scalar literal of an int, float, str or bool."""
    primitive = literals_pb2.Primitive()
    if isinstance(value, bool):
        primitive.boolean = value
    elif isinstance(value, int):
        primitive.integer = value
    elif isinstance(value, float):
        primitive.float_value = value
    else:
        primitive.string_value = value
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


def literal_map(**values: Any) -> literals_pb2.LiteralMap:
    """A LiteralMap of scalars."""
    return literals_pb2.LiteralMap(literals={k: literal(v) for k, v in values.items()})


def create_request(name: str = "", lp: str = "one", **inputs: Any) -> execution_pb2.ExecutionCreateRequest:
    """A CreateExecution request as FlyteRemote sends it."""
    return execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        name=name,
        spec=execution_pb2.ExecutionSpec(
            launch_plan=lp_id(lp), metadata=execution_pb2.ExecutionMetadata(principal="tester")
        ),
        inputs=literal_map(**inputs),
    )


def launch(admin: admin_pb2_grpc.AdminServiceStub, lp: str = "one", name: str = "", **inputs: Any) -> Any:
    """Create an execution; returns its identifier."""
    return admin.CreateExecution(create_request(name, lp, **inputs)).id


def wait(
    admin: admin_pb2_grpc.AdminServiceStub,
    ident: identifier_pb2.WorkflowExecutionIdentifier,
    phases: set[int] | None = None,
    timeout: float = 60.0,
) -> execution_pb2.Execution:
    """Poll GetExecution until the execution reaches one of ``phases`` (a terminal phase by default)."""
    wanted = phases or TERMINAL
    deadline = time.time() + timeout
    while True:
        execution = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident))
        if execution.closure.phase in wanted:
            return execution
        if time.time() > deadline:
            phase = core_execution_pb2.WorkflowExecution.Phase.Name(execution.closure.phase)
            raise AssertionError(f"execution {ident.name} is still {phase} after {timeout}s")
        time.sleep(0.05)


def wait_until(condition: Any, timeout: float = 30.0, what: str = "the condition") -> Any:
    """Poll ``condition()`` until it returns something truthy."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.05)


def outputs(
    admin: admin_pb2_grpc.AdminServiceStub, ident: identifier_pb2.WorkflowExecutionIdentifier
) -> dict[str, Any]:
    """The execution's outputs as Python scalars (from GetExecutionData's inline outputs)."""
    data = admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=ident))
    return {name: _value(lit) for name, lit in data.full_outputs.literals.items()}


def _value(lit: literals_pb2.Literal) -> Any:
    primitive = lit.scalar.primitive
    return getattr(primitive, primitive.WhichOneof("value"))


def fails(call: Any, request: Any) -> grpc.RpcError:
    """The error a call ends with (it must fail)."""
    try:
        call(request)
    except grpc.RpcError as exc:
        return exc
    raise AssertionError(f"{request!r} succeeded")


def list_request(**fields: Any) -> common_pb2.ResourceListRequest:
    """A ListExecutions request for the test project."""
    return common_pb2.ResourceListRequest(
        id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN),
        limit=fields.pop("limit", 100),
        **fields,
    )
