"""Listing tasks, workflows, launch plans, names and named entities: flyteadmin's filters, sort keys and tokens."""

from __future__ import annotations

import datetime

import grpc
import pytest
import registry_flows as flows
from flyteidl.admin import common_pb2, launch_plan_pb2
from flyteidl.core import identifier_pb2

VERSIONS = ["v1", "v2", "v3", "v4", "v5"]


def fails(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    return info.value


def scope(name: str = "") -> common_pb2.NamedEntityIdentifier:
    return common_pb2.NamedEntityIdentifier(project=flows.PROJECT, domain=flows.DOMAIN, name=name)


def sort(key: str, ascending: bool = False) -> common_pb2.Sort:
    return common_pb2.Sort(
        key=key, direction=common_pb2.Sort.ASCENDING if ascending else common_pb2.Sort.DESCENDING
    )


@pytest.fixture
def registered(admin):
    """inner (one task, one workflow, one default launch plan) registered under five versions, in order."""
    for version in VERSIONS:
        flows.register(admin, flows.serialize(flows.inner, version=version))
    return admin


def versions(listed) -> list[str]:
    return [entity.id.version for entity in listed]


def test_pages_follow_tokens_until_the_last(registered):
    admin = registered
    seen: list[str] = []
    tokens: list[str] = []
    token = ""
    while True:
        page = admin.ListTasks(
            common_pb2.ResourceListRequest(id=scope("registry_flows.add_one"), limit=2, token=token)
        )
        seen += versions(page.tasks)
        tokens.append(page.token)
        token = page.token
        if not token:
            break
    assert tokens == ["2", "4", ""]
    assert seen == list(reversed(VERSIONS))  # newest first by default


def test_the_latest_version_is_the_first_when_sorted_by_created_at(registered):
    # FlyteRemote's lookup of a workflow's latest version.
    page = registered.ListWorkflows(
        common_pb2.ResourceListRequest(id=scope("registry_flows.inner"), limit=1, sort_by=sort("created_at"))
    )
    assert versions(page.workflows) == ["v5"]
    assert page.token == "1"
    listed = page.workflows[0]
    assert listed.closure.compiled_workflow.primary.template.interface.inputs.variables["x"].type.simple
    assert not listed.closure.compiled_workflow.primary.template.nodes  # lists carry the interface only


def test_sort_keys_and_directions(registered):
    ascending = registered.ListLaunchPlans(
        common_pb2.ResourceListRequest(id=scope(), limit=10, sort_by=sort("version", ascending=True))
    )
    assert versions(ascending.launch_plans) == VERSIONS
    descending = registered.ListTasks(
        common_pb2.ResourceListRequest(id=scope(), limit=10, sort_by=sort("version"))
    )
    assert versions(descending.tasks) == list(reversed(VERSIONS))


FILTER_CASES = [
    ("eq(version,v2)", ["v2"]),
    ("ne(version,v2)", ["v1", "v3", "v4", "v5"]),
    ("gt(version,v3)", ["v4", "v5"]),
    ("gte(version,v3)", ["v3", "v4", "v5"]),
    ("lt(version,v3)", ["v1", "v2"]),
    ("lte(version,v3)", ["v1", "v2", "v3"]),
    ("contains(version,4)", ["v4"]),
    ("value_in(version,v1;v5)", ["v1", "v5"]),
    ("value_not_in(version,v1;v5)", ["v2", "v3", "v4"]),
    ("eq(task.name,registry_flows.add_one)+lt(version,v2)", ["v1"]),
    ("eq(type,python-task)+eq(version,v5)", ["v5"]),
]


def test_each_filter_function(registered):
    """One registration, every filter function (registering is the slow part)."""
    for filters, expected in FILTER_CASES:
        listed = registered.ListTasks(
            common_pb2.ResourceListRequest(
                id=scope(), limit=10, filters=filters, sort_by=sort("version", ascending=True)
            )
        )
        assert versions(listed.tasks) == expected, filters


def test_time_filters(registered):
    cutoff = registered.GetTask(
        common_pb2.ObjectGetRequest(
            id=identifier_pb2.Identifier(
                resource_type=identifier_pb2.TASK,
                project=flows.PROJECT,
                domain=flows.DOMAIN,
                name="registry_flows.add_one",
                version="v3",
            )
        )
    ).closure.created_at.ToDatetime(tzinfo=datetime.UTC)
    listed = registered.ListTasks(
        common_pb2.ResourceListRequest(
            id=scope(), limit=10, filters=f"gte(created_at,{cutoff.strftime('%Y-%m-%dT%H:%M:%S.%fZ')})"
        )
    )
    assert versions(listed.tasks) == ["v5", "v4", "v3"]


def test_launch_plan_filters_on_state_and_workflow(registered):
    admin = registered
    plan_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=flows.PROJECT,
        domain=flows.DOMAIN,
        name="registry_flows.inner",
        version="v2",
    )
    admin.UpdateLaunchPlan(launch_plan_pb2.LaunchPlanUpdateRequest(id=plan_id, state=launch_plan_pb2.ACTIVE))
    active = admin.ListLaunchPlans(
        common_pb2.ResourceListRequest(id=scope(), limit=10, filters="eq(state,1)")
    )
    assert versions(active.launch_plans) == ["v2"]
    by_workflow = admin.ListLaunchPlans(
        common_pb2.ResourceListRequest(id=scope(), limit=10, filters="eq(workflow.version,v4)")
    )
    assert versions(by_workflow.launch_plans) == ["v4"]
    assert (
        list(
            admin.ListLaunchPlans(
                common_pb2.ResourceListRequest(id=scope(), limit=10, filters="eq(schedule_type,cron)")
            ).launch_plans
        )
        == []
    )


