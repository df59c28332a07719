"""The HTTP/JSON API: every ``/api/v1/`` route answers what its gRPC method answers for the same request (on real
executions), errors as grpc-gateway writes them, pagination, protobuf bodies, the OpenAPI document, and live
phases over server-sent events while an execution runs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import grpc
import httpx
import pytest
from auth_support import grant, token
from conftest import DATABASES, fresh_database
from execution_support import (
    DOMAIN,
    PROJECT,
    VERSION,
    create_request,
    launch,
    literal_map,
    lp_id,
    running_admin,
    wait,
)
from flyteidl.admin import (
    common_pb2,
    description_entity_pb2,
    event_pb2,
    execution_pb2,
    launch_plan_pb2,
    matchable_resource_pb2,
    node_execution_pb2,
    project_attributes_pb2,
    project_domain_attributes_pb2,
    project_pb2,
    signal_pb2,
    task_execution_pb2,
    task_pb2,
    version_pb2,
    workflow_attributes_pb2,
    workflow_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2 as core_event_pb2
from flyteidl.service import admin_pb2_grpc, dataproxy_pb2
from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from roost_admin.api.bindings import Binding, bindings
from roost_admin.api.gateway import HTTP_STATUS
from roost_admin.auth.roles import Role

Phase = core_execution_pb2.WorkflowExecution
TASK = "execution_flows.add_one"
WORKFLOW = "execution_flows.one"
MR = matchable_resource_pb2


class World:
    """A running admin with workers, the flows registered, a succeeded and a failed execution."""

    def __init__(self, app: Any, admin: admin_pb2_grpc.AdminServiceStub, channel: grpc.Channel) -> None:
        self.app = app
        self.admin = admin
        self.channel = channel
        self.http = httpx.Client(base_url=app.http_url, timeout=30)
        self.done = launch(admin, "one", name="done", x=3)
        self.failed = launch(admin, "failing", name="broken", x=1)
        wait(admin, self.done)
        wait(admin, self.failed)
        nodes = admin.ListNodeExecutions(
            node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=self.done, limit=10)
        ).node_executions
        self.node = next(node.id for node in nodes if node.id.node_id not in ("start-node", "end-node"))
        tasks = admin.ListTaskExecutions(
            task_execution_pb2.TaskExecutionListRequest(node_execution_id=self.node, limit=10)
        ).task_executions
        self.task_execution = tasks[0].id

    def grpc(self, binding: Binding, request: Message) -> tuple[int, Any]:
        """(HTTP-like status, JSON) of calling the RPC over gRPC: the response, or grpc-gateway's error body."""
        output = GetMessageClass(binding.method.output_type)
        call = self.channel.unary_unary(
            binding.operation,
            request_serializer=type(request).SerializeToString,
            response_deserializer=output.FromString,
        )
        try:
            response = call(request, timeout=30)
        except grpc.RpcError as error:
            code = error.code()
            return HTTP_STATUS[code], {"code": code.value[0], "message": error.details()}
        return 200, as_json(response)

    def call(self, binding: Binding, request: Message) -> tuple[int, Any]:
        """(status, JSON) of the same request over HTTP, transcoded as a client of flyteadmin's gateway would."""
        path = binding.template
        for variable in binding.variables:
            path = path.replace("{" + variable + "}", quote(path_value(request, variable), safe=""))
        if binding.body:
            body = json_format.MessageToJson(request, preserving_proto_field_name=True)
            response = self.http.request(
                binding.verb, path, content=body, headers={"content-type": "application/json"}
            )
        else:
            params = [
                (k, v) for k, v in flatten(as_json(request, defaults=False)) if k not in binding.variables
            ]
            response = self.http.request(binding.verb, path, params=params)
        body = response.json()
        if response.status_code != 200:
            assert set(body) == {"code", "message", "details"}, body
            body = {"code": body["code"], "message": body["message"]}
        return response.status_code, body


def as_json(message: Message, defaults: bool = True) -> Any:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=defaults
    )


def path_value(message: Message, dotted: str) -> str:
    *parents, last = dotted.split(".")
    for part in parents:
        message = getattr(message, part)
    field = message.DESCRIPTOR.fields_by_name[last]
    value = getattr(message, last)
    return field.enum_type.values_by_number[value].name if field.enum_type is not None else str(value)


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from flatten(inner, f"{prefix}{key}.")
    elif isinstance(value, list):
        for item in value:
            yield from flatten(item, prefix)
    else:
        yield prefix.rstrip("."), json.dumps(value) if isinstance(value, bool) else str(value)


