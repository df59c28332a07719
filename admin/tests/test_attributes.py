"""Matchable attributes: the nine attribute RPCs and ListMatchableAttributes over a real socket (flyteadmin's
semantics and errors), and their application to new executions with Flyte's precedence (execution spec >
launch plan > workflow > project-domain > project > admin configuration), per kind, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attribute_flows
import grpc
import pytest
import registry_flows as flows
from conftest import make_settings
from execution_support import fails, literal, literal_map, outputs, running_admin, wait, wait_until
from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2, signal_pb2, task_pb2
from flyteidl.admin import matchable_resource_pb2 as mr
from flyteidl.admin import project_attributes_pb2 as pa
from flyteidl.admin import project_domain_attributes_pb2 as pda
from flyteidl.admin import workflow_attributes_pb2 as wa
from flyteidl.core import compiler_pb2, identifier_pb2, security_pb2, tasks_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from google.protobuf import json_format, wrappers_pb2

from roost_admin import blobs
from roost_admin.db import models
from roost_admin.db.base import Database
from roost_admin.db.migrate import upgrade
from roost_admin.errors import InvalidArgument
from roost_admin.services import ServiceContext, Services
from roost_admin.services.state import load_state
from roost_core.plugins import EnginePlugins
from roost_core.storage import build_storage

P, D = flows.PROJECT, flows.DOMAIN
Phase = core_execution_pb2.WorkflowExecution
WORKFLOW = "registry_flows.outer"


def _resources(**values: str) -> mr.MatchingAttributes:
    defaults = {k[:-8]: v for k, v in values.items() if k.endswith("_default")}
    limits = {k[:-6]: v for k, v in values.items() if k.endswith("_limit")}
    return mr.MatchingAttributes(
        task_resource_attributes=mr.TaskResourceAttributes(
            defaults=mr.TaskResourceSpec(**defaults), limits=mr.TaskResourceSpec(**limits)
        )
    )


def _update(target: Any, level: str, attributes: mr.MatchingAttributes, workflow: str = WORKFLOW) -> None:
    """Set ``attributes`` at ``level`` (project, domain, workflow) through a stub or the attributes service."""
    call = {
        "project": ("UpdateProjectAttributes", "update_project_attributes"),
        "domain": ("UpdateProjectDomainAttributes", "update_project_domain_attributes"),
        "workflow": ("UpdateWorkflowAttributes", "update_workflow_attributes"),
    }[level]
    if level == "project":
        request: Any = pa.ProjectAttributesUpdateRequest(
            attributes=pa.ProjectAttributes(project=P, matching_attributes=attributes)
        )
    elif level == "domain":
        request = pda.ProjectDomainAttributesUpdateRequest(
            attributes=pda.ProjectDomainAttributes(project=P, domain=D, matching_attributes=attributes)
        )
    else:
        request = wa.WorkflowAttributesUpdateRequest(
            attributes=wa.WorkflowAttributes(
                project=P, domain=D, workflow=workflow, matching_attributes=attributes
            )
        )
    if isinstance(target, Services):
        getattr(target.attributes, call[1])(request)
    else:
        getattr(target, call[0])(request)


def _delete(services: Services, level: str, kind: int) -> None:
    if level == "project":
        services.attributes.delete_project_attributes(
            pa.ProjectAttributesDeleteRequest(project=P, resource_type=kind)
        )
    elif level == "domain":
        services.attributes.delete_project_domain_attributes(
            pda.ProjectDomainAttributesDeleteRequest(project=P, domain=D, resource_type=kind)
        )
    else:
        services.attributes.delete_workflow_attributes(
            wa.WorkflowAttributesDeleteRequest(project=P, domain=D, workflow=WORKFLOW, resource_type=kind)
        )


# --------------------------------------------------------------------------------------------------
# The RPCs


def test_each_level_is_set_read_listed_and_deleted(app, admin):
    _update(admin, "project", _resources(cpu_default="1"))
    _update(admin, "domain", _resources(cpu_default="2"))
    _update(admin, "workflow", _resources(cpu_default="3"))

    got = admin.GetProjectAttributes(
        pa.ProjectAttributesGetRequest(project=P, resource_type=mr.TASK_RESOURCE)
    )
    assert got.attributes.project == P
    assert got.attributes.matching_attributes == _resources(cpu_default="1")
    got_pd = admin.GetProjectDomainAttributes(
        pda.ProjectDomainAttributesGetRequest(project=P, domain=D, resource_type=mr.TASK_RESOURCE)
    )
    assert (got_pd.attributes.domain, got_pd.attributes.matching_attributes) == (
        D,
        _resources(cpu_default="2"),
    )
    got_wf = admin.GetWorkflowAttributes(
        wa.WorkflowAttributesGetRequest(
            project=P, domain=D, workflow=WORKFLOW, resource_type=mr.TASK_RESOURCE
        )
    )
    assert (got_wf.attributes.workflow, got_wf.attributes.matching_attributes) == (
        WORKFLOW,
        _resources(cpu_default="3"),
    )

    listed = admin.ListMatchableAttributes(mr.ListMatchableAttributesRequest(resource_type=mr.TASK_RESOURCE))
    assert [
        (c.project, c.domain, c.workflow, c.attributes.task_resource_attributes.defaults.cpu)
        for c in listed.configurations
    ] == [(P, "", "", "1"), (P, D, "", "2"), (P, D, WORKFLOW, "3")]
    assert not admin.ListMatchableAttributes(
        mr.ListMatchableAttributesRequest(resource_type=mr.EXECUTION_QUEUE)
    ).configurations

    # An update replaces the scope's attribute of that kind.
    _update(admin, "domain", _resources(memory_default="1Gi"))
    got_pd = admin.GetProjectDomainAttributes(
        pda.ProjectDomainAttributesGetRequest(project=P, domain=D, resource_type=mr.TASK_RESOURCE)
    )
    assert got_pd.attributes.matching_attributes == _resources(memory_default="1Gi")

    admin.DeleteWorkflowAttributes(
        wa.WorkflowAttributesDeleteRequest(
            project=P, domain=D, workflow=WORKFLOW, resource_type=mr.TASK_RESOURCE
        )
    )
    error = fails(
        admin.GetWorkflowAttributes,
        wa.WorkflowAttributesGetRequest(
            project=P, domain=D, workflow=WORKFLOW, resource_type=mr.TASK_RESOURCE
        ),
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        f"workflow '{WORKFLOW}' in project '{P}' domain '{D}' has no TASK_RESOURCE attributes",
    )
    admin.DeleteProjectDomainAttributes(
        pda.ProjectDomainAttributesDeleteRequest(project=P, domain=D, resource_type=mr.TASK_RESOURCE)
    )
    admin.DeleteProjectAttributes(
        pa.ProjectAttributesDeleteRequest(project=P, resource_type=mr.TASK_RESOURCE)
    )
    error = fails(
        admin.DeleteProjectAttributes,
        pa.ProjectAttributesDeleteRequest(project=P, resource_type=mr.TASK_RESOURCE),
    )
    assert (error.code(), error.details()) == (
        grpc.StatusCode.NOT_FOUND,
        f"project '{P}' has no TASK_RESOURCE attributes",
    )


def test_plugin_overrides_are_merged_by_task_type(app, admin):
    def overrides(*pairs: tuple[str, str]) -> mr.MatchingAttributes:
        return mr.MatchingAttributes(
            plugin_overrides=mr.PluginOverrides(
                overrides=[mr.PluginOverride(task_type=t, plugin_id=[p]) for t, p in pairs]
            )
        )

    _update(admin, "domain", overrides(("python-task", "k8s-pod"), ("spark", "spark-local")))
    _update(admin, "domain", overrides(("python-task", "local-process")))
    got = admin.GetProjectDomainAttributes(
        pda.ProjectDomainAttributesGetRequest(project=P, domain=D, resource_type=mr.PLUGIN_OVERRIDE)
    )
    assert [
        (o.task_type, list(o.plugin_id))
        for o in got.attributes.matching_attributes.plugin_overrides.overrides
    ] == [
        ("python-task", ["local-process"]),
        ("spark", ["spark-local"]),
    ]


WHAT = "attributes.matching_attributes"


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        (mr.MatchingAttributes(), f"{WHAT} is required: one of task_resource_attributes, "),
        (
            _resources(memory_default="12Q"),
            f"{WHAT}.task_resource_attributes.defaults.memory '12Q' is not a valid quantity: ",
        ),
        (_resources(cpu_limit="-1"), f"{WHAT}.task_resource_attributes.limits.cpu '-1' is negative"),
        (
            _resources(cpu_default="4", cpu_limit="2"),
            f"{WHAT}.task_resource_attributes.defaults.cpu '4' exceeds {WHAT}.task_resource_attributes.limits.cpu '2'",
        ),
        (
            mr.MatchingAttributes(execution_cluster_label=mr.ExecutionClusterLabel()),
            f"{WHAT}.execution_cluster_label.value is required",
        ),
        (
            mr.MatchingAttributes(
                plugin_overrides=mr.PluginOverrides(overrides=[mr.PluginOverride(task_type="python-task")])
            ),
            f"{WHAT}.plugin_overrides.overrides[0].plugin_id needs at least one handler name, none empty",
        ),
        (
            mr.MatchingAttributes(workflow_execution_config=mr.WorkflowExecutionConfig(max_parallelism=-2)),
            f"{WHAT}.workflow_execution_config.max_parallelism -2 is negative",
        ),
        (
            mr.MatchingAttributes(cluster_assignment={"cluster_pool_name": ""}),
            f"{WHAT}.cluster_assignment.cluster_pool_name is required",
        ),
    ],
)
def test_bad_attributes_are_invalid_argument_naming_the_field(app, admin, attributes, message):
    error = fails(
        admin.UpdateProjectDomainAttributes,
        pda.ProjectDomainAttributesUpdateRequest(
            attributes=pda.ProjectDomainAttributes(project=P, domain=D, matching_attributes=attributes)
        ),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(message), error.details()
    assert not admin.ListMatchableAttributes(
        mr.ListMatchableAttributesRequest(resource_type=mr.TASK_RESOURCE)
    ).configurations, "nothing is stored"


@pytest.mark.parametrize(
    ("call", "request_", "code", "message"),
    [
        (
            "UpdateProjectDomainAttributes",
            pda.ProjectDomainAttributesUpdateRequest(),
            grpc.StatusCode.INVALID_ARGUMENT,
            "attributes is required",
        ),
        (
            "GetProjectDomainAttributes",
            pda.ProjectDomainAttributesGetRequest(project=P, resource_type=mr.TASK_RESOURCE),
            grpc.StatusCode.INVALID_ARGUMENT,
            "domain is required",
        ),
        (
            "GetWorkflowAttributes",
            wa.WorkflowAttributesGetRequest(project=P, domain=D, resource_type=mr.TASK_RESOURCE),
            grpc.StatusCode.INVALID_ARGUMENT,
            "workflow is required",
        ),
        (
            "GetProjectAttributes",
            pa.ProjectAttributesGetRequest(project="nowhere", resource_type=mr.TASK_RESOURCE),
            grpc.StatusCode.NOT_FOUND,
            "project 'nowhere' does not exist",
        ),
        (
            "UpdateProjectDomainAttributes",
            pda.ProjectDomainAttributesUpdateRequest(
                attributes=pda.ProjectDomainAttributes(
                    project=P, domain="moon", matching_attributes=_resources(cpu_default="1")
                )
            ),
            grpc.StatusCode.NOT_FOUND,
            "attributes domain 'moon' does not exist; domains: development, staging, production",
        ),
    ],
)
def test_bad_scopes_are_refused_naming_the_field(app, admin, call, request_, code, message):
    error = fails(getattr(admin, call), request_)
    assert error.code() == code
    assert error.details().startswith(message), error.details()


# --------------------------------------------------------------------------------------------------
# Application to new executions


@pytest.fixture
def services(tmp_path, database_url) -> Iterator[Services]:
    """The services alone on a fresh database, with registry_flows.outer registered."""
    settings = make_settings(
        tmp_path, database_url, task_resources={"defaults": {"memory": "100Mi"}, "limits": {"cpu": "8"}}
    )
    db = Database(settings.database_url)
    upgrade(db)
    storage = build_storage(
        EnginePlugins(), {"file": {"url_base": "http://nowhere/data", "signing_key": b"k"}}
    )
    built = Services(ServiceContext(settings=settings, db=db, storage=storage))
    built.projects.ensure_defaults()

    class Registrar:
        CreateTask = built.registry.create_task
        CreateWorkflow = built.registry.create_workflow
        CreateLaunchPlan = built.registry.create_launch_plan

    flows.register(Registrar(), flows.serialize(flows.outer))
    try:
        yield built
    finally:
        db.dispose()


_COUNTER = iter(range(10_000))


def _launch(
    services: Services, plan_name: str = WORKFLOW, **spec: Any
) -> tuple[execution_pb2.ExecutionSpec, dict[str, Any], Any]:
    """Create an execution of registry_flows.outer; its stored spec, engine options and closure."""
    name = f"e{next(_COUNTER)}"
    plan = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=P, domain=D, name=plan_name, version="v1"
    )
    services.executions.create_execution(
        execution_pb2.ExecutionCreateRequest(
            project=P,
            domain=D,
            name=name,
            spec=execution_pb2.ExecutionSpec(launch_plan=plan, **spec),
            inputs=literal_map(x=1),
        )
    )
    execution = services.executions.get_execution(
        execution_pb2.WorkflowExecutionGetRequest(
            id=identifier_pb2.WorkflowExecutionIdentifier(project=P, domain=D, name=name)
        )
    )
    with services.context.db.session() as session:
        row = session.query(models.Execution).filter_by(name=name).one()
        state = load_state(session, row.id, name)
    assert state is not None
    closure = services.context.storage.read_proto(state.closure_uri, compiler_pb2.CompiledWorkflowClosure)
    return execution.spec, state.options, closure


def _task_resources(closure: Any) -> dict[str, dict[str, str]]:
    """The requests and limits of the closure's add_one task."""
    (template,) = [t.template for t in closure.tasks if t.template.id.name.endswith("add_one")]
    resources = template.container.resources
    names = tasks_pb2.Resources.ResourceName.Name
    return {
        "requests": {names(e.name).lower(): e.value for e in resources.requests},
        "limits": {names(e.name).lower(): e.value for e in resources.limits},
    }


