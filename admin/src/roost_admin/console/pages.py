"""The console's pages, on flyteconsole's URL scheme under ``/console`` (so links people already have keep
working): projects, per project and domain the executions, workflows, tasks and launch plans, each entity's
versions, and the execution page with its graph, timeline and node panel. Actions (launch, relaunch,
terminate, activate or deactivate a launch plan, approve or reject a gate) are a confirmation page (GET) and a
form post (POST); whatever the admin refuses is shown with its message.

Pages read and act through :class:`~roost_admin.console.reader.Reader`: the service operations the API serves,
under the same auth rules.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from cachetools import TTLCache
from flyteidl.admin import (
    common_pb2,
    execution_pb2,
    launch_plan_pb2,
    node_execution_pb2,
    project_pb2,
    signal_pb2,
    task_execution_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from roost_admin.api.gateway import HTTP_STATUS
from roost_admin.auth.console_login import SESSION_COOKIE
from roost_admin.auth.http_policy import PRINCIPAL
from roost_admin.console import graph, nesting, values
from roost_admin.console.logs import LogFiles
from roost_admin.console.reader import Reader
from roost_admin.errors import ClientError, NotFound
from roost_admin.server.errors import request_id_from, serving, status_of

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate
    from roost_admin.services import Services

ROOT = "/console"
BASE = ROOT + "/projects/{project}/domains/{domain}"
SECTIONS = {
    "executions": "Executions",
    "workflows": "Workflows",
    "tasks": "Tasks",
    "launchPlans": "Launch plans",
}
_ENTITY_LISTS = {
    "workflows": ("ListWorkflowIds", "ListWorkflows", identifier_pb2.WORKFLOW, "workflow"),
    "tasks": ("ListTaskIds", "ListTasks", identifier_pb2.TASK, "task"),
    "launchPlans": ("ListLaunchPlanIds", "ListLaunchPlans", identifier_pb2.LAUNCH_PLAN, "launch_plan"),
}
_VERSION_KINDS = {
    "workflow": ("GetWorkflow", identifier_pb2.WORKFLOW, "workflows"),
    "task": ("GetTask", identifier_pb2.TASK, "tasks"),
    "launch_plan": ("GetLaunchPlan", identifier_pb2.LAUNCH_PLAN, "launchPlans"),
}
WORKFLOW_PHASES = [
    value.name
    for value in core_execution_pb2.WorkflowExecution.Phase.DESCRIPTOR.values
    if value.name != "UNDEFINED"
]
PAGE_SIZE = 50
COUNTS_SECONDS = 5.0
"""How long the executions list reuses its counts per phase."""
DECK_POLICY = "; ".join(
    [
        # An opaque origin whatever opens it (the panel's iframe, or a tab of its own): the deck's scripts run,
        # but not as the admin's origin, so they cannot read the console or use its session.
        "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox",
        "default-src 'none'",
        # flytekit's renderers inline their scripts and styles, and some load a library or fonts over HTTPS
        "script-src 'unsafe-inline' 'unsafe-eval' https: data: blob:",
        "style-src 'unsafe-inline' https: data:",
        "img-src https: data: blob:",
        "font-src https: data:",
        "media-src data: blob:",
        "connect-src 'none'",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
    ]
)
"""The Content-Security-Policy a node's deck is served with."""
_DECK_HEADERS = {
    "content-security-policy": DECK_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "private, no-cache",
    "cross-origin-resource-policy": "same-origin",
}
_SORTS = {"created_at": "Created", "duration": "Duration", "name": "Name", "updated_at": "Updated"}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def duration_text(seconds: float) -> str:
    """``1h 02m``, ``3m 05s``, ``4.20s``."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"
    if seconds >= 60:
        return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"
    return f"{seconds:.2f}s"


def _seconds(duration: Any) -> float:
    return float(duration.seconds + duration.nanos / 1e9)


def _time(stamp: Any) -> datetime.datetime | None:
    if not stamp.seconds and not stamp.nanos:
        return None
    return stamp.ToDatetime(tzinfo=datetime.UTC)  # type: ignore[no-any-return]


def execution_url(ident: Any) -> str:
    """An execution's page (flyteconsole's address)."""
    return (
        f"{ROOT}/projects/{quote(ident.project)}/domains/{quote(ident.domain)}/executions/{quote(ident.name)}"
    )


_KIND_PATHS = {resource_type: (kind, section) for kind, (_, resource_type, section) in _VERSION_KINDS.items()}
"""Per resource type, its name in a version page's path (``workflow``) and its section (``workflows``)."""


