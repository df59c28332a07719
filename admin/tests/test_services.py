"""The services layer on its own: no gRPC server, no HTTP endpoint, no engine workers; an in-memory SQLite
database and a local blob store. What a transport or the scheduler would do is a plain method call, and
failures are Roost's own errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import registry_flows as flows
from execution_support import literal_map
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2

from roost_admin.config import Settings
from roost_admin.db import models
from roost_admin.db.base import Database
from roost_admin.db.migrate import upgrade
from roost_admin.errors import AlreadyExists, AlreadyInTerminalState, InvalidArgument, NotFound
from roost_admin.services import ServiceContext, Services
from roost_core.plugins import EnginePlugins
from roost_core.storage import build_storage


class _Registrar:
    """What ``registry_flows.register`` calls, served by the registry service directly."""

    def __init__(self, services: Services) -> None:
        self.CreateTask = services.registry.create_task
        self.CreateWorkflow = services.registry.create_workflow
        self.CreateLaunchPlan = services.registry.create_launch_plan


@pytest.fixture
def services(tmp_path) -> Iterator[Services]:
    settings = Settings(data_dir=tmp_path, db_url="sqlite://", workers=0)
    db = Database(settings.database_url)
    upgrade(db)
    storage = build_storage(
        EnginePlugins(), {"file": {"url_base": "http://nowhere/data", "signing_key": b"k"}}
    )
    built = Services(ServiceContext(settings=settings, db=db, storage=storage))
    built.projects.ensure_defaults()
    try:
        yield built
    finally:
        db.dispose()


def _create(name: str, **inputs: int) -> execution_pb2.ExecutionCreateRequest:
    """A CreateExecution request for registry_flows.outer@v1."""
    plan = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=flows.PROJECT,
        domain=flows.DOMAIN,
        name="registry_flows.outer",
        version="v1",
    )
    return execution_pb2.ExecutionCreateRequest(
        project=flows.PROJECT,
        domain=flows.DOMAIN,
        name=name,
        spec=execution_pb2.ExecutionSpec(launch_plan=plan),
        inputs=literal_map(**inputs),
    )


def test_register_and_launch_through_the_services_alone(services):
    flows.register(_Registrar(services), flows.serialize(flows.outer))
    woken: list[int] = []
    services.context.wakeups.listen(lambda: woken.append(1))

    created = services.executions.create_execution(_create("alone", x=5))
    assert created.id.name == "alone"
    assert woken == [1], "a new execution announces work for the engine workers"

    execution = services.executions.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
    assert execution.closure.phase == core_execution_pb2.WorkflowExecution.QUEUED
    assert execution.spec.launch_plan.name == "registry_flows.outer"
    assert execution.closure.workflow_id.name == "registry_flows.outer"
    data = services.executions.get_execution_data(
        execution_pb2.WorkflowExecutionGetDataRequest(id=created.id)
    )
    assert data.full_inputs == literal_map(x=5)
    listed = services.executions.list_executions(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=flows.PROJECT, domain=flows.DOMAIN), limit=10
        )
    )
    assert [e.id.name for e in listed.executions] == ["alone"]

    services.executions.terminate_execution(
        execution_pb2.ExecutionTerminateRequest(id=created.id, cause="stop")
    )
    aborting = services.executions.get_execution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
    assert aborting.closure.phase == core_execution_pb2.WorkflowExecution.ABORTING


def test_services_raise_roosts_own_errors_naming_what_is_at_fault(services):
    request = _create("twice")
    with pytest.raises(NotFound) as missing:
        services.executions.create_execution(request)
    assert missing.value.message == (
        f"launch plan '{flows.PROJECT}/{flows.DOMAIN}/registry_flows.outer@v1' is not registered"
    )

    flows.register(_Registrar(services), flows.serialize(flows.outer))
    services.executions.create_execution(request)
    with pytest.raises(AlreadyExists) as again:
        services.executions.create_execution(request)
    assert again.value.message == f"execution {flows.PROJECT}/{flows.DOMAIN}/twice already exists"

    with pytest.raises(InvalidArgument) as invalid:
        services.executions.create_execution(_create("Not_A_Name"))
    assert invalid.value.field == "execution name"
    assert invalid.value.message.startswith("execution name 'Not_A_Name' is not valid")


def test_an_ended_execution_refuses_termination_with_its_phase(services):
    flows.register(_Registrar(services), flows.serialize(flows.outer))
    created = services.executions.create_execution(_create("ended"))
    with services.context.db.begin() as session:
        row = session.query(models.Execution).filter_by(name="ended").one()
        row.phase = core_execution_pb2.WorkflowExecution.SUCCEEDED
    with pytest.raises(AlreadyInTerminalState) as ended:
        services.executions.terminate_execution(execution_pb2.ExecutionTerminateRequest(id=created.id))
    assert ended.value.current_phase == "SUCCEEDED"