# Each kind: an attribute value for a level, and how to read what an execution got.
KINDS: dict[int, tuple[Any, Any]] = {
    mr.TASK_RESOURCE: (
        lambda v: _resources(cpu_default=v),
        lambda spec, options, closure: _task_resources(closure)["requests"].get("cpu"),
    ),
    mr.CLUSTER_RESOURCE: (
        lambda v: mr.MatchingAttributes(
            cluster_resource_attributes=mr.ClusterResourceAttributes(attributes={"q": v})
        ),
        None,
    ),
    mr.EXECUTION_QUEUE: (
        lambda v: mr.MatchingAttributes(execution_queue_attributes=mr.ExecutionQueueAttributes(tags=[v])),
        None,
    ),
    mr.EXECUTION_CLUSTER_LABEL: (
        lambda v: mr.MatchingAttributes(execution_cluster_label=mr.ExecutionClusterLabel(value=v)),
        lambda spec, options, closure: spec.execution_cluster_label.value or None,
    ),
    mr.QUALITY_OF_SERVICE_SPECIFICATION: (
        lambda v: mr.MatchingAttributes(quality_of_service={"tier": int(v)}),
        lambda spec, options, closure: (
            str(spec.quality_of_service.tier) if spec.HasField("quality_of_service") else None
        ),
    ),
    mr.PLUGIN_OVERRIDE: (
        lambda v: mr.MatchingAttributes(
            plugin_overrides=mr.PluginOverrides(
                overrides=[mr.PluginOverride(task_type="python-task", plugin_id=[v])]
            )
        ),
        lambda spec, options, closure: (options["task_handlers"].get("python-task") or [None])[0],
    ),
    mr.WORKFLOW_EXECUTION_CONFIG: (
        lambda v: mr.MatchingAttributes(
            workflow_execution_config=mr.WorkflowExecutionConfig(max_parallelism=int(v))
        ),
        lambda spec, options, closure: (
            str(options["max_parallelism"]) if options["max_parallelism"] else None
        ),
    ),
    mr.CLUSTER_ASSIGNMENT: (
        lambda v: mr.MatchingAttributes(cluster_assignment={"cluster_pool_name": v}),
        lambda spec, options, closure: spec.cluster_assignment.cluster_pool_name or None,
    ),
}