def _entity_prefix(ident: identifier_pb2.Identifier, *, version_page: bool) -> str:
    kind, section = _KIND_PATHS[ident.resource_type]
    return (
        f"{ROOT}/projects/{quote(ident.project)}/domains/{quote(ident.domain)}"
        f"/{kind if version_page else section}/{quote(ident.name)}"
    )


def version_url(ident: identifier_pb2.Identifier) -> str:
    """An entity version's page (``/workflow/{name}/version/{version}``, as flyteconsole writes it)."""
    return f"{_entity_prefix(ident, version_page=True)}/version/{quote(ident.version, safe='')}"


def entity_url(ident: identifier_pb2.Identifier) -> str:
    """An entity's page: its versions and executions."""
    return _entity_prefix(ident, version_page=False)


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("roost_admin.console", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(
        execution_url=execution_url,
        version_url=version_url,
        entity_url=entity_url,
        duration_text=duration_text,
        shown=values.shown,
        type_label=values.type_label,
        sections=SECTIONS,
        root=ROOT,
    )
    environment.tests["link"] = lambda value: isinstance(value, values.Link)
    environment.filters["phase"] = core_execution_pb2.WorkflowExecution.Phase.Name
    environment.filters["node_phase"] = core_execution_pb2.NodeExecution.Phase.Name
    environment.filters["task_phase"] = core_execution_pb2.TaskExecution.Phase.Name
    environment.filters["when"] = lambda stamp: (
        moment.strftime("%Y-%m-%d %H:%M:%S UTC") if (moment := _time(stamp)) else "—"
    )
    return environment


class Refused(Exception):
    """A page that answers with an error status and the admin's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Page:
    """What an endpoint answers: a template and its values, a redirect, or a response."""

    template: str = ""
    context: dict[str, Any] | None = None
    status: int = 200
    redirect: str = ""


Handler = Callable[[Request, Reader], Page]


class Console:
    """The console's routes over the admin's services."""

    def __init__(self, services: Services, gate: AuthGate | None) -> None:
        self.services = services
        self.gate = gate
        self.templates = _environment()
        self.logs = LogFiles(services, gate)
        self._counts_cache: TTLCache[tuple[str, str], dict[int, int]] = TTLCache(
            maxsize=256, ttl=COUNTS_SECONDS
        )
        self._counts_lock = threading.Lock()

    def routes(self) -> list[BaseRoute]:
        """Every page and action, most specific first."""
        page = self._page
        return [
            Route(ROOT, page(self.projects), methods=["GET"]),
            Route(ROOT + "/select-project", page(self.projects), methods=["GET"]),
            Mount(
                ROOT + "/static", app=StaticFiles(packages=[("roost_admin.console", "static")]), name="static"
            ),
            Route(ROOT + "/projects/{project}", page(self.project), methods=["GET"]),
            Route(ROOT + "/projects/{project}/{section}", page(self.project_section), methods=["GET"]),
            Route(BASE + "/executions", page(self.executions), methods=["GET"]),
            Route(BASE + "/executions/{name}", page(self.execution), methods=["GET"]),
            Route(BASE + "/executions/{name}/terminate", page(self.terminate), methods=["GET", "POST"]),
            Route(BASE + "/executions/{name}/relaunch", page(self.relaunch), methods=["GET", "POST"]),
            Route(BASE + "/executions/{name}/recover", page(self.recover), methods=["GET", "POST"]),
            Route(BASE + "/executions/{name}/signals/{signal}", page(self.signal), methods=["GET", "POST"]),
            *self.logs.routes(BASE + "/executions/{name}/nodes/{node}/attempts/{attempt}/logs/{stream}"),
            Route(BASE + "/executions/{name}/nodes/{node}/deck", self.deck, methods=["GET"]),
            Route(BASE + "/{kind}/{name}/version/{version}", page(self.version), methods=["GET"]),
            Route(
                BASE + "/launch_plan/{name}/version/{version}/launch",
                page(self.launch),
                methods=["GET", "POST"],
            ),
            Route(
                BASE + "/launch_plan/{name}/version/{version}/state",
                page(self.plan_state),
                methods=["GET", "POST"],
            ),
            Route(BASE + "/{section}", page(self.entities), methods=["GET"]),
            Route(BASE + "/{section}/{name}", page(self.entity), methods=["GET"]),
        ]

    def _page(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if request.method == "POST" and not _same_origin(request):
                return self._error(
                    403, "the form was posted from another site; open the console and try again"
                )
            form: dict[str, str] = {}
            if request.method == "POST":
                posted = await request.form()
                form = {key: str(value) for key, value in posted.items()}
            reader = Reader(self.services, self.gate, request.scope.get(PRINCIPAL))
            request_id = request_id_from(list(request.headers.items()))
            request.state.form = form
            try:
                page = await run_in_threadpool(self._run, handler, request, reader, request_id)
            except Refused as refused:
                return self._error(refused.status, refused.message)
            if page.redirect:
                return RedirectResponse(page.redirect, status_code=303)
            signed_in = self.gate is not None and SESSION_COOKIE in request.cookies
            body = self.templates.get_template(page.template).render(
                **(page.context or {}), signed_in=signed_in
            )
            return HTMLResponse(body, page.status)

        return endpoint

    async def deck(self, request: Request) -> Response:
        """A node's deck, as the HTML flytekit wrote, under :data:`DECK_POLICY`."""
        reader = Reader(self.services, self.gate, request.scope.get(PRINCIPAL))
        try:
            html = await run_in_threadpool(self._deck, reader, request)
        except Exception as exc:  # the admin's message, with its status
            code, message = status_of(exc, "Deck")
            return self._error(HTTP_STATUS.get(code, 500), message)
        return Response(html, media_type="text/html; charset=utf-8", headers=_DECK_HEADERS)

    def _deck(self, reader: Reader, request: Request) -> bytes:
        params = request.path_params
        node = identifier_pb2.NodeExecutionIdentifier(
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                project=params["project"], domain=params["domain"], name=params["name"]
            ),
            node_id=params["node"],
        )
        # the caller's role on the project is checked as for the node itself
        reader.call("GetNodeExecution", node_execution_pb2.NodeExecutionGetRequest(id=node))
        return self.services.dataproxy.deck(node)

    def _run(self, handler: Handler, request: Request, reader: Reader, request_id: str) -> Page:
        with serving(request_id):
            try:
                return handler(request, reader)
            except Refused:
                raise
            except Exception as exc:  # the admin's message, with its status; server faults quote a request id
                raise _refused(exc, handler.__name__) from None

    def _error(self, status: int, message: str) -> Response:
        body = self.templates.get_template("error.html").render(status=status, message=message)
        return HTMLResponse(body, status)

    # projects

    def projects(self, request: Request, reader: Reader) -> Page:
        listed = reader.call("ListProjects", project_pb2.ProjectListRequest())
        return Page("projects.html", {"projects": listed.projects, "title": "Projects"})

    def project(self, request: Request, reader: Reader) -> Page:
        project = self._project(reader, request.path_params["project"])
        domain = request.query_params.get("domain") or project.domains[0].id
        return Page(redirect=f"{ROOT}/projects/{quote(project.id)}/domains/{quote(domain)}/executions")

    def project_section(self, request: Request, reader: Reader) -> Page:
        section = request.path_params["section"]
        if section not in SECTIONS:
            raise Refused(404, f"no console page {request.url.path}")
        project = self._project(reader, request.path_params["project"])
        domain = request.query_params.get("domain") or project.domains[0].id
        return Page(redirect=f"{ROOT}/projects/{quote(project.id)}/domains/{quote(domain)}/{section}")

    def _project(self, reader: Reader, project_id: str) -> project_pb2.Project:
        project: project_pb2.Project = reader.call("GetProject", project_pb2.ProjectGetRequest(id=project_id))
        return project

    def _scope(self, request: Request, reader: Reader) -> dict[str, Any]:
        """The project and domain of a page under ``BASE`` (404 naming either when it does not exist)."""
        project = self._project(reader, request.path_params["project"])
        domain = request.path_params["domain"]
        if domain not in [d.id for d in project.domains]:
            raise Refused(404, f"project {project.id!r} has no domain {domain!r}")
        return {
            "project": project,
            "domain": domain,
            "base": f"{ROOT}/projects/{quote(project.id)}/domains/{quote(domain)}",
        }

    # executions

    def executions(self, request: Request, reader: Reader) -> Page:
        scope = self._scope(request, reader)
        query = request.query_params
        chosen = {
            key: query.get(key, "") for key in ("phase", "workflow", "launch_plan", "after", "before", "text")
        }
        filters = []
        if chosen["phase"]:
            if chosen["phase"] not in WORKFLOW_PHASES:
                raise Refused(400, f"phase {chosen['phase']!r} is not one of {', '.join(WORKFLOW_PHASES)}")
            filters.append(f"eq(phase,{chosen['phase']})")
        if chosen["workflow"]:
            filters.append(f"eq(workflow.name,{chosen['workflow']})")
        if chosen["launch_plan"]:
            filters.append(f"eq(launch_plan.name,{chosen['launch_plan']})")
        for key, function in (("after", "gte"), ("before", "lte")):
            if chosen[key]:
                filters.append(f"{function}(execution_created_at,{_moment(chosen[key], key)})")
        if chosen["text"]:
            filters.append(f"contains(execution.name,{chosen['text']})")
        sort_key = query.get("sort", "created_at")
        if sort_key not in _SORTS:
            raise Refused(400, f"sort {sort_key!r} is not one of {', '.join(_SORTS)}")
        ascending = query.get("order") == "asc"
        request_ = common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=scope["project"].id, domain=scope["domain"]),
            limit=PAGE_SIZE,
            token=query.get("token", ""),
            filters="+".join(filters),
            sort_by=common_pb2.Sort(
                key=sort_key,
                direction=common_pb2.Sort.ASCENDING if ascending else common_pb2.Sort.DESCENDING,
            ),
        )
        listed = reader.call("ListExecutions", request_)
        counts = self._counts(scope["project"].id, scope["domain"])
        kept = {
            key: value
            for key, value in {**chosen, "sort": sort_key, "order": query.get("order", "")}.items()
            if value
        }
        return Page(
            "executions.html",
            {
                **scope,
                "title": "Executions",
                "section": "executions",
                "executions": listed.executions,
                "chosen": chosen,
                "sort": sort_key,
                "ascending": ascending,
                "sorts": _SORTS,
                "phases": WORKFLOW_PHASES,
                "counts": [
                    (core_execution_pb2.WorkflowExecution.Phase.Name(phase), count)
                    for phase, count in sorted(counts.items())
                ],
                "next_page": "?" + urlencode({**kept, "token": listed.token}) if listed.token else "",
                "first_page": "?" + urlencode(kept) if request_.token else "",
                "phase_link": lambda phase: (
                    "?" + urlencode({**{k: v for k, v in kept.items() if k != "phase"}, "phase": phase})
                ),
            },
        )

    def _counts(self, project: str, domain: str) -> dict[int, int]:
        """Executions per phase, kept for :data:`COUNTS_SECONDS`: counting reads every entry of the project in the
        (phase, state, created_at) index, and a list is paged and refreshed more often than counts change."""
        key = (project, domain)
        with self._counts_lock:
            cached = self._counts_cache.get(key)
        if cached is None:
            cached = self.services.watching.phase_counts(project, domain)
            with self._counts_lock:
                self._counts_cache[key] = cached
        return cached

    def execution(self, request: Request, reader: Reader) -> Page:
        scope = self._scope(request, reader)
        ident = self._execution_id(request, scope)
        execution = reader.call("GetExecution", execution_pb2.WorkflowExecutionGetRequest(id=ident))
        data = reader.call("GetExecutionData", execution_pb2.WorkflowExecutionGetDataRequest(id=ident))
        nodes = reader.call(
            "ListNodeExecutions",
            node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=ident, limit=10_000),
        ).node_executions
        closure = execution.closure
        link = execution_url(ident)
        phases = {
            node.id.node_id: core_execution_pb2.NodeExecution.Phase.Name(node.closure.phase) for node in nodes
        }
        picture = ""
        selected = request.query_params.get("node", "")
        expanded = frozenset(request.query_params.getlist("expand"))
        if closure.workflow_id.name:
            workflow = reader.call("GetWorkflow", common_pb2.ObjectGetRequest(id=closure.workflow_id))
            compiled = workflow.closure.compiled_workflow
            drawn = graph.drawing(compiled.primary)
            nested = nesting.Nested(reader, ident, expanded, execution_url)
            nested.fill(drawn, {node.id.node_id: node for node in nodes}, nesting.templates(compiled))
            expanded = frozenset(nested.opened)
            picture = graph.drawing_svg(drawn, link, selected, expanded)
        labels = {node.id.node_id: node.metadata.spec_node_id or node.id.node_id for node in nodes}
        bars = [
            graph.Bar(
                node.id.node_id,
                labels[node.id.node_id],
                phases[node.id.node_id],
                _time(node.closure.started_at),
                _seconds(node.closure.duration)
                if node.closure.phase
                not in (core_execution_pb2.NodeExecution.RUNNING, core_execution_pb2.NodeExecution.QUEUED)
                else max(0.0, (_now() - (_time(node.closure.started_at) or _now())).total_seconds()),
            )
            for node in nodes
            if node.id.node_id not in ("start-node", "end-node")
        ]
        started = _time(closure.started_at)
        running = closure.phase not in _TERMINAL
        seconds = (_now() - started).total_seconds() if running and started else _seconds(closure.duration)
        children = [
            node.closure.workflow_node_metadata.executionId
            for node in nodes
            if node.closure.HasField("workflow_node_metadata")
        ]
        panel = self._node_panel(reader, ident, selected) if selected else None
        signals = reader.call(
            "ListSignals",
            signal_pb2.SignalListRequest(workflow_execution_id=ident, limit=100),
            service="SignalService",
        ).signals
        return Page(
            "execution.html",
            {
                **scope,
                "title": ident.name,
                "section": "executions",
                "execution": execution,
                "phase": core_execution_pb2.WorkflowExecution.Phase.Name(closure.phase),
                "mode": str(
                    execution_pb2.ExecutionMetadata.ExecutionMode.Name(execution.spec.metadata.mode)
                ).lower(),
                "running": running,
                "seconds": seconds,
                "inputs": _values(data.full_inputs),
                "outputs": _values(data.full_outputs),
                "graph": picture,
                "timeline": graph.timeline_svg(bars, started, link),
                "nodes": nodes,
                "children": children,
                "panel": panel,
                "link": link,
                # the page with ``node`` selected, what is open kept, and ``opening`` opened too
                "here": lambda node="", opening="": graph.address(
                    link, node, expanded | {opening} if opening else expanded
                ),
                "signals": [signal for signal in signals if not signal.HasField("value")],
                "events_url": f"/api/v1/events/executions/{quote(ident.project)}/{quote(ident.domain)}/{quote(ident.name)}",
            },
        )

    def _node_panel(self, reader: Reader, ident: Any, node_id: str) -> dict[str, Any]:
        node_ident = identifier_pb2.NodeExecutionIdentifier(execution_id=ident, node_id=node_id)
        try:
            node = reader.call("GetNodeExecution", node_execution_pb2.NodeExecutionGetRequest(id=node_ident))
        except NotFound:
            return {"node_id": node_id, "missing": True}
        data = reader.call(
            "GetNodeExecutionData", node_execution_pb2.NodeExecutionGetDataRequest(id=node_ident)
        )
        attempts = reader.call(
            "ListTaskExecutions",
            task_execution_pb2.TaskExecutionListRequest(node_execution_id=node_ident, limit=1000),
        ).task_executions
        children = []
        if (
            node.metadata.is_parent_node
        ):  # a sub-workflow, dynamic or array node: its own nodes, to drill into
            children = list(
                reader.call(
                    "ListNodeExecutions",
                    node_execution_pb2.NodeExecutionListRequest(
                        workflow_execution_id=ident, unique_parent_id=node_id, limit=10_000
                    ),
                ).node_executions
            )
        deck = bool(node.closure.output_uri) and self.services.dataproxy.has_deck(node_ident)
        cache = ""
        if node.closure.HasField("task_node_metadata"):
            cache = _cache_name(node.closure.task_node_metadata.cache_status)
        return {
            "node_id": node_id,
            "node": node,
            "phase": core_execution_pb2.NodeExecution.Phase.Name(node.closure.phase),
            "inputs": _values(data.full_inputs),
            "outputs": _values(data.full_outputs),
            "attempts": attempts,
            "children": children,
            "cache": cache,
            "deck": deck,
            "missing": False,
        }

    def _execution_id(
        self, request: Request, scope: dict[str, Any]
    ) -> identifier_pb2.WorkflowExecutionIdentifier:
        return identifier_pb2.WorkflowExecutionIdentifier(
            project=scope["project"].id, domain=scope["domain"], name=request.path_params["name"]
        )

    # actions on an execution

    def terminate(self, request: Request, reader: Reader) -> Page:
        scope = self._scope(request, reader)
        ident = self._execution_id(request, scope)
        execution = reader.call("GetExecution", execution_pb2.WorkflowExecutionGetRequest(id=ident))
        if request.method == "POST":
            cause = request.state.form.get("cause", "") or "terminated from the console"
            reader.call("TerminateExecution", execution_pb2.ExecutionTerminateRequest(id=ident, cause=cause))
            return Page(redirect=execution_url(ident))
        return Page(
            "confirm.html",
            {
                **scope,
                "title": f"Terminate {ident.name}?",
                "question": f"Terminate execution {ident.name}? Its running tasks are stopped and it ends ABORTED.",
                "action": "Terminate",
                "cause": True,
                "back": execution_url(ident),
                "execution": execution,
            },
        )

    def relaunch(self, request: Request, reader: Reader) -> Page:
        scope = self._scope(request, reader)
        ident = self._execution_id(request, scope)
        reader.call("GetExecution", execution_pb2.WorkflowExecutionGetRequest(id=ident))
        if request.method == "POST":
            created = reader.call("RelaunchExecution", execution_pb2.ExecutionRelaunchRequest(id=ident))
            return Page(redirect=execution_url(created.id))
        return Page(
            "confirm.html",
            {
                **scope,
                "title": f"Relaunch {ident.name}?",
                "question": f"Relaunch execution {ident.name} with the same inputs, as a new execution?",
                "action": "Relaunch",
                "back": execution_url(ident),
            },
        )

    def recover(self, request: Request, reader: Reader) -> Page:
        scope = self._scope(request, reader)
        ident = self._execution_id(request, scope)
        reader.call("GetExecution", execution_pb2.WorkflowExecutionGetRequest(id=ident))
        if request.method == "POST":
            version = request.state.form.get("version", "").strip()
            created = reader.recover(execution_pb2.ExecutionRecoverRequest(id=ident), version)
            return Page(redirect=execution_url(created.id))
        return Page(
            "confirm.html",
            {
                **scope,
                "title": f"Recover {ident.name}?",
                "question": f"Recover execution {ident.name} as a new execution that reuses every node that "
                "succeeded? To resume on another version of its launch plan, name the version.",
                "action": "Recover",
                "version": True,
                "back": execution_url(ident),
            },
        )

    def signal(self, request: Request, reader: Reader) -> Page:
        scope = self._scope(request, reader)
        ident = self._execution_id(request, scope)
        signal_name = request.path_params["signal"]
        signals = reader.call(
            "ListSignals",
            signal_pb2.SignalListRequest(workflow_execution_id=ident, limit=1000),
            service="SignalService",
        ).signals
        found = next((s for s in signals if s.id.signal_id == signal_name), None)
        if found is None:
            raise Refused(404, f"execution {ident.name} has no signal {signal_name!r}")
        is_bool = found.type.WhichOneof("type") == "simple" and found.type.simple == values._SIMPLE.BOOLEAN
        error = ""
        status = 400
        if request.method == "POST":
            form = request.state.form
            text = form.get("value", "")
            if is_bool:
                text = "true" if form.get("decision") == "approve" else "false"
            try:
                literal = values.literal_of(found.type, text)
                reader.call(
                    "SetSignal",
                    signal_pb2.SignalSetRequest(id=found.id, value=literal),
                    service="SignalService",
                )
            except values.InputError as exc:
                error = f"{signal_name}: {exc}"
            except ClientError as exc:  # the admin's refusal (set already, another type), shown on the form
                refused = _refused(exc, "SetSignal")
                error, status = refused.message, refused.status
            else:
                return Page(redirect=execution_url(ident))
        return Page(
            "signal.html",
            {
                **scope,
                "title": f"Signal {signal_name}",
                "signal": found,
                "approval": is_bool,
                "label": values.type_label(found.type),
                "back": execution_url(ident),
                "error": error,
                "value": request.state.form.get("value", ""),
            },
            status=status if error else 200,
        )

    # entities

    def entities(self, request: Request, reader: Reader) -> Page:
        section = request.path_params["section"]
        if section not in _ENTITY_LISTS:
            raise Refused(404, f"no console page {request.url.path}")
        scope = self._scope(request, reader)
        ids_rpc, _, _, _ = _ENTITY_LISTS[section]
        listed = reader.call(
            ids_rpc,
            common_pb2.NamedEntityIdentifierListRequest(
                project=scope["project"].id,
                domain=scope["domain"],
                limit=PAGE_SIZE,
                token=request.query_params.get("token", ""),
                sort_by=common_pb2.Sort(key="name", direction=common_pb2.Sort.ASCENDING),
            ),
        )
        return Page(
            "entities.html",
            {
                **scope,
                "title": SECTIONS[section],
                "section": section,
                "names": [entity.name for entity in listed.entities],
                "next_page": "?" + urlencode({"token": listed.token}) if listed.token else "",
            },
        )

    def entity(self, request: Request, reader: Reader) -> Page:
        section = request.path_params["section"]
        if section not in _ENTITY_LISTS:
            raise Refused(404, f"no console page {request.url.path}")
        scope = self._scope(request, reader)
        name = request.path_params["name"]
        _, list_rpc, _, _ = _ENTITY_LISTS[section]
        versions = reader.call(
            list_rpc,
            common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(
                    project=scope["project"].id, domain=scope["domain"], name=name
                ),
                limit=PAGE_SIZE,
                sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING),
            ),
        )
        entries = list(getattr(versions, _LIST_FIELD[section]))
        if not entries:
            raise Refused(
                404,
                f"{SECTIONS[section][:-1].lower()} {name!r} does not exist in {scope['project'].id}/{scope['domain']}",
            )
        executions = []
        if section != "tasks":
            key = "workflow.name" if section == "workflows" else "launch_plan.name"
            executions = list(
                reader.call(
                    "ListExecutions",
                    common_pb2.ResourceListRequest(
                        id=common_pb2.NamedEntityIdentifier(
                            project=scope["project"].id, domain=scope["domain"]
                        ),
                        limit=20,
                        filters=f"eq({key},{name})",
                    ),
                ).executions
            )
        return Page(
            "entity.html",
            {
                **scope,
                "title": name,
                "section": section,
                "name": name,
                "versions": entries,
                "executions": executions,
            },
        )

    def version(self, request: Request, reader: Reader) -> Page:
        kind = request.path_params["kind"]
        if kind not in _VERSION_KINDS:
            raise Refused(404, f"no console page {request.url.path}")
        scope = self._scope(request, reader)
        rpc, resource_type, section = _VERSION_KINDS[kind]
        ident = identifier_pb2.Identifier(
            resource_type=resource_type,
            project=scope["project"].id,
            domain=scope["domain"],
            name=request.path_params["name"],
            version=request.path_params["version"],
        )
        entity = reader.call(rpc, common_pb2.ObjectGetRequest(id=ident))
        context: dict[str, Any] = {
            **scope,
            "title": f"{ident.name} {ident.version}",
            "section": section,
            "ident": ident,
            "kind": kind,
        }
        if kind == "workflow":
            compiled = entity.closure.compiled_workflow
            drawn = graph.drawing(compiled.primary)
            # nothing ran: sub-workflows open on their spec (no node executions to read)
            nested = nesting.Nested(
                reader,
                identifier_pb2.WorkflowExecutionIdentifier(),
                frozenset(request.query_params.getlist("expand")),
                execution_url,
            )
            nested.fill(drawn, {}, nesting.templates(compiled))
            context["graph"] = graph.drawing_svg(drawn, version_url(ident), "", nested.opened)
            context["interface"] = compiled.primary.template.interface
        elif kind == "task":
            template = entity.closure.compiled_task.template
            context["interface"] = template.interface
            context["task_type"] = template.type
            context["image"] = template.container.image
        else:
            context["plan"] = entity
            context["interface"] = None
            context["fields"] = values.form_fields(entity.closure.expected_inputs)
            context["active"] = entity.closure.state == launch_plan_pb2.ACTIVE
            schedule = entity.spec.entity_metadata.schedule
            context["schedule"] = (
                schedule.cron_schedule.schedule
                or schedule.cron_expression
                or (
                    f"every {schedule.rate.value} {_unit(schedule.rate.unit)}"
                    if schedule.HasField("rate")
                    else ""
                )
            )
        return Page("version.html", context)

    def launch(self, request: Request, reader: Reader) -> Page:
        scope = self._scope(request, reader)
        ident = identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=scope["project"].id,
            domain=scope["domain"],
            name=request.path_params["name"],
            version=request.path_params["version"],
        )
        plan = reader.call("GetLaunchPlan", common_pb2.ObjectGetRequest(id=ident))
        parameters = plan.closure.expected_inputs
        fields = values.form_fields(parameters)
        errors: dict[str, str] = {}
        form = request.state.form
        message = ""
        status = 400
        if request.method == "POST":
            inputs, errors = values.read_inputs(parameters, form)
            if not errors:
                try:
                    created = reader.call(
                        "CreateExecution",
                        execution_pb2.ExecutionCreateRequest(
                            project=ident.project,
                            domain=ident.domain,
                            name=form.get("execution_name", ""),
                            spec=execution_pb2.ExecutionSpec(
                                launch_plan=ident,
                                metadata=execution_pb2.ExecutionMetadata(
                                    mode=execution_pb2.ExecutionMetadata.MANUAL, principal="console"
                                ),
                            ),
                            inputs=inputs,
                        ),
                    )
                except ClientError as exc:  # the admin's refusal, shown above the form it refuses
                    refused = _refused(exc, "CreateExecution")
                    message, status = refused.message, refused.status
                else:
                    return Page(redirect=execution_url(created.id))
        return Page(
            "launch.html",
            {
                **scope,
                "title": f"Launch {ident.name}",
                "section": "launchPlans",
                "ident": ident,
                "fields": fields,
                "errors": errors,
                "message": message,
                "form": form,
            },
            status=status if errors or message else 200,
        )

    def plan_state(self, request: Request, reader: Reader) -> Page:
        scope = self._scope(request, reader)
        ident = identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=scope["project"].id,
            domain=scope["domain"],
            name=request.path_params["name"],
            version=request.path_params["version"],
        )
        plan = reader.call("GetLaunchPlan", common_pb2.ObjectGetRequest(id=ident))
        active = plan.closure.state == launch_plan_pb2.ACTIVE
        if request.method == "POST":
            wanted = launch_plan_pb2.INACTIVE if active else launch_plan_pb2.ACTIVE
            reader.call("UpdateLaunchPlan", launch_plan_pb2.LaunchPlanUpdateRequest(id=ident, state=wanted))
            return Page(redirect=version_url(ident))
        verb = "Deactivate" if active else "Activate"
        return Page(
            "confirm.html",
            {
                **scope,
                "title": f"{verb} {ident.name}?",
                "question": f"{verb} launch plan {ident.name} version {ident.version}?"
                + (
                    ""
                    if active
                    else " Its schedule (if any) starts, and other versions of it are deactivated."
                ),
                "action": verb,
                "back": version_url(ident),
            },
        )