@pytest.fixture(scope="module", params=DATABASES)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("api")
    with (
        fresh_database(request.param, folder) as url,
        running_admin(folder, url) as (app, admin, _),
        grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel,
    ):
        world = World(app, admin, channel)
        yield world
        world.http.close()


def ident(kind: int, name: str, version: str = VERSION) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=kind, project=PROJECT, domain=DOMAIN, name=name, version=version
    )


def named(name: str = "") -> common_pb2.NamedEntityIdentifier:
    return common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN, name=name)


def cases(world: World) -> dict[tuple[str, str], Message]:
    """One request per route. Writes are ones that answer the same when repeated (registering identical content,
    setting a state it has) or that the admin refuses the same way each time."""
    done, node, task_execution = world.done, world.node, world.task_execution
    missing = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="nosuch")
    task = world.admin.GetTask(common_pb2.ObjectGetRequest(id=ident(identifier_pb2.TASK, TASK)))
    sort = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING)
    attributes = MR.MatchingAttributes(
        task_resource_attributes=MR.TaskResourceAttributes(defaults=MR.TaskResourceSpec(cpu="1"))
    )
    v1 = "/api/v1"
    return {
        ("POST", f"{v1}/tasks"): task_pb2.TaskCreateRequest(
            id=task.id, spec=task_pb2.TaskSpec(template=task.closure.compiled_task.template)
        ),
        (
            "GET",
            f"{v1}/tasks/{{id.project}}/{{id.domain}}/{{id.name}}/{{id.version}}",
        ): common_pb2.ObjectGetRequest(id=ident(identifier_pb2.TASK, TASK)),
        ("GET", f"{v1}/task_ids/{{project}}/{{domain}}"): common_pb2.NamedEntityIdentifierListRequest(
            project=PROJECT, domain=DOMAIN, limit=3, sort_by=common_pb2.Sort(key="name")
        ),
        ("GET", f"{v1}/tasks/{{id.project}}/{{id.domain}}/{{id.name}}"): common_pb2.ResourceListRequest(
            id=named(TASK), limit=5
        ),
        ("GET", f"{v1}/tasks/{{id.project}}/{{id.domain}}"): common_pb2.ResourceListRequest(
            id=named(), limit=2, sort_by=sort
        ),
        ("POST", f"{v1}/workflows"): workflow_pb2.WorkflowCreateRequest(
            id=ident(identifier_pb2.WORKFLOW, "no.spec")
        ),
        (
            "GET",
            f"{v1}/workflows/{{id.project}}/{{id.domain}}/{{id.name}}/{{id.version}}",
        ): common_pb2.ObjectGetRequest(id=ident(identifier_pb2.WORKFLOW, WORKFLOW)),
        ("GET", f"{v1}/workflow_ids/{{project}}/{{domain}}"): common_pb2.NamedEntityIdentifierListRequest(
            project=PROJECT, domain=DOMAIN, limit=100, filters="contains(name,one)"
        ),
        ("GET", f"{v1}/workflows/{{id.project}}/{{id.domain}}/{{id.name}}"): common_pb2.ResourceListRequest(
            id=named(WORKFLOW), limit=5
        ),
        ("GET", f"{v1}/workflows/{{id.project}}/{{id.domain}}"): common_pb2.ResourceListRequest(
            id=named(), limit=4
        ),
        ("POST", f"{v1}/launch_plans"): launch_plan_pb2.LaunchPlanCreateRequest(
            id=ident(identifier_pb2.LAUNCH_PLAN, "no.spec")
        ),
        (
            "GET",
            f"{v1}/launch_plans/{{id.project}}/{{id.domain}}/{{id.name}}/{{id.version}}",
        ): common_pb2.ObjectGetRequest(id=lp_id("one")),
        (
            "GET",
            f"{v1}/active_launch_plans/{{id.project}}/{{id.domain}}/{{id.name}}",
        ): launch_plan_pb2.ActiveLaunchPlanRequest(id=named("execution_flows.one_lp")),
        (
            "GET",
            f"{v1}/active_launch_plans/{{project}}/{{domain}}",
        ): launch_plan_pb2.ActiveLaunchPlanListRequest(project=PROJECT, domain=DOMAIN, limit=10),
        ("GET", f"{v1}/launch_plan_ids/{{project}}/{{domain}}"): common_pb2.NamedEntityIdentifierListRequest(
            project=PROJECT, domain=DOMAIN, limit=10
        ),
        (
            "GET",
            f"{v1}/launch_plans/{{id.project}}/{{id.domain}}/{{id.name}}",
        ): common_pb2.ResourceListRequest(id=named("execution_flows.one"), limit=5),
        ("GET", f"{v1}/launch_plans/{{id.project}}/{{id.domain}}"): common_pb2.ResourceListRequest(
            id=named(), limit=3, sort_by=sort
        ),
        (
            "PUT",
            f"{v1}/launch_plans/{{id.project}}/{{id.domain}}/{{id.name}}/{{id.version}}",
        ): launch_plan_pb2.LaunchPlanUpdateRequest(id=lp_id("one_lp"), state=launch_plan_pb2.ACTIVE),
        ("POST", f"{v1}/executions"): execution_pb2.ExecutionCreateRequest(
            project=PROJECT,
            domain=DOMAIN,
            name="done",
            spec=execution_pb2.ExecutionSpec(launch_plan=lp_id("one")),
            inputs=literal_map(x=3),
        ),
        ("POST", f"{v1}/executions/relaunch"): execution_pb2.ExecutionRelaunchRequest(
            id=missing, name="again"
        ),
        ("POST", f"{v1}/executions/recover"): execution_pb2.ExecutionRecoverRequest(id=missing, name="again"),
        (
            "GET",
            f"{v1}/executions/{{id.project}}/{{id.domain}}/{{id.name}}",
        ): execution_pb2.WorkflowExecutionGetRequest(id=done),
        (
            "PUT",
            f"{v1}/executions/{{id.project}}/{{id.domain}}/{{id.name}}",
        ): execution_pb2.ExecutionUpdateRequest(id=missing, state=execution_pb2.EXECUTION_ARCHIVED),
        (
            "GET",
            f"{v1}/data/executions/{{id.project}}/{{id.domain}}/{{id.name}}",
        ): execution_pb2.WorkflowExecutionGetDataRequest(id=done),
        ("GET", f"{v1}/executions/{{id.project}}/{{id.domain}}"): common_pb2.ResourceListRequest(
            id=named(), limit=10, filters="eq(phase,FAILED)", sort_by=sort
        ),
        (
            "DELETE",
            f"{v1}/executions/{{id.project}}/{{id.domain}}/{{id.name}}",
        ): execution_pb2.ExecutionTerminateRequest(id=done, cause="late"),
        (
            "GET",
            f"{v1}/node_executions/{{id.execution_id.project}}/{{id.execution_id.domain}}/{{id.execution_id.name}}/{{id.node_id}}",
        ): node_execution_pb2.NodeExecutionGetRequest(id=node),
        (
            "GET",
            f"{v1}/node_executions/{{id.execution_id.project}}/{{id.execution_id.domain}}/{{id.execution_id.name}}/{{id.node_id}}/dynamic_workflow",
        ): node_execution_pb2.GetDynamicNodeWorkflowRequest(id=node),
        (
            "GET",
            f"{v1}/node_executions/{{workflow_execution_id.project}}/{{workflow_execution_id.domain}}/{{workflow_execution_id.name}}",
        ): node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=done, limit=10),
        (
            "GET",
            f"{v1}/children/task_executions/{{task_execution_id.node_execution_id.execution_id.project}}/"
            "{task_execution_id.node_execution_id.execution_id.domain}/{task_execution_id.node_execution_id.execution_id.name}/"
            "{task_execution_id.node_execution_id.node_id}/{task_execution_id.task_id.project}/"
            "{task_execution_id.task_id.domain}/{task_execution_id.task_id.name}/{task_execution_id.task_id.version}/"
            "{task_execution_id.retry_attempt}",
        ): node_execution_pb2.NodeExecutionForTaskListRequest(task_execution_id=task_execution, limit=10),
        (
            "GET",
            f"{v1}/data/node_executions/{{id.execution_id.project}}/{{id.execution_id.domain}}/{{id.execution_id.name}}/{{id.node_id}}",
        ): node_execution_pb2.NodeExecutionGetDataRequest(id=node),
        ("POST", f"{v1}/projects"): project_pb2.ProjectRegisterRequest(
            project=project_pb2.Project(id=PROJECT, name=PROJECT)
        ),
        ("PUT", f"{v1}/projects/{{id}}"): project_pb2.Project(id=PROJECT, name=PROJECT),
        ("GET", f"{v1}/projects/{{id}}"): project_pb2.ProjectGetRequest(id=PROJECT),
        ("GET", f"{v1}/projects"): project_pb2.ProjectListRequest(),
        ("GET", f"{v1}/domains"): project_pb2.GetDomainRequest(),
        ("POST", f"{v1}/events/workflows"): event_pb2.WorkflowExecutionEventRequest(
            event=core_event_pb2.WorkflowExecutionEvent(execution_id=missing, phase=Phase.RUNNING)
        ),
        ("POST", f"{v1}/events/nodes"): event_pb2.NodeExecutionEventRequest(
            event=core_event_pb2.NodeExecutionEvent(
                id=identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=missing)
            )
        ),
        ("POST", f"{v1}/events/tasks"): event_pb2.TaskExecutionEventRequest(
            event=core_event_pb2.TaskExecutionEvent()
        ),
        (
            "GET",
            f"{v1}/task_executions/{{id.node_execution_id.execution_id.project}}/{{id.node_execution_id.execution_id.domain}}/"
            "{id.node_execution_id.execution_id.name}/{id.node_execution_id.node_id}/{id.task_id.project}/"
            "{id.task_id.domain}/{id.task_id.name}/{id.task_id.version}/{id.retry_attempt}",
        ): task_execution_pb2.TaskExecutionGetRequest(id=task_execution),
        (
            "GET",
            f"{v1}/task_executions/{{node_execution_id.execution_id.project}}/{{node_execution_id.execution_id.domain}}/{{node_execution_id.execution_id.name}}/{{node_execution_id.node_id}}",
        ): task_execution_pb2.TaskExecutionListRequest(node_execution_id=node, limit=10),
        (
            "GET",
            f"{v1}/data/task_executions/{{id.node_execution_id.execution_id.project}}/"
            "{id.node_execution_id.execution_id.domain}/{id.node_execution_id.execution_id.name}/"
            "{id.node_execution_id.node_id}/{id.task_id.project}/{id.task_id.domain}/{id.task_id.name}/"
            "{id.task_id.version}/{id.retry_attempt}",
        ): task_execution_pb2.TaskExecutionGetDataRequest(id=task_execution),
        (
            "PUT",
            f"{v1}/project_domain_attributes/{{attributes.project}}/{{attributes.domain}}",
        ): project_domain_attributes_pb2.ProjectDomainAttributesUpdateRequest(
            attributes=project_domain_attributes_pb2.ProjectDomainAttributes(
                project=PROJECT, domain=DOMAIN, matching_attributes=attributes
            )
        ),
        (
            "GET",
            f"{v1}/project_domain_attributes/{{project}}/{{domain}}",
        ): project_domain_attributes_pb2.ProjectDomainAttributesGetRequest(
            project=PROJECT, domain=DOMAIN, resource_type=MR.TASK_RESOURCE
        ),
        (
            "DELETE",
            f"{v1}/project_domain_attributes/{{project}}/{{domain}}",
        ): project_domain_attributes_pb2.ProjectDomainAttributesDeleteRequest(
            project=PROJECT, domain=DOMAIN, resource_type=MR.EXECUTION_QUEUE
        ),
        (
            "PUT",
            f"{v1}/project_attributes/{{attributes.project}}",
        ): project_attributes_pb2.ProjectAttributesUpdateRequest(
            attributes=project_attributes_pb2.ProjectAttributes(
                project=PROJECT, matching_attributes=attributes
            )
        ),
        ("GET", f"{v1}/project_attributes/{{project}}"): project_attributes_pb2.ProjectAttributesGetRequest(
            project=PROJECT, resource_type=MR.TASK_RESOURCE
        ),
        (
            "DELETE",
            f"{v1}/project_attributes/{{project}}",
        ): project_attributes_pb2.ProjectAttributesDeleteRequest(
            project=PROJECT, resource_type=MR.EXECUTION_QUEUE
        ),
        (
            "PUT",
            f"{v1}/workflow_attributes/{{attributes.project}}/{{attributes.domain}}/{{attributes.workflow}}",
        ): workflow_attributes_pb2.WorkflowAttributesUpdateRequest(
            attributes=workflow_attributes_pb2.WorkflowAttributes(
                project=PROJECT, domain=DOMAIN, workflow=WORKFLOW, matching_attributes=attributes
            )
        ),
        (
            "GET",
            f"{v1}/workflow_attributes/{{project}}/{{domain}}/{{workflow}}",
        ): workflow_attributes_pb2.WorkflowAttributesGetRequest(
            project=PROJECT, domain=DOMAIN, workflow=WORKFLOW, resource_type=MR.TASK_RESOURCE
        ),
        (
            "DELETE",
            f"{v1}/workflow_attributes/{{project}}/{{domain}}/{{workflow}}",
        ): workflow_attributes_pb2.WorkflowAttributesDeleteRequest(
            project=PROJECT, domain=DOMAIN, workflow=WORKFLOW, resource_type=MR.EXECUTION_QUEUE
        ),
        ("GET", f"{v1}/matchable_attributes"): MR.ListMatchableAttributesRequest(
            resource_type=MR.TASK_RESOURCE
        ),
        (
            "GET",
            f"{v1}/named_entities/{{resource_type}}/{{project}}/{{domain}}",
        ): common_pb2.NamedEntityListRequest(
            resource_type=identifier_pb2.WORKFLOW, project=PROJECT, domain=DOMAIN, limit=10
        ),
        (
            "GET",
            f"{v1}/named_entities/{{resource_type}}/{{id.project}}/{{id.domain}}/{{id.name}}",
        ): common_pb2.NamedEntityGetRequest(resource_type=identifier_pb2.WORKFLOW, id=named(WORKFLOW)),
        (
            "PUT",
            f"{v1}/named_entities/{{resource_type}}/{{id.project}}/{{id.domain}}/{{id.name}}",
        ): common_pb2.NamedEntityUpdateRequest(
            resource_type=identifier_pb2.WORKFLOW,
            id=named(WORKFLOW),
            metadata=common_pb2.NamedEntityMetadata(description="adds one"),
        ),
        ("GET", f"{v1}/version"): version_pb2.GetVersionRequest(),
        (
            "GET",
            f"{v1}/description_entities/{{id.resource_type}}/{{id.project}}/{{id.domain}}/{{id.name}}/{{id.version}}",
        ): common_pb2.ObjectGetRequest(id=ident(identifier_pb2.WORKFLOW, WORKFLOW)),
        (
            "GET",
            f"{v1}/description_entities/{{resource_type}}/{{id.project}}/{{id.domain}}/{{id.name}}",
        ): description_entity_pb2.DescriptionEntityListRequest(
            resource_type=identifier_pb2.WORKFLOW, id=named(WORKFLOW), limit=5
        ),
        (
            "GET",
            f"{v1}/description_entities/{{resource_type}}/{{id.project}}/{{id.domain}}",
        ): description_entity_pb2.DescriptionEntityListRequest(
            resource_type=identifier_pb2.TASK, id=named(), limit=5
        ),
        (
            "GET",
            f"{v1}/metrics/executions/{{id.project}}/{{id.domain}}/{{id.name}}",
        ): execution_pb2.WorkflowExecutionGetMetricsRequest(id=world.failed, depth=5),
        (
            "GET",
            f"{v1}/signals/{{workflow_execution_id.project}}/{{workflow_execution_id.domain}}/{{workflow_execution_id.name}}",
        ): signal_pb2.SignalListRequest(workflow_execution_id=done, limit=10),
        ("POST", f"{v1}/signals"): signal_pb2.SignalSetRequest(
            id=identifier_pb2.SignalIdentifier(signal_id="nosuch", execution_id=done)
        ),
        ("POST", f"{v1}/dataproxy/artifact_urn"): dataproxy_pb2.CreateUploadLocationRequest(
            project=PROJECT, domain=DOMAIN, filename="a.txt", content_md5=b"0123456789abcdef"
        ),
        ("GET", f"{v1}/dataproxy/artifact_urn"): dataproxy_pb2.CreateDownloadLocationRequest(
            native_url="s3://elsewhere/x"
        ),
        ("POST", f"{v1}/dataproxy/artifact_link"): dataproxy_pb2.CreateDownloadLinkRequest(
            artifact_type=dataproxy_pb2.ARTIFACT_TYPE_DECK, node_execution_id=node
        ),
        ("GET", f"{v1}/data"): dataproxy_pb2.GetDataRequest(
            flyte_url=f"flyte://v1/{PROJECT}/{DOMAIN}/done/{node.node_id}/o"
        ),
    }