def _recorded(services: Services, kind: int) -> str | None:
    """Which scope's attribute of ``kind`` the last execution recorded (``attributes.pb``)."""
    with services.context.db.session() as session:
        row = session.query(models.Execution).order_by(models.Execution.id.desc()).first()
        assert row is not None
        uri = services.context.storage.join(row.inputs_uri.rsplit("/", 1)[0], blobs.ATTRIBUTES)
    if not services.context.storage.exists(uri):
        return None
    record = services.context.storage.read_proto(uri, mr.ListMatchableAttributesResponse)
    for configuration in record.configurations:
        if configuration.attributes.WhichOneof("target") == KINDS_FIELD[kind]:
            return "workflow" if configuration.workflow else "domain" if configuration.domain else "project"
    return None


KINDS_FIELD = {
    mr.TASK_RESOURCE: "task_resource_attributes",
    mr.CLUSTER_RESOURCE: "cluster_resource_attributes",
    mr.EXECUTION_QUEUE: "execution_queue_attributes",
    mr.EXECUTION_CLUSTER_LABEL: "execution_cluster_label",
    mr.QUALITY_OF_SERVICE_SPECIFICATION: "quality_of_service",
    mr.PLUGIN_OVERRIDE: "plugin_overrides",
    mr.WORKFLOW_EXECUTION_CONFIG: "workflow_execution_config",
    mr.CLUSTER_ASSIGNMENT: "cluster_assignment",
}


