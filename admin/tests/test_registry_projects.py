"""Projects and domains, and the version the admin reports."""

from __future__ import annotations

import importlib.metadata

import grpc
import pytest
import registry_flows as flows
from flyteidl.admin import common_pb2, project_pb2, version_pb2

from roost_admin.app import AdminApp
from roost_admin.config import Settings

DOMAINS = [project_pb2.Domain(id=d, name=d) for d in ("development", "staging", "production")]


def fails(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    return info.value


def project(project_id: str, **fields) -> project_pb2.ProjectRegisterRequest:
    return project_pb2.ProjectRegisterRequest(
        project=project_pb2.Project(id=project_id, name=fields.pop("name", project_id.title()), **fields)
    )


def test_the_version_is_the_release_with_a_v_as_flyteadmin_reports_it(admin):
    version = admin.GetVersion(version_pb2.GetVersionRequest()).control_plane_version
    assert version.Version == f"v{importlib.metadata.version('roost-admin')}"
    assert version.Build == "roost"


def test_the_default_project_and_domains_exist(admin):
    assert list(admin.GetDomains(project_pb2.GetDomainRequest()).domains) == DOMAINS
    flytesnacks = admin.GetProject(project_pb2.ProjectGetRequest(id="flytesnacks"))
    assert flytesnacks == project_pb2.Project(
        id="flytesnacks", name="flytesnacks", domains=DOMAINS, labels=common_pb2.Labels()
    )


def test_default_projects_are_created_once_across_restarts(app: AdminApp):
    app.stop()
    again = AdminApp(Settings(**{**app.settings.model_dump(), "default_projects": ["flytesnacks", "other"]}))
    again.start(serve=False)
    try:
        with again.db.session() as session:
            from roost_admin.db.models import Project

            assert sorted(p.id for p in session.query(Project)) == ["flytesnacks", "other"]
    finally:
        again.stop()


def test_register_get_update_and_archive(admin):
    admin.RegisterProject(
        project("ml", description="models", labels=common_pb2.Labels(values={"team": "ml"}))
    )
    got = admin.GetProject(project_pb2.ProjectGetRequest(id="ml"))
    assert (got.name, got.description, dict(got.labels.values), list(got.domains)) == (
        "Ml",
        "models",
        {"team": "ml"},
        DOMAINS,
    )

    admin.UpdateProject(project_pb2.Project(id="ml", name="Machine learning", description="all models"))
    got = admin.GetProject(project_pb2.ProjectGetRequest(id="ml"))
    assert (got.name, got.description, dict(got.labels.values)) == (
        "Machine learning",
        "all models",
        {"team": "ml"},
    )

    admin.UpdateProject(project_pb2.Project(id="ml", state=project_pb2.Project.ARCHIVED))
    assert admin.GetProject(project_pb2.ProjectGetRequest(id="ml")).state == project_pb2.Project.ARCHIVED
    listed = admin.ListProjects(project_pb2.ProjectListRequest(limit=10))
    assert [p.id for p in listed.projects] == ["flytesnacks"]  # archived projects are left out by default
    archived = admin.ListProjects(project_pb2.ProjectListRequest(limit=10, filters="eq(state,1)"))
    assert [p.id for p in archived.projects] == ["ml"]

    serializer = flows.serialize(flows.inner, project="ml")
    error = fails(admin.CreateTask, flows.task_requests(serializer)[0])
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == "project 'ml' is archived; activate it before registering or launching"
    listed = admin.ListTasks(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project="ml", domain="development"), limit=5
        )
    )
    assert list(listed.tasks) == []  # an archived project can still be read

    admin.UpdateProject(project_pb2.Project(id="ml", state=project_pb2.Project.ACTIVE))
    flows.register(admin, serializer)


def test_projects_page_and_sort(admin):
    for name in ("alpha", "beta", "gamma"):
        admin.RegisterProject(project(name))
    first = admin.ListProjects(project_pb2.ProjectListRequest(limit=2))
    assert ([p.id for p in first.projects], first.token) == (["alpha", "beta"], "2")
    second = admin.ListProjects(project_pb2.ProjectListRequest(limit=2, token=first.token))
    assert ([p.id for p in second.projects], second.token) == (["flytesnacks", "gamma"], "")
    by_name = admin.ListProjects(
        project_pb2.ProjectListRequest(limit=10, sort_by=common_pb2.Sort(key="identifier", direction=0))
    )
    assert [p.id for p in by_name.projects] == ["gamma", "flytesnacks", "beta", "alpha"]
    named = admin.ListProjects(project_pb2.ProjectListRequest(limit=10, filters="contains(name,Gam)"))
    assert [p.id for p in named.projects] == ["gamma"]


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (project_pb2.ProjectRegisterRequest(), grpc.StatusCode.INVALID_ARGUMENT, "project is required"),
        (project("ml", name=""), grpc.StatusCode.INVALID_ARGUMENT, "project name is required"),
        (
            project("Machine_Learning"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "project id 'Machine_Learning' is not valid: use 1-63 lowercase letters, digits and '-'",
        ),
        (project("", name="x"), grpc.StatusCode.INVALID_ARGUMENT, "project id is required"),
        (
            project("ml", name="n" * 65),
            grpc.StatusCode.INVALID_ARGUMENT,
            "project name cannot exceed 64 characters",
        ),
        (
            project("ml", description="d" * 301),
            grpc.StatusCode.INVALID_ARGUMENT,
            "project description cannot exceed 300 characters",
        ),
        (
            project("ml", labels=common_pb2.Labels(values={f"k{i}": "v" for i in range(17)})),
            grpc.StatusCode.INVALID_ARGUMENT,
            "project labels cannot exceed 16 entries",
        ),
        (
            project("ml", domains=[project_pb2.Domain(id="qa", name="qa")]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "project domains are set for the whole server (settings.domains); leave them out",
        ),
        (project("flytesnacks"), grpc.StatusCode.ALREADY_EXISTS, "project 'flytesnacks' already exists"),
    ],
    ids=[
        "missing",
        "no-name",
        "bad-id",
        "no-id",
        "long-name",
        "long-description",
        "labels",
        "domains",
        "exists",
    ],
)
def test_bad_project_registrations(admin, request_, code, message):
    error = fails(admin.RegisterProject, request_)
    assert (error.code(), error.details()) == (code, message)


def test_unknown_projects(admin):
    error = fails(admin.GetProject, project_pb2.ProjectGetRequest(id="nope"))
    assert (error.code(), error.details()) == (grpc.StatusCode.NOT_FOUND, "project 'nope' does not exist")
    error = fails(admin.UpdateProject, project_pb2.Project(id="nope", name="Nope"))
    assert (error.code(), error.details()) == (grpc.StatusCode.NOT_FOUND, "project 'nope' does not exist")