def test_ids_list_each_name_once(registered):
    admin = registered
    flows.register(admin, flows.serialize(flows.outer))
    request = common_pb2.NamedEntityIdentifierListRequest(project=flows.PROJECT, domain=flows.DOMAIN, limit=1)
    names: list[str] = []
    while True:
        page = admin.ListTaskIds(request)
        names += [e.name for e in page.entities]
        if not page.token:
            break
        request.token = page.token
    assert names == ["registry_flows.add_one", "registry_flows.square"]
    workflows = admin.ListWorkflowIds(
        common_pb2.NamedEntityIdentifierListRequest(project=flows.PROJECT, domain=flows.DOMAIN, limit=10)
    )
    assert [e.name for e in workflows.entities] == ["registry_flows.inner", "registry_flows.outer"]
    plans = admin.ListLaunchPlanIds(
        common_pb2.NamedEntityIdentifierListRequest(
            project=flows.PROJECT, domain=flows.DOMAIN, limit=10, filters="contains(name,out)"
        )
    )
    assert [(e.project, e.domain, e.name) for e in plans.entities] == [
        (flows.PROJECT, flows.DOMAIN, "registry_flows.outer")
    ]


def test_named_entities_filter_on_name_description_and_state(registered):
    admin = registered
    flows.register(admin, flows.serialize(flows.outer))
    admin.UpdateNamedEntity(
        common_pb2.NamedEntityUpdateRequest(
            resource_type=identifier_pb2.WORKFLOW,
            id=scope("registry_flows.outer"),
            metadata=common_pb2.NamedEntityMetadata(
                description="outer", state=common_pb2.NAMED_ENTITY_ARCHIVED
            ),
        )
    )

    def names(limit: int = 10, **fields) -> list[str]:
        listed = admin.ListNamedEntities(
            common_pb2.NamedEntityListRequest(
                resource_type=identifier_pb2.WORKFLOW,
                project=flows.PROJECT,
                domain=flows.DOMAIN,
                limit=limit,
                **fields,
            )
        )
        return [e.id.name for e in listed.entities]

    assert names() == ["registry_flows.inner", "registry_flows.outer"]
    assert names(filters="eq(state,0)") == ["registry_flows.inner"]
    assert names(filters="eq(state,1)") == ["registry_flows.outer"]
    assert names(filters="contains(description,out)") == ["registry_flows.outer"]
    assert names(sort_by=sort("name")) == ["registry_flows.outer", "registry_flows.inner"]
    assert names(limit=1) == ["registry_flows.inner"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"limit": 0}, "limit must be between 1 and 10000, not 0"),
        ({"limit": 5, "token": "abc"}, "token 'abc' is not one this server gave out"),
        (
            {"limit": 5, "filters": "eq(version)"},
            "filter 'eq(version)' is not of the form function(field,value)",
        ),
        (
            {"limit": 5, "filters": "like(version,v1)"},
            "filter 'like(version,v1)': unknown function 'like'; known: eq, ne, gt, gte, lt, lte, contains, "
            "value_in, value_not_in",
        ),
        (
            {"limit": 5, "filters": "eq(colour,red)"},
            "tasks cannot be filtered by 'colour'; fields: created_at, domain, name, project, task.created_at, "
            "task.domain, task.name, task.project, task.type, task.version, type, version",
        ),
        (
            {"limit": 5, "sort_by": common_pb2.Sort(key="colour")},
            "tasks cannot be sorted by 'colour'; fields: created_at, domain, name, project, task.created_at, "
            "task.domain, task.name, task.project, task.type, task.version, type, version",
        ),
        (
            {"limit": 5, "filters": "gte(created_at,yesterday)"},
            "timestamp 'yesterday' must be RFC 3339 (2026-01-31T12:00:00Z)",
        ),
    ],
    ids=["limit", "token", "form", "function", "field", "sort", "time"],
)
def test_bad_list_requests_name_what_is_wrong(admin, fields, message):
    error = fails(admin.ListTasks, common_pb2.ResourceListRequest(id=scope(), **fields))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == message