@pytest.mark.parametrize("kind", list(KINDS), ids=[mr.MatchableResource.Name(k) for k in KINDS])
def test_the_most_specific_level_wins_and_is_recorded(services, kind):
    make, read = KINDS[kind]
    values = {"project": "1", "domain": "2", "workflow": "3"}
    for level, value in values.items():
        _update(services, level, make(value))
    _update(services, "workflow", make("9"), workflow="some.other.workflow")
    for level in ("workflow", "domain", "project"):
        spec, options, closure = _launch(services)
        assert _recorded(services, kind) == level
        if read is not None:
            assert read(spec, options, closure) == values[level], level
        _delete(services, level, kind)
    spec, options, closure = _launch(services)
    assert _recorded(services, kind) is None
    if read is not None and kind != mr.TASK_RESOURCE:
        assert read(spec, options, closure) is None


def test_task_resources_fill_what_the_task_leaves_unset_and_are_capped(services):
    # The admin's configuration alone: memory 100Mi requested, cpu capped at 8.
    _spec, _options, closure = _launch(services)
    assert _task_resources(closure) == {"requests": {"memory": "100Mi"}, "limits": {"memory": "100Mi"}}

    _update(services, "domain", _resources(cpu_default="500m", cpu_limit="1", memory_limit="64Mi"))
    _spec, _options, closure = _launch(services)
    # cpu from the attribute; memory's default from the configuration, lowered to the attribute's limit.
    assert _task_resources(closure) == {
        "requests": {"cpu": "500m", "memory": "64Mi"},
        "limits": {"cpu": "500m", "memory": "64Mi"},
    }