def _unsigned(body: Any) -> Any:
    """An answer without what differs between two signings: the expiry and the signature over it.

    Signed locations carry them as fields (``signed_url``, ``expires_at``) and signed links as
    query parameters; two calls a second apart sign differently.
    """
    if isinstance(body, dict):
        return {
            key: _unsigned(value) for key, value in body.items() if key not in ("signed_url", "expires_at")
        }
    if isinstance(body, list):
        return [_unsigned(value) for value in body]
    if isinstance(body, str) and "signature=" in body:
        return re.sub(r"([?&])(expires|signature)=[^&]*", r"\1\2=", body)
    return body


def test_every_route_answers_as_its_grpc_method(world: World) -> None:
    table = cases(world)
    served = {(binding.verb, binding.template): binding for binding in bindings()}
    assert len(served) == 66
    assert set(table) == set(served), "every route has a case, and every case a route"
    statuses: dict[int, int] = {}
    for key, request in table.items():
        binding = served[key]
        over_http = world.call(binding, request)
        over_grpc = world.grpc(binding, request)
        over_http = (over_http[0], _unsigned(over_http[1]))
        over_grpc = (over_grpc[0], _unsigned(over_grpc[1]))
        assert over_http == over_grpc, f"{key}: HTTP answered {over_http}, gRPC {over_grpc}"
        statuses[over_http[0]] = statuses.get(over_http[0], 0) + 1
    # the table exercises both answers: responses and transcoded refusals
    assert statuses[200] > 40 and len(statuses) > 2


