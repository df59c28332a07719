"""The cache of launched versions (:mod:`roost_admin.services.target_cache`): each version, by its whole
identifier, runs what it was registered with; a version registered after others is found; one not registered is
NOT_FOUND until it is; and the cache stays within its byte budget."""

from __future__ import annotations

import hashlib

import execution_flows as flows
import grpc
import registry_flows
from execution_support import DOMAIN, PROJECT, fails, lp_id, register_flows
from flyteidl.admin import execution_pb2, launch_plan_pb2, project_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, interface_pb2, literals_pb2

from roost_admin import blobs
from roost_admin.db import models
from roost_admin.services.state import load_state
from roost_admin.services.target_cache import Target, TargetCache

PAIR = "execution_flows.pair"
ADD_ONE = "execution_flows.add_one"


def register_pair(admin, *, y: int, version: str, project: str = PROJECT, domain: str = DOMAIN) -> None:
    """Register ``pair`` (its tasks, workflow and default launch plan) with ``y`` defaulting to ``y``."""
    serializer = registry_flows.serialize(flows.pair, version=version, project=project, domain=domain)
    plan = serializer.launch_plans[PAIR]
    plan.spec.default_inputs.parameters["y"].default.scalar.primitive.integer = y
    registry_flows.register(admin, serializer)


def launch_pair(admin, *, version: str, project: str = PROJECT, domain: str = DOMAIN):
    """Launch ``pair`` with x=1 (y left to the launch plan's default); the new execution's identifier."""
    plan = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=project, domain=domain, name=PAIR, version=version
    )
    inputs = literals_pb2.LiteralMap()
    inputs.literals["x"].scalar.primitive.integer = 1
    request = execution_pb2.ExecutionCreateRequest(
        project=project, domain=domain, spec=execution_pb2.ExecutionSpec(launch_plan=plan), inputs=inputs
    )
    return admin.CreateExecution(request).id


def default_y(admin, ident) -> int:
    """The ``y`` the execution got from its launch plan."""
    data = admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=ident))
    return data.full_inputs.literals["y"].scalar.primitive.integer


def ran_workflow(admin, ident) -> identifier_pb2.Identifier:
    """The workflow an execution's closure says it runs (the workflow row it was created with)."""
    closure = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident)).closure
    return closure.workflow_id


def closure_uri_of(app, ident) -> str:
    """Where the engine's saved state says the execution's compiled closure is."""
    with app.services.context.db.session() as session:
        row = session.query(models.Execution).filter_by(name=ident.name).one()
        state = load_state(session, row.id, ident.name)
    assert state is not None
    return state.closure_uri


def test_executions_of_a_version_share_one_closure_stored_by_its_content(app, admin):
    register_pair(admin, y=2, version="v1")
    first, second = launch_pair(admin, version="v1"), launch_pair(admin, version="v1")
    uri = closure_uri_of(app, first)
    assert closure_uri_of(app, second) == uri, "one blob for both"
    storage = app.services.context.storage
    data = storage.read(uri)
    prefix = app.settings.storage_prefix
    assert uri == f"{prefix}/closures/{PROJECT}/{DOMAIN}/{hashlib.sha256(data).hexdigest()}.pb"
    closure = compiler_pb2.CompiledWorkflowClosure.FromString(data)
    assert closure.primary.template.id.name == PAIR
    for ident in (first, second):
        data_prefix = blobs.execution_data_prefix(prefix, PROJECT, DOMAIN, ident.name)
        assert not storage.exists(f"{data_prefix}/closure.pb"), "no copy per execution"


def spec_uri_of(app, ident) -> str:
    """The execution's row's spec blob."""
    with app.services.context.db.session() as session:
        return session.query(models.Execution).filter_by(name=ident.name).one().spec_uri


def test_executions_launched_with_the_same_spec_share_one_blob_stored_by_its_content(app, admin):
    register_pair(admin, y=2, version="v1")
    first, second = launch_pair(admin, version="v1"), launch_pair(admin, version="v1")
    uri = spec_uri_of(app, first)
    assert spec_uri_of(app, second) == uri, "one blob for both"
    data = app.services.context.storage.read(uri)
    prefix = app.settings.storage_prefix
    assert uri == f"{prefix}/specs/{PROJECT}/{DOMAIN}/{hashlib.sha256(data).hexdigest()}.pb"
    labelled = _request_of(PAIR, "v1", x=1)
    labelled.spec.labels.values["team"] = "blue"
    third = admin.CreateExecution(labelled).id
    assert spec_uri_of(app, third) != uri, "another spec, another blob"
    for ident, team in ((first, ""), (second, ""), (third, "blue")):
        spec = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident)).spec
        assert spec.launch_plan.name == PAIR and spec.labels.values.get("team", "") == team
        data_prefix = blobs.execution_data_prefix(prefix, PROJECT, DOMAIN, ident.name)
        assert not app.services.context.storage.exists(f"{data_prefix}/spec.pb")