def _pod_task(services: Services, name: str, containers: list[dict[str, Any]]) -> identifier_pb2.Identifier:
    """Register registry_flows' add_one as a pod task (a ``k8s_pod`` target, flytekit's sidecar task) whose
    primary container is the first of ``containers``."""
    request = flows.task_requests(flows.serialize(flows.inner))[0]
    template = request.spec.template
    template.ClearField("container")
    template.type = "sidecar"
    template.task_type_version = 2
    template.config["primary_container_name"] = containers[0]["name"]
    json_format.ParseDict({"containers": containers}, template.k8s_pod.pod_spec)
    template.id.name = request.id.name = name
    services.registry.create_task(task_pb2.TaskCreateRequest(id=request.id, spec=request.spec))
    return request.id


def _run_task(services: Services, task: identifier_pb2.Identifier) -> str:
    name = f"e{next(_COUNTER)}"
    services.executions.create_execution(
        execution_pb2.ExecutionCreateRequest(
            project=P,
            domain=D,
            name=name,
            spec=execution_pb2.ExecutionSpec(launch_plan=task),
            inputs=literal_map(x=1),
        )
    )
    return name


def _pod_containers(services: Services, name: str) -> dict[str, Any]:
    """The resources of each container of the pod task in the closure stored for execution ``name``."""
    with services.context.db.session() as session:
        row = session.query(models.Execution).filter_by(name=name).one()
        state = load_state(session, row.id, name)
    assert state is not None
    closure = services.context.storage.read_proto(state.closure_uri, compiler_pb2.CompiledWorkflowClosure)
    (compiled,) = closure.tasks
    spec = json_format.MessageToDict(compiled.template.k8s_pod.pod_spec)
    return {c["name"]: c.get("resources", {}) for c in spec["containers"]}