def test_a_bare_get_of_projects_lists_them_as_flyteadmin_does(world: World) -> None:
    response = world.http.get("/api/v1/projects")
    assert response.status_code == 200
    ids = [project["id"] for project in response.json()["projects"]]
    assert PROJECT in ids and response.json()["token"] == ""


def test_head_answers_as_get_without_a_body(world: World) -> None:
    get = world.http.get("/api/v1/projects")
    head = world.http.head("/api/v1/projects")
    assert (head.status_code, head.headers["content-type"]) == (200, get.headers["content-type"])
    assert head.content == b""
    missing = world.http.head(f"/api/v1/active_launch_plans/{PROJECT}/{DOMAIN}/no-such-plan")
    assert (
        missing.status_code
        == world.http.get(f"/api/v1/active_launch_plans/{PROJECT}/{DOMAIN}/no-such-plan").status_code
    )


def test_pages_carry_the_grpc_tokens(world: World) -> None:
    path = f"/api/v1/executions/{PROJECT}/{DOMAIN}"
    first = world.http.get(
        path, params={"limit": 1, "sort_by.key": "name", "sort_by.direction": "ASCENDING"}
    ).json()
    grpc_first = world.admin.ListExecutions(
        common_pb2.ResourceListRequest(id=named(), limit=1, sort_by=common_pb2.Sort(key="name", direction=1))
    )
    assert first["token"] == grpc_first.token != ""
    assert [e["id"]["name"] for e in first["executions"]] == ["broken"]
    second = world.http.get(
        path, params={"limit": 1, "token": first["token"], "sort_by.key": "name", "sort_by.direction": "1"}
    ).json()
    assert [e["id"]["name"] for e in second["executions"]] == ["done"]


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "message"),
    [
        (
            "GET",
            f"/api/v1/executions/{PROJECT}/{DOMAIN}",
            {"limit": "10", "colour": "red"},
            400,
            "the query string sets 'colour', but flyteidl.admin.ResourceListRequest has no field 'colour'",
        ),
        (
            "GET",
            f"/api/v1/executions/{PROJECT}/{DOMAIN}",
            {"limit": "ten"},
            400,
            "the query string sets 'limit' to 'ten': expected an integer",
        ),
        (
            "GET",
            f"/api/v1/executions/{PROJECT}/{DOMAIN}",
            {"limit": "10", "sort_by.direction": "SIDEWAYS"},
            400,
            "the query string sets 'sort_by.direction' to 'SIDEWAYS': not a flyteidl.admin.Sort.Direction "
            "(one of DESCENDING, ASCENDING)",
        ),
        (
            "GET",
            f"/api/v1/executions/{PROJECT}/{DOMAIN}",
            {"limit": "10", "id": "x"},
            400,
            "the query string sets 'id', a flyteidl.admin.NamedEntityIdentifier: set its fields instead (id.<field>=...)",
        ),
        (
            "GET",
            f"/api/v1/executions/{PROJECT}/{DOMAIN}",
            {"limit": "0"},
            400,
            "limit must be between 1 and 10000, not 0",
        ),
        (
            "GET",
            f"/api/v1/executions/{PROJECT}/{DOMAIN}/nosuch",
            {},
            404,
            f"execution {PROJECT}/{DOMAIN}/nosuch does not exist",
        ),
        (
            "GET",
            "/api/v1/named_entities/COLOUR/p/d",
            {},
            400,
            "the path sets 'resource_type' to 'COLOUR': not a flyteidl.core.ResourceType "
            "(one of UNSPECIFIED, TASK, WORKFLOW, LAUNCH_PLAN, DATASET)",
        ),
        (
            "POST",
            "/api/v1/executions?name=x",
            {},
            400,
            "POST /api/v1/executions takes its fields in the body, not the query string (it sets name)",
        ),
    ],
)
def test_bad_requests_answer_grpc_gateway_errors_naming_the_field(
    world: World, method: str, path: str, params: dict[str, str], status: int, message: str
) -> None:
    response = world.http.request(
        method, path, params=params or None, content=b"{}" if method == "POST" else None
    )
    assert response.status_code == status
    body = response.json()
    assert body["message"] == message
    assert body["code"] == {400: 3, 404: 5}[status] and body["details"] == []
    assert response.headers["x-request-id"]


