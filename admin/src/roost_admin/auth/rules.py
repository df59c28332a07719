"""The authorization table: for every RPC the admin serves, the role it needs and where the request names the
project (and domain) it acts on.

An RPC that is not in this table is refused to everyone (and fails a test), so a new RPC cannot be served
unguarded. A rule's first project path is required: a request that leaves it empty needs the role on every
project. Further paths (a launch plan of another project, say) are checked when the request fills them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flyteidl.admin import project_pb2

from roost_admin import blobs
from roost_admin.auth.roles import Grants, Role

Scope = tuple[str, str]
"""(project, domain); domain is empty when the request names none."""


@dataclass(frozen=True)
class Rule:
    """What calling one RPC takes."""

    role: Role | None = None
    """The role needed; None: any authenticated caller."""
    paths: tuple[str, ...] = ()
    """Dotted paths of the request's project fields (``id.execution_id.project``); the domain is the
    ``domain`` field beside each, when the message has one."""
    scope_of: Callable[[Any, str], Scope] | None = None
    """Finds the scope when no field holds it (a URL); gets the request and the admin's storage prefix."""
    public: bool = False
    """No token needed (the auth metadata a client reads before it has one)."""
    filter_response: Callable[[Any, Grants], Any] | None = None
    """Drops from the response what the caller may not see."""


def _field(message: Any, path: str) -> Scope:
    *parents, last = path.split(".")
    for part in parents:
        message = getattr(message, part)
    project = str(getattr(message, last))
    domain = str(message.domain) if "domain" in message.DESCRIPTOR.fields_by_name else ""
    return project, domain


def scopes(rule: Rule, request: Any, storage_prefix: str) -> list[Scope]:
    """Every (project, domain) the request acts on, per the rule (the first always, even if empty)."""
    if rule.scope_of is not None:
        return [rule.scope_of(request, storage_prefix)]
    found: list[Scope] = []
    for index, path in enumerate(rule.paths):
        scope = _field(request, path)
        if index == 0 or scope[0]:
            found.append(scope)
    return found or [("", "")]


def _native_url_scope(request: Any, storage_prefix: str) -> Scope:
    """The project and domain of a blob under the admin's storage: every folder there is
    ``{registry|executions|raw|uploads}/{project}/{domain}/...``."""
    url = blobs.stored_uri(str(request.native_url))
    prefix = storage_prefix.rstrip("/") + "/"
    if not url.startswith(prefix):
        return "", ""
    parts = url[len(prefix) :].split("/")
    return (parts[1], parts[2]) if len(parts) > 3 else ("", "")


def _flyte_url_scope(request: Any, storage_prefix: str) -> Scope:
    """``flyte://v1/{project}/{domain}/{execution}/...``."""
    url = str(request.flyte_url)
    parts = url.removeprefix("flyte://v1/").split("/") if url.startswith("flyte://v1/") else []
    return (parts[0], parts[1]) if len(parts) > 2 else ("", "")


def _visible_projects(response: project_pb2.Projects, grants: Grants) -> project_pb2.Projects:
    if grants.sees_every_project():
        return response
    visible = grants.visible_projects()
    kept = [project for project in response.projects if project.id in visible]
    del response.projects[:]
    response.projects.extend(kept)
    return response


_V, _L, _E, _A = Role.VIEWER, Role.LAUNCHER, Role.EDITOR, Role.ADMIN
_EXECUTION = "id.project"
_NODE = "id.execution_id.project"
_TASK_EXECUTION = "id.node_execution_id.execution_id.project"