def test_a_pod_tasks_primary_container_gets_the_task_resources_and_its_sidecars_stay_within_limits(services):
    task = _pod_task(
        services,
        "pod_add_one",
        [
            {"name": "primary", "image": "img", "resources": {"requests": {"cpu": "4"}}},
            {"name": "sidecar", "image": "side", "resources": {"requests": {"memory": "1Gi"}}},
            {"name": "idle", "image": "side"},
        ],
    )
    _update(services, "project", _resources(cpu_default="500m", memory_default="256Mi", memory_limit="512Mi"))
    _update(services, "domain", _resources(cpu_limit="2"))
    # The domain's attribute matches (cpu limit 2); unset values come from the configuration (memory 100Mi).
    containers = _pod_containers(services, _run_task(services, task))
    assert containers == {
        "primary": {"requests": {"cpu": "2", "memory": "100Mi"}, "limits": {"cpu": "2", "memory": "100Mi"}},
        "sidecar": {"requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}},
        "idle": {},
    }
    _update(services, "domain", _resources(cpu_limit="2", memory_default="256Mi", memory_limit="512Mi"))
    containers = _pod_containers(services, _run_task(services, task))
    assert containers["primary"] == {
        "requests": {"cpu": "2", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "256Mi"},
    }
    assert containers["sidecar"] == {"requests": {"memory": "512Mi"}, "limits": {"memory": "512Mi"}}


def test_a_pod_task_with_an_invalid_quantity_is_refused_naming_it_and_nothing_is_created(services):
    task = _pod_task(
        services, "pod_bad", [{"name": "main", "image": "img", "resources": {"limits": {"memory": "lots"}}}]
    )
    with pytest.raises(InvalidArgument) as info:
        _run_task(services, task)
    assert str(info.value) == (
        "task 'pod_bad' k8s_pod.pod_spec.containers[0] ('main').resources.limits.memory 'lots' is not a valid "
        "quantity: quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got 'lots'"
    )
    with services.context.db.session() as session:
        assert session.query(models.Execution).count() == 0


def test_the_execution_spec_and_launch_plan_beat_every_attribute(services):
    config = mr.WorkflowExecutionConfig(
        max_parallelism=7,
        raw_output_data_config=common_pb2.RawOutputDataConfig(output_location_prefix="file:///attr"),
        labels=common_pb2.Labels(values={"from": "attribute"}),
        annotations=common_pb2.Annotations(values={"a": "attribute"}),
        interruptible=wrappers_pb2.BoolValue(value=True),
        overwrite_cache=True,
        envs=common_pb2.Envs(values=[{"key": "WHO", "value": "attribute"}]),
        security_context=security_pb2.SecurityContext(
            run_as=security_pb2.Identity(k8s_service_account="attr")
        ),
    )
    _update(services, "workflow", mr.MatchingAttributes(workflow_execution_config=config))
    spec, options, _closure = _launch(services)
    assert (options["max_parallelism"], options["interruptible"], options["overwrite_cache"]) == (
        7,
        True,
        True,
    )
    assert (options["labels"], options["annotations"], options["environment"]) == (
        {"from": "attribute"},
        {"a": "attribute"},
        {"WHO": "attribute"},
    )
    assert spec.raw_output_data_config.output_location_prefix == "file:///attr"
    assert spec.security_context.run_as.k8s_service_account == "attr"

    spec, options, _closure = _launch(
        services,
        max_parallelism=2,
        labels=common_pb2.Labels(values={"from": "request"}),
        envs=common_pb2.Envs(values=[{"key": "WHO", "value": "request"}]),
        interruptible=wrappers_pb2.BoolValue(value=False),
    )
    assert (options["max_parallelism"], options["interruptible"]) == (2, False)
    assert (options["labels"], options["environment"]) == ({"from": "request"}, {"WHO": "request"})
    assert options["annotations"] == {"a": "attribute"}, "what the request leaves unset still comes from it"


def test_a_launch_plans_settings_beat_the_attributes(services):
    _update(
        services,
        "domain",
        mr.MatchingAttributes(
            workflow_execution_config=mr.WorkflowExecutionConfig(
                max_parallelism=7,
                labels=common_pb2.Labels(values={"from": "attribute"}),
                annotations=common_pb2.Annotations(values={"a": "attribute"}),
            )
        ),
    )
    named = launch_plan_pb2.LaunchPlan()
    named.CopyFrom(flows.serialize(flows.outer).launch_plans[WORKFLOW])
    named.id.name = "attr.lp"
    named.spec.max_parallelism = 3
    named.spec.labels.values["from"] = "launch plan"
    services.registry.create_launch_plan(flows.launch_plan_request(named))
    _spec, options, _closure = _launch(services, plan_name="attr.lp")
    assert (options["max_parallelism"], options["labels"]) == (3, {"from": "launch plan"})
    assert options["annotations"] == {"a": "attribute"}


# --------------------------------------------------------------------------------------------------
# What a task's process gets


def _register_reported(admin: Any) -> None:
    flows.register(admin, flows.serialize(attribute_flows.reported, attribute_flows.gated_report))


def _start(admin: Any, name: str, x: int) -> identifier_pb2.WorkflowExecutionIdentifier:
    plan = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project=P, domain=D, name=name, version="v1"
    )
    request = execution_pb2.ExecutionCreateRequest(
        project=P, domain=D, spec=execution_pb2.ExecutionSpec(launch_plan=plan), inputs=literal_map(x=x)
    )
    return admin.CreateExecution(request).id