_LIST_FIELD = {"workflows": "workflows", "tasks": "tasks", "launchPlans": "launch_plans"}
_TERMINAL = {
    core_execution_pb2.WorkflowExecution.SUCCEEDED,
    core_execution_pb2.WorkflowExecution.FAILED,
    core_execution_pb2.WorkflowExecution.ABORTED,
    core_execution_pb2.WorkflowExecution.TIMED_OUT,
}


def _unit(unit: int) -> str:
    from flyteidl.admin import schedule_pb2

    return str(schedule_pb2.FixedRateUnit.Name(unit)).lower() + "s"


def _cache_name(status: int) -> str:
    from flyteidl.core import catalog_pb2

    return str(catalog_pb2.CatalogCacheStatus.Name(status)).removeprefix("CACHE_").lower().replace("_", " ")


def _values(literals: literals_pb2.LiteralMap) -> list[tuple[str, Any]]:
    return [(name, values.python_value(literal)) for name, literal in literals.literals.items()]


def _moment(text: str, field: str) -> str:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise Refused(400, f"{field} {text!r} is not a date and time (2024-05-01T12:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _refused(exc: Exception, where: str) -> Refused:
    code, message = status_of(exc, where)
    return Refused(HTTP_STATUS.get(code, 500), message)


def _same_origin(request: Request) -> bool:
    """Whether a form post comes from a page of this server (a browser sends Origin with every POST): a page of
    another site cannot make a visitor's browser act on the console."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")