_ADMIN_SERVICE: dict[str, Rule] = {
    # registry
    "CreateTask": Rule(_E, ("id.project",)),
    "CreateWorkflow": Rule(_E, ("id.project",)),
    "CreateLaunchPlan": Rule(_E, ("id.project",)),
    "UpdateLaunchPlan": Rule(_E, ("id.project",)),
    "UpdateNamedEntity": Rule(_E, ("id.project",)),
    "GetTask": Rule(_V, ("id.project",)),
    "GetWorkflow": Rule(_V, ("id.project",)),
    "GetLaunchPlan": Rule(_V, ("id.project",)),
    "GetDescriptionEntity": Rule(_V, ("id.project",)),
    "GetActiveLaunchPlan": Rule(_V, ("id.project",)),
    "GetNamedEntity": Rule(_V, ("id.project",)),
    "ListTasks": Rule(_V, ("id.project",)),
    "ListWorkflows": Rule(_V, ("id.project",)),
    "ListLaunchPlans": Rule(_V, ("id.project",)),
    "ListDescriptionEntities": Rule(_V, ("id.project",)),
    "ListTaskIds": Rule(_V, ("project",)),
    "ListWorkflowIds": Rule(_V, ("project",)),
    "ListLaunchPlanIds": Rule(_V, ("project",)),
    "ListActiveLaunchPlans": Rule(_V, ("project",)),
    "ListNamedEntities": Rule(_V, ("project",)),
    # executions
    "CreateExecution": Rule(_L, ("project", "spec.launch_plan.project")),
    "RelaunchExecution": Rule(_L, (_EXECUTION,)),
    "RecoverExecution": Rule(_L, (_EXECUTION,)),
    "TerminateExecution": Rule(_L, (_EXECUTION,)),
    "UpdateExecution": Rule(_L, (_EXECUTION,)),
    "GetExecution": Rule(_V, (_EXECUTION,)),
    "GetExecutionData": Rule(_V, (_EXECUTION,)),
    "GetExecutionMetrics": Rule(_V, (_EXECUTION,)),
    "ListExecutions": Rule(_V, ("id.project",)),
    "GetNodeExecution": Rule(_V, (_NODE,)),
    "GetNodeExecutionData": Rule(_V, (_NODE,)),
    "GetDynamicNodeWorkflow": Rule(_V, (_NODE,)),
    "ListNodeExecutions": Rule(_V, ("workflow_execution_id.project",)),
    "ListNodeExecutionsForTask": Rule(_V, ("task_execution_id.node_execution_id.execution_id.project",)),
    "GetTaskExecution": Rule(_V, (_TASK_EXECUTION,)),
    "GetTaskExecutionData": Rule(_V, (_TASK_EXECUTION,)),
    "ListTaskExecutions": Rule(_V, ("node_execution_id.execution_id.project",)),
    # events (written by an engine; Roost's own engine records them directly)
    "CreateWorkflowEvent": Rule(_A, ("event.execution_id.project",)),
    "CreateNodeEvent": Rule(_A, ("event.id.execution_id.project",)),
    "CreateTaskEvent": Rule(_A, ("event.parent_node_execution_id.execution_id.project",)),
    # projects
    "RegisterProject": Rule(_A, ("project.id",)),
    "UpdateProject": Rule(_A, ("id",)),
    "GetProject": Rule(_V, ("id",)),
    "ListProjects": Rule(filter_response=_visible_projects),
    "GetDomains": Rule(),
    "GetVersion": Rule(),
    # matchable attributes
    "UpdateProjectDomainAttributes": Rule(_A, ("attributes.project",)),
    "DeleteProjectDomainAttributes": Rule(_A, ("project",)),
    "GetProjectDomainAttributes": Rule(_V, ("project",)),
    "UpdateProjectAttributes": Rule(_A, ("attributes.project",)),
    "DeleteProjectAttributes": Rule(_A, ("project",)),
    "GetProjectAttributes": Rule(_V, ("project",)),
    "UpdateWorkflowAttributes": Rule(_A, ("attributes.project",)),
    "DeleteWorkflowAttributes": Rule(_A, ("project",)),
    "GetWorkflowAttributes": Rule(_V, ("project",)),
    "ListMatchableAttributes": Rule(_V, ()),
}

_DATA_PROXY_SERVICE: dict[str, Rule] = {
    "CreateUploadLocation": Rule(_L, ("project",)),
    "CreateDownloadLocation": Rule(_V, scope_of=_native_url_scope),
    "CreateDownloadLink": Rule(_V, ("node_execution_id.execution_id.project",)),
    "GetData": Rule(_V, scope_of=_flyte_url_scope),
}

_SIGNAL_SERVICE: dict[str, Rule] = {
    "GetOrCreateSignal": Rule(_L, ("id.execution_id.project",)),
    "SetSignal": Rule(_L, ("id.execution_id.project",)),
    "ListSignals": Rule(_V, ("workflow_execution_id.project",)),
}

_AUTH_SERVICES: dict[str, Rule] = {
    "AuthMetadataService/GetOAuth2Metadata": Rule(public=True),
    "AuthMetadataService/GetPublicClientConfig": Rule(public=True),
    "IdentityService/UserInfo": Rule(),
}

RULES: dict[str, Rule] = {
    **{f"/flyteidl.service.AdminService/{name}": rule for name, rule in _ADMIN_SERVICE.items()},
    **{f"/flyteidl.service.DataProxyService/{name}": rule for name, rule in _DATA_PROXY_SERVICE.items()},
    **{f"/flyteidl.service.SignalService/{name}": rule for name, rule in _SIGNAL_SERVICE.items()},
    **{f"/flyteidl.service.{name}": rule for name, rule in _AUTH_SERVICES.items()},
    # Roost's own service (roost_admin.server.roost_service): what Flyte's API has no RPC for.
    "/roost.admin.RoostService/ListExecutionNotifications": Rule(_V, ("id.project",)),
}
"""Every RPC's rule, by full method name (``/flyteidl.service.AdminService/GetTask``)."""