def _waiting(signals: Any, ident: Any) -> list[signal_pb2.Signal]:
    listed = signals.ListSignals(signal_pb2.SignalListRequest(workflow_execution_id=ident, limit=10))
    return list(listed.signals)


def _reported(admin: Any, ident: Any) -> dict[str, Any]:
    execution = wait(admin, ident)
    assert execution.closure.phase == Phase.SUCCEEDED, execution.closure.error.message
    return json.loads(outputs(admin, ident)["o0"])


def test_task_resource_defaults_reach_the_task_process_and_a_later_change_does_not(tmp_path, database_url):
    with running_admin(tmp_path, database_url, register=False) as (_, admin, signals):
        _register_reported(admin)
        _update(
            admin,
            "workflow",
            _resources(cpu_default="250m", memory_default="64Mi", memory_limit="128Mi"),
            workflow="attribute_flows.gated_report",
        )
        _update(
            admin,
            "domain",
            mr.MatchingAttributes(
                workflow_execution_config=mr.WorkflowExecutionConfig(
                    envs=common_pb2.Envs(values=[{"key": "WHO", "value": "domain"}])
                )
            ),
        )
        ident = _start(admin, "attribute_flows.gated_report", x=1)
        (gate,) = wait_until(lambda: _waiting(signals, ident), what="the gate's signal")
        # Changed while the execution runs: only later executions see it.
        _update(admin, "workflow", _resources(cpu_default="2"), workflow="attribute_flows.gated_report")
        _update(
            admin,
            "domain",
            mr.MatchingAttributes(
                workflow_execution_config=mr.WorkflowExecutionConfig(
                    envs=common_pb2.Envs(values=[{"key": "WHO", "value": "changed"}])
                )
            ),
        )
        signals.SetSignal(signal_pb2.SignalSetRequest(id=gate.id, value=literal(True)))
        assert _reported(admin, ident) == {
            "ROOST_CPU_LIMIT": "250m",
            "ROOST_CPU_REQUEST": "250m",
            "ROOST_MEMORY_LIMIT": "64Mi",
            "ROOST_MEMORY_REQUEST": "64Mi",
            "WHO": "domain",
            "x": 2,
        }
        later = _start(admin, "attribute_flows.reported", x=2)
        assert _reported(admin, later) == {"WHO": "changed", "x": 2}, "the workflow attribute is another's"