def test_a_version_registered_after_a_launch_is_found_and_each_runs_its_own(app, admin):
    register_pair(admin, y=2, version="v1")
    assert default_y(admin, launch_pair(admin, version="v1")) == 2
    assert fails(admin.CreateExecution, _request_of(PAIR, "v2")).code() == grpc.StatusCode.NOT_FOUND
    register_pair(admin, y=5, version="v2")
    assert default_y(admin, launch_pair(admin, version="v2")) == 5, "the new version, not the cached one"
    assert default_y(admin, launch_pair(admin, version="v1")) == 2, "the old version still runs its own"


def test_the_same_name_and_version_in_another_project_or_domain_runs_its_own(app, admin):
    admin.RegisterProject(
        project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="other", name="Other"))
    )
    register_pair(admin, y=2, version="v1")
    register_pair(admin, y=7, version="v1", project="other")
    register_pair(admin, y=9, version="v1", domain="staging")
    here = launch_pair(admin, version="v1")
    there = launch_pair(admin, version="v1", project="other")
    staging = launch_pair(admin, version="v1", domain="staging")
    assert [default_y(admin, ident) for ident in (here, there, staging)] == [2, 7, 9]
    assert default_y(admin, launch_pair(admin, version="v1")) == 2, "still its own after the others"
    assert [ran_workflow(admin, ident).project for ident in (here, there, staging)] == [
        PROJECT,
        "other",
        PROJECT,
    ]
    assert ran_workflow(admin, staging).domain == "staging"


def test_a_single_task_version_registered_after_a_launch_is_found(app, admin):
    register_flows(admin)
    first = admin.CreateExecution(_task_request("v1", x=1)).id
    assert fails(admin.CreateExecution, _task_request("v9", x=1)).code() == grpc.StatusCode.NOT_FOUND
    registry_flows.register(admin, registry_flows.serialize(flows.one, version="v9"))
    second = admin.CreateExecution(_task_request("v9", x=2)).id
    for ident, version in ((first, "v1"), (second, "v9")):
        spec = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=ident)).spec
        assert spec.launch_plan.version == version


def test_an_execution_of_a_cached_version_is_refused_for_an_archived_project(app, admin):
    register_flows(admin)
    admin.CreateExecution(_request_of("execution_flows.one", "v1", x=1))
    admin.UpdateProject(project_pb2.Project(id=PROJECT, name=PROJECT, state=project_pb2.Project.ARCHIVED))
    refused = fails(admin.CreateExecution, _request_of("execution_flows.one", "v1", x=1))
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.details() == (
        f"project '{PROJECT}' is archived; activate it before registering or launching"
    )


def test_the_cache_keeps_within_its_budget_and_drops_the_least_recently_used():
    targets = [_target(f"t{index}") for index in range(4)]
    size = targets[0].size
    cache = TargetCache(budget=3 * size)
    for index, target in enumerate(targets[:3]):
        cache.put(_id(index), target)
    assert cache.get(_id(0)) is targets[0]  # t0 is now the most recently used
    cache.put(_id(3), targets[3])
    assert len(cache) == 3
    assert cache.get(_id(1)) is None, "the least recently used went"
    assert [cache.get(_id(index)) for index in (0, 2, 3)] == [targets[0], targets[2], targets[3]]
    big = TargetCache(budget=size - 1)
    big.put(_id(0), targets[0])
    assert len(big) == 0, "a target larger than the whole budget is not kept"


def test_the_cache_tells_versions_projects_domains_and_kinds_apart():
    cache = TargetCache()
    kept = _target("kept")
    cache.put(_id(1), kept)
    assert cache.get(_id(1)) is kept
    for other in (
        _id(1, version="v2"),
        _id(1, project="other"),
        _id(1, domain="staging"),
        _id(1, resource_type=identifier_pb2.TASK),
        _id(2),
    ):
        assert cache.get(other) is None, other


def _id(
    index: int,
    *,
    project: str = PROJECT,
    domain: str = DOMAIN,
    version: str = "v1",
    resource_type: int = identifier_pb2.LAUNCH_PLAN,
) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=resource_type, project=project, domain=domain, name=f"plan{index}", version=version
    )


def _target(name: str) -> Target:
    closure = compiler_pb2.CompiledWorkflowClosure()
    closure.primary.template.id.name = name.ljust(200, "x")
    return Target(
        what=name,
        closure=closure,
        expected=interface_pb2.ParameterMap(),
        fixed=literals_pb2.LiteralMap(),
        launch_plan=launch_plan_pb2.LaunchPlan(),
        launch_plan_id=1,
        workflow_id=1,
        task_id=None,
    )


def _request_of(name: str, version: str, **inputs: int) -> execution_pb2.ExecutionCreateRequest:
    request = execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        spec=execution_pb2.ExecutionSpec(launch_plan=lp_id(name.removeprefix("execution_flows."), version)),
    )
    for key, value in inputs.items():
        request.inputs.literals[key].scalar.primitive.integer = value
    return request


def _task_request(version: str, **inputs: int) -> execution_pb2.ExecutionCreateRequest:
    request = _request_of(ADD_ONE, version, **inputs)
    request.spec.launch_plan.resource_type = identifier_pb2.TASK
    return request