def test_a_body_that_is_not_the_message_is_refused_naming_it(world: World) -> None:
    response = world.http.post("/api/v1/executions", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(
        "the request body is not a valid ExecutionCreateRequest in JSON: "
    )
    wrong = world.http.post("/api/v1/executions", json={"project": PROJECT, "colour": "red"})
    assert wrong.status_code == 400 and "colour" in wrong.json()["message"]
    assert world.http.patch(f"/api/v1/executions/{PROJECT}/{DOMAIN}/done").status_code == 405


def test_the_request_id_is_kept_and_an_event_after_the_end_carries_its_reason(world: World) -> None:
    event = core_event_pb2.WorkflowExecutionEvent(execution_id=world.done, phase=Phase.RUNNING)
    event.occurred_at.GetCurrentTime()
    response = world.http.post(
        "/api/v1/events/workflows",
        content=json_format.MessageToJson(event_pb2.WorkflowExecutionEventRequest(event=event)),
        headers={"x-request-id": "trace-1"},
    )
    assert response.status_code == 400 and response.headers["x-request-id"] == "trace-1"
    body = response.json()
    assert body["code"] == 9
    assert body["details"] == [
        {
            "@type": "type.googleapis.com/flyteidl.admin.EventFailureReason",
            "alreadyInTerminalState": {"currentPhase": "SUCCEEDED"},
        }
    ]


def test_protobuf_bodies_both_ways(world: World) -> None:
    request = execution_pb2.WorkflowExecutionGetRequest(id=world.done)
    response = world.http.get(
        f"/api/v1/executions/{PROJECT}/{DOMAIN}/done", headers={"accept": "application/octet-stream"}
    )
    assert response.headers["content-type"] == "application/octet-stream"
    assert execution_pb2.Execution.FromString(response.content) == world.admin.GetExecution(request)
    created = world.http.post(
        "/api/v1/executions",
        content=create_request("binary", "one", x=1).SerializeToString(),
        headers={"content-type": "application/octet-stream", "accept": "application/octet-stream"},
    )
    assert created.status_code == 200
    assert execution_pb2.ExecutionCreateResponse.FromString(created.content).id.name == "binary"
    wait(world.admin, execution_pb2.ExecutionCreateResponse.FromString(created.content).id)


def test_openapi_describes_every_route_and_its_references_resolve(world: World) -> None:
    document = world.http.get("/api/v1/openapi.json").json()
    assert document == world.http.get("/api/v1/openapi").json()
    assert document["openapi"] == "3.0.3"
    paths = document["paths"]
    for binding in bindings():
        operation = paths[binding.template][binding.verb.lower()]
        assert {p["name"] for p in operation["parameters"] if p["in"] == "path"} == set(binding.variables)
    assert "get" in paths["/api/v1/events/executions/{project}/{domain}/{name}"]
    listing = paths["/api/v1/executions/{id.project}/{id.domain}"]["get"]
    assert {"limit", "token", "filters", "sort_by.key", "sort_by.direction"} <= {
        p["name"] for p in listing["parameters"]
    }
    schemas = document["components"]["schemas"]
    text = json.dumps(document)
    for reference in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert reference in schemas, reference
    assert schemas["flyteidl.admin.ExecutionCreateRequest"]["properties"]["inputs"] == {
        "$ref": "#/components/schemas/flyteidl.core.LiteralMap"
    }


def read_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    kind = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: "):
            yield kind, json.loads(line[len("data: ") :])


def test_live_events_follow_an_execution_launched_over_http(world: World, tmp_path) -> None:
    release = tmp_path / "release"
    body = json_format.MessageToJson(create_request("watched", "slow", path=str(release), seconds=0.5, x=2))
    created = world.http.post("/api/v1/executions", content=body)
    assert created.status_code == 200 and created.json()["id"]["name"] == "watched"
    seen: list[tuple[str, str, str]] = []
    with world.http.stream("GET", f"/api/v1/events/executions/{PROJECT}/{DOMAIN}/watched") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for kind, data in read_events(stream):
            seen.append((kind, data.get("node_id", ""), data["phase"]))
            if kind == "end":
                break
    assert seen[-1] == ("end", "", "SUCCEEDED")
    execution_phases = [phase for kind, _, phase in seen if kind == "execution"]
    assert execution_phases[-1] == "SUCCEEDED" and len(execution_phases) >= 2
    task_node = [
        phase for kind, node, phase in seen if kind == "node" and node not in ("start-node", "end-node")
    ]
    assert "RUNNING" in task_node and task_node[-1] == "SUCCEEDED"
    final = world.admin.GetExecution(
        execution_pb2.WorkflowExecutionGetRequest(
            id=identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="watched")
        )
    )
    assert final.closure.phase == Phase.SUCCEEDED