def test_the_tasks_a_dynamic_node_generates_get_the_executions_task_resources(tmp_path, database_url):
    with running_admin(tmp_path, database_url, register=False) as (_, admin, _signals):
        flows.register(admin, flows.serialize(attribute_flows.generated_report))
        # report_big requests 2 CPUs: the limit lowers it; its memory comes from the default.
        _update(admin, "project", _resources(memory_default="64Mi", cpu_limit="1"))
        ident = _start(admin, "attribute_flows.generated_report", x=1)
        assert _reported(admin, ident) == {
            "ROOST_CPU_LIMIT": "1",
            "ROOST_CPU_REQUEST": "1",
            "ROOST_MEMORY_LIMIT": "64Mi",
            "ROOST_MEMORY_REQUEST": "64Mi",
            "WHO": "",
            "x": 1,
        }


def test_a_plugin_override_naming_no_installed_handler_fails_the_task_unless_it_falls_back(
    tmp_path, database_url
):
    with running_admin(tmp_path, database_url, register=False) as (_, admin, _signals):
        _register_reported(admin)

        def override(behavior: int) -> mr.MatchingAttributes:
            return mr.MatchingAttributes(
                plugin_overrides=mr.PluginOverrides(
                    overrides=[
                        mr.PluginOverride(
                            task_type="python-task", plugin_id=["gpu-farm"], missing_plugin_behavior=behavior
                        )
                    ]
                )
            )

        _update(admin, "project", override(mr.PluginOverride.FAIL))
        failed = wait(admin, _start(admin, "attribute_flows.reported", x=1))
        assert failed.closure.phase == Phase.FAILED
        assert (
            "none of the handlers gpu-farm that the execution's plugin override names for task type "
            "'python-task' is installed and takes that type; installed handlers: "
        ) in failed.closure.error.message
        _update(admin, "project", override(mr.PluginOverride.USE_DEFAULT))
        assert _reported(admin, _start(admin, "attribute_flows.reported", x=3))["x"] == 3