def test_live_events_of_an_unknown_execution_are_a_404(world: World) -> None:
    response = world.http.get(f"/api/v1/events/executions/{PROJECT}/{DOMAIN}/nosuch")
    assert response.status_code == 404
    assert response.json()["message"] == f"execution {PROJECT}/{DOMAIN}/nosuch does not exist"


def test_an_ended_execution_streams_its_phases_then_ends(world: World) -> None:
    with world.http.stream("GET", f"/api/v1/events/executions/{PROJECT}/{DOMAIN}/broken") as stream:
        events = list(read_events(stream))
    assert events[0] == ("execution", {"phase": "FAILED", "updated_at": events[0][1]["updated_at"]})
    assert events[-1] == ("end", {"phase": "FAILED"})
    assert any(kind == "node" and data["phase"] == "FAILED" for kind, data in events)


@pytest.fixture
def auth_http(auth_app: Any) -> Iterator[httpx.Client]:
    """A client of the admin with auth on."""
    with httpx.Client(base_url=auth_app.http_url, timeout=30) as client:
        yield client


def test_with_auth_on_each_route_needs_its_operations_role(auth_app: Any, auth_http: httpx.Client) -> None:
    http = auth_http
    viewer = {"authorization": f"Bearer {token(auth_app, 'viewer')}"}
    grant(auth_app, "client", "viewer", PROJECT, Role.VIEWER)
    assert http.get("/api/v1/projects").status_code == 401
    projects = http.get("/api/v1/projects", headers=viewer).json()["projects"]
    assert [project["id"] for project in projects] == [PROJECT]  # ListProjects' rule shows only its projects
    assert http.get(f"/api/v1/executions/{PROJECT}/{DOMAIN}?limit=5", headers=viewer).status_code == 200
    other = http.get("/api/v1/executions/other/development?limit=5", headers=viewer)
    assert other.status_code == 403
    assert other.json() == {
        "code": 7,
        "message": "client 'viewer' may not call ListExecutions: it needs the viewer role on project 'other'",
        "details": [],
    }
    launch = http.post(
        "/api/v1/executions",
        headers=viewer,
        json={"project": PROJECT, "domain": DOMAIN, "spec": {"launch_plan": {"name": "x", "version": "v"}}},
    )
    assert launch.status_code == 403 and "needs the launcher role" in launch.json()["message"]
    stream = http.get(f"/api/v1/events/executions/other/{DOMAIN}/x", headers=viewer)
    assert (
        stream.status_code == 403 and "needs the viewer role on project 'other'" in stream.json()["message"]
    )
    assert http.get("/api/v1/openapi.json", headers=viewer).status_code == 200
