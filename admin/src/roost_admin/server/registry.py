"""Registry RPCs of the AdminService: projects and domains; tasks, workflows and launch plans; named entities
and description entities.

The work is in :mod:`roost_admin.registry`; these methods check requests, run one transaction each, and shape
responses. Lists use flyteadmin's filters, sort keys and offset tokens (:mod:`roost_admin.server.listing`) and
shrink a page when its entities would not fit in one response.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from flyteidl.admin import (
    common_pb2,
    description_entity_pb2,
    launch_plan_pb2,
    project_pb2,
    task_pb2,
    workflow_pb2,
)
from flyteidl.core import compiler_pb2
from google.protobuf.message import Message
from sqlalchemy import Select, and_, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from roost_admin import registry
from roost_admin.db import models
from roost_admin.server import validation
from roost_admin.server.errors import AlreadyExists, InvalidArgument, NotFound, rpc
from roost_admin.server.listing import Field, Listing, next_token, parse_int, parse_time

if TYPE_CHECKING:
    from roost_admin.app import AdminApp

T = TypeVar("T")

_PROJECT_NAME_LIMIT = 64
_PROJECT_DESCRIPTION_LIMIT = 300
_LABEL_LIMIT = 16
_SYSTEM_PREFIX = ".flytegen"
"""Names flyteadmin gives the workflows it generates for single-task runs; hidden from named-entity lists."""
_PAGE_SHARE = 0.9
"""The share of the message limit a page of entities may fill (the rest is headroom for framing)."""


def _versioned_fields(model: Any, prefix: str) -> dict[str, Field]:
    fields = {
        "project": Field(model.project),
        "domain": Field(model.domain),
        "name": Field(model.name),
        "version": Field(model.version),
        "created_at": Field(model.created_at, parse_time),
    }
    return {**fields, **{f"{prefix}.{key}": value for key, value in fields.items()}}


TASKS = Listing(
    "tasks",
    {
        **_versioned_fields(models.Task, "task"),
        "type": Field(models.Task.type),
        "task.type": Field(models.Task.type),
    },
    [models.Task.created_at.desc(), models.Task.id.desc()],
)
WORKFLOWS = Listing(
    "workflows",
    _versioned_fields(models.Workflow, "workflow"),
    [models.Workflow.created_at.desc(), models.Workflow.id.desc()],
)
LAUNCH_PLANS = Listing(
    "launch plans",
    {
        **_versioned_fields(models.LaunchPlan, "launch_plan"),
        "updated_at": Field(models.LaunchPlan.updated_at, parse_time),
        "state": Field(models.LaunchPlan.state, parse_int),
        "schedule_type": Field(models.LaunchPlan.schedule_type),
        "workflow.name": Field(models.Workflow.name),
        "workflow.version": Field(models.Workflow.version),
    },
    [models.LaunchPlan.created_at.desc(), models.LaunchPlan.id.desc()],
)
PROJECTS = Listing(
    "projects",
    {
        "identifier": Field(models.Project.id),
        "id": Field(models.Project.id),
        "name": Field(models.Project.name),
        "description": Field(models.Project.description),
        "state": Field(models.Project.state, parse_int),
        "created_at": Field(models.Project.created_at, parse_time),
    },
    [models.Project.id.asc()],
)
DESCRIPTIONS = Listing(
    "description entities",
    {
        "name": Field(models.DescriptionEntity.name),
        "version": Field(models.DescriptionEntity.version),
        "short_description": Field(models.DescriptionEntity.short_description),
        "created_at": Field(models.DescriptionEntity.created_at, parse_time),
    },
    [models.DescriptionEntity.created_at.desc(), models.DescriptionEntity.id.desc()],
)


def _ids_listing(model: Any) -> Listing:
    return Listing("entity names", {"name": Field(model.name)}, [model.name.asc()])


def _fit(messages: Sequence[Message], limit_bytes: int) -> int:
    """How many of the messages fit in one response (at least one)."""
    budget = int(limit_bytes * _PAGE_SHARE)
    total = 0
    for count, message in enumerate(messages):
        total += message.ByteSize() + 8
        if total > budget and count:
            return count
    return len(messages)


class RegistryRPCs:
    """The registry half of the AdminService (mixed into ``AdminService``, which sets ``app``)."""

    app: AdminApp

    # ----------------------------------------------------------------------------------------------
    # plumbing

    def _write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction; if a concurrent request inserted the same row first, run it once
        more, so it sees that row and answers as for a repeated request."""
        try:
            with self.app.db.begin() as session:
                return work(session)
        except IntegrityError:
            with self.app.db.begin() as session:
                return work(session)

    def _page(
        self,
        listing: Listing,
        query: Select[Any],
        request: Any,
        to_message: Callable[[Any], Message],
        *,
        filters: bool = True,
    ) -> tuple[list[Any], str]:
        """One page of ``query`` as messages, and the next page's token. ``request`` is a list request:
        ``limit``, ``token``, ``sort_by`` and (unless ``filters`` is False) ``filters``."""
        sort = request.sort_by if request.HasField("sort_by") else None
        paged, offset, limit = listing.page(
            query,
            filters=request.filters if filters else "",
            sort=sort,
            limit=request.limit,
            token=request.token,
        )
        with self.app.db.session() as session:
            rows, token = next_token(session.execute(paged).all(), offset, limit)
            messages = [to_message(row) for row in rows]
        fitting = _fit(messages, self.app.settings.max_message_bytes)
        if fitting < len(messages):
            return messages[:fitting], str(offset + fitting)
        return messages, token

    def _check_scope(self, project: str, domain: str, what: str) -> None:
        with self.app.db.session() as session:
            # Reading an archived project's entities (and naming them) is fine; only registering is not.
            registry.check_project_domain(session, self.app.settings, project, domain, what, writing=False)

    def _named_id(self, ident: common_pb2.NamedEntityIdentifier, what: str) -> None:
        self._check_scope(ident.project, ident.domain, what)
        validation.entity_name(ident.name, f"{what} name")

    # ----------------------------------------------------------------------------------------------
    # projects and domains

    @rpc
    def RegisterProject(
        self, request: project_pb2.ProjectRegisterRequest, context: grpc.ServicerContext
    ) -> project_pb2.ProjectRegisterResponse:
        """Create a project."""
        if not request.HasField("project"):
            raise InvalidArgument("project is required")
        project = request.project
        if not project.name:
            raise InvalidArgument("project name is required")
        self._check_project(project)

        def work(session: Session) -> None:
            if session.get(models.Project, project.id) is not None:
                raise AlreadyExists(f"project '{project.id}' already exists")
            session.add(
                models.Project(
                    id=project.id,
                    name=project.name,
                    description=project.description,
                    labels=dict(project.labels.values),
                    state=project.state,
                )
            )

        self._write(work)
        return project_pb2.ProjectRegisterResponse()

    def _check_project(self, project: project_pb2.Project) -> None:
        validation.project_id(project.id, "project id")
        if len(project.name) > _PROJECT_NAME_LIMIT:
            raise InvalidArgument(f"project name cannot exceed {_PROJECT_NAME_LIMIT} characters")
        if len(project.description) > _PROJECT_DESCRIPTION_LIMIT:
            raise InvalidArgument(
                f"project description cannot exceed {_PROJECT_DESCRIPTION_LIMIT} characters"
            )
        if len(project.labels.values) > _LABEL_LIMIT:
            raise InvalidArgument(f"project labels cannot exceed {_LABEL_LIMIT} entries")
        if project.domains:
            raise InvalidArgument(
                "project domains are set for the whole server (settings.domains); leave them out"
            )

    @rpc
    def UpdateProject(
        self, request: project_pb2.Project, context: grpc.ServicerContext
    ) -> project_pb2.ProjectUpdateResponse:
        """Change a project's name, description or labels (when given) and its state (always)."""
        self._check_project(request)

        def work(session: Session) -> None:
            row = session.get(models.Project, request.id)
            if row is None:
                raise NotFound(f"project '{request.id}' does not exist")
            if request.name:
                row.name = request.name
            if request.description:
                row.description = request.description
            if request.labels.values:
                row.labels = dict(request.labels.values)
            row.state = request.state

        self._write(work)
        return project_pb2.ProjectUpdateResponse()

    @rpc
    def GetProject(
        self, request: project_pb2.ProjectGetRequest, context: grpc.ServicerContext
    ) -> project_pb2.Project:
        """One project."""
        validation.project_id(request.id, "project id")
        with self.app.db.session() as session:
            row = session.get(models.Project, request.id)
            if row is None:
                raise NotFound(f"project '{request.id}' does not exist")
            return registry.project_message(row, self.app.settings.domains)

    @rpc
    def ListProjects(
        self, request: project_pb2.ProjectListRequest, context: grpc.ServicerContext
    ) -> project_pb2.Projects:
        """Projects, archived ones only when a filter asks (flyteadmin's default)."""
        query = select(models.Project)
        if not request.filters:
            query = query.where(models.Project.state != project_pb2.Project.ARCHIVED)
        domains = self.app.settings.domains
        projects, token = self._page(
            PROJECTS, query, request, lambda row: registry.project_message(row[0], domains)
        )
        return project_pb2.Projects(projects=projects, token=token)

    @rpc
    def GetDomains(
        self, request: project_pb2.GetDomainRequest, context: grpc.ServicerContext
    ) -> project_pb2.GetDomainsResponse:
        """The configured domains."""
        return project_pb2.GetDomainsResponse(
            domains=[project_pb2.Domain(id=d, name=d) for d in self.app.settings.domains]
        )

    # ----------------------------------------------------------------------------------------------
    # tasks

    @rpc
    def CreateTask(
        self, request: task_pb2.TaskCreateRequest, context: grpc.ServicerContext
    ) -> task_pb2.TaskCreateResponse:
        """Register a task version."""
        self._write(lambda session: registry.register_task(self.app, session, request))
        return task_pb2.TaskCreateResponse()

    @rpc
    def GetTask(self, request: common_pb2.ObjectGetRequest, context: grpc.ServicerContext) -> task_pb2.Task:
        """A task version with its compiled closure."""
        identifier = registry.entity_id(request.id, registry.TASK, self.app.settings, "task id")
        with self.app.db.session() as session:
            return registry.get_task(self.app, session, identifier)

    @rpc
    def ListTasks(
        self, request: common_pb2.ResourceListRequest, context: grpc.ServicerContext
    ) -> task_pb2.TaskList:
        """Task versions of a project and domain (and name, if given)."""
        query = self._versions_query(registry.TASK, request.id, "task")
        storage = self.app.storage
        tasks, token = self._page(TASKS, query, request, lambda row: registry.task_message(storage, row[0]))
        return task_pb2.TaskList(tasks=tasks, token=token)

    @rpc
    def ListTaskIds(
        self, request: common_pb2.NamedEntityIdentifierListRequest, context: grpc.ServicerContext
    ) -> common_pb2.NamedEntityIdentifierList:
        """The task names of a project and domain."""
        return self._list_ids(registry.TASK, request)

    def _versions_query(
        self, kind: registry.EntityKind, ident: common_pb2.NamedEntityIdentifier, what: str
    ) -> Any:
        self._check_scope(ident.project, ident.domain, f"{what} id")
        model = kind.model
        query = select(model).where(model.project == ident.project, model.domain == ident.domain)
        if ident.name:
            validation.entity_name(ident.name, f"{what} id name")
            query = query.where(model.name == ident.name)
        return query

    def _list_ids(
        self, kind: registry.EntityKind, request: common_pb2.NamedEntityIdentifierListRequest
    ) -> common_pb2.NamedEntityIdentifierList:
        self._check_scope(request.project, request.domain, "request")
        model = kind.model
        query = (
            select(model.project, model.domain, model.name)
            .where(model.project == request.project, model.domain == request.domain)
            .group_by(model.project, model.domain, model.name)
        )
        entities, token = self._page(
            _ids_listing(model),
            query,
            request,
            lambda row: common_pb2.NamedEntityIdentifier(project=row[0], domain=row[1], name=row[2]),
        )
        return common_pb2.NamedEntityIdentifierList(entities=entities, token=token)

    # ----------------------------------------------------------------------------------------------
    # workflows

    @rpc
    def CreateWorkflow(
        self, request: workflow_pb2.WorkflowCreateRequest, context: grpc.ServicerContext
    ) -> workflow_pb2.WorkflowCreateResponse:
        """Compile and register a workflow version."""
        self._write(lambda session: registry.register_workflow(self.app, session, request))
        return workflow_pb2.WorkflowCreateResponse()

    @rpc
    def GetWorkflow(
        self, request: common_pb2.ObjectGetRequest, context: grpc.ServicerContext
    ) -> workflow_pb2.Workflow:
        """A workflow version with its compiled closure (sub-workflows and every task it references)."""
        identifier = registry.entity_id(request.id, registry.WORKFLOW, self.app.settings, "workflow id")
        with self.app.db.session() as session:
            return registry.get_workflow(self.app, session, identifier)

    @rpc
    def ListWorkflows(
        self, request: common_pb2.ResourceListRequest, context: grpc.ServicerContext
    ) -> workflow_pb2.WorkflowList:
        """Workflow versions, each with its interface but not its compiled closure (as flyteadmin lists them)."""
        query = self._versions_query(registry.WORKFLOW, request.id, "workflow")
        storage = self.app.storage

        def summary(row: Any) -> workflow_pb2.Workflow:
            full = registry.workflow_message(storage, row[0])
            primary = full.closure.compiled_workflow.primary.template
            listed = workflow_pb2.Workflow(id=full.id, short_description=full.short_description)
            listed.closure.created_at.CopyFrom(full.closure.created_at)
            listed.closure.compiled_workflow.primary.CopyFrom(
                compiler_pb2.CompiledWorkflow(template={"id": primary.id, "interface": primary.interface})
            )
            return listed

        workflows, token = self._page(WORKFLOWS, query, request, summary)
        return workflow_pb2.WorkflowList(workflows=workflows, token=token)

    @rpc
    def ListWorkflowIds(
        self, request: common_pb2.NamedEntityIdentifierListRequest, context: grpc.ServicerContext
    ) -> common_pb2.NamedEntityIdentifierList:
        """The workflow names of a project and domain."""
        return self._list_ids(registry.WORKFLOW, request)

    # ----------------------------------------------------------------------------------------------
    # launch plans

    @rpc
    def CreateLaunchPlan(
        self, request: launch_plan_pb2.LaunchPlanCreateRequest, context: grpc.ServicerContext
    ) -> launch_plan_pb2.LaunchPlanCreateResponse:
        """Register a launch plan version (INACTIVE until activated)."""
        self._write(lambda session: registry.register_launch_plan(self.app, session, request))
        return launch_plan_pb2.LaunchPlanCreateResponse()

    @rpc
    def GetLaunchPlan(
        self, request: common_pb2.ObjectGetRequest, context: grpc.ServicerContext
    ) -> launch_plan_pb2.LaunchPlan:
        """A launch plan version: spec and closure (state, expected inputs and outputs, times)."""
        identifier = registry.entity_id(request.id, registry.LAUNCH_PLAN, self.app.settings, "launch plan id")
        with self.app.db.session() as session:
            return registry.get_launch_plan(self.app, session, identifier)

    @rpc
    def GetActiveLaunchPlan(
        self, request: launch_plan_pb2.ActiveLaunchPlanRequest, context: grpc.ServicerContext
    ) -> launch_plan_pb2.LaunchPlan:
        """The active version of a launch plan name."""
        ident = request.id
        self._named_id(ident, "launch plan id")
        with self.app.db.session() as session:
            row = registry.active_launch_plan_row(session, ident.project, ident.domain, ident.name)
            if row is None:
                raise NotFound(
                    f"launch plan '{ident.project}/{ident.domain}/{ident.name}' has no active version"
                )
            return registry.launch_plan_message(self.app.storage, row)

    @rpc
    def ListActiveLaunchPlans(
        self, request: launch_plan_pb2.ActiveLaunchPlanListRequest, context: grpc.ServicerContext
    ) -> launch_plan_pb2.LaunchPlanList:
        """The active launch plans of a project and domain."""
        self._check_scope(request.project, request.domain, "request")
        query = self._launch_plans_query().where(
            models.LaunchPlan.project == request.project,
            models.LaunchPlan.domain == request.domain,
            models.LaunchPlan.state == registry.ACTIVE,
        )
        storage = self.app.storage
        plans, token = self._page(
            LAUNCH_PLANS,
            query,
            request,
            lambda row: registry.launch_plan_message(storage, row[0]),
            filters=False,
        )
        return launch_plan_pb2.LaunchPlanList(launch_plans=plans, token=token)

    @rpc
    def ListLaunchPlans(
        self, request: common_pb2.ResourceListRequest, context: grpc.ServicerContext
    ) -> launch_plan_pb2.LaunchPlanList:
        """Launch plan versions of a project and domain (and name, if given)."""
        ident = request.id
        self._check_scope(ident.project, ident.domain, "launch plan id")
        query = self._launch_plans_query().where(
            models.LaunchPlan.project == ident.project, models.LaunchPlan.domain == ident.domain
        )
        if ident.name:
            validation.entity_name(ident.name, "launch plan id name")
            query = query.where(models.LaunchPlan.name == ident.name)
        storage = self.app.storage
        plans, token = self._page(
            LAUNCH_PLANS, query, request, lambda row: registry.launch_plan_message(storage, row[0])
        )
        return launch_plan_pb2.LaunchPlanList(launch_plans=plans, token=token)

    @staticmethod
    def _launch_plans_query() -> Select[Any]:
        # Joined so that filters can name the workflow (workflow.name, workflow.version).
        return select(models.LaunchPlan).join(
            models.Workflow, models.LaunchPlan.workflow_id == models.Workflow.id
        )

    @rpc
    def ListLaunchPlanIds(
        self, request: common_pb2.NamedEntityIdentifierListRequest, context: grpc.ServicerContext
    ) -> common_pb2.NamedEntityIdentifierList:
        """The launch plan names of a project and domain."""
        return self._list_ids(registry.LAUNCH_PLAN, request)

    @rpc
    def UpdateLaunchPlan(
        self, request: launch_plan_pb2.LaunchPlanUpdateRequest, context: grpc.ServicerContext
    ) -> launch_plan_pb2.LaunchPlanUpdateResponse:
        """Activate a version (deactivating the name's others) or deactivate it. Schedules are stored, not run."""
        identifier = registry.entity_id(request.id, registry.LAUNCH_PLAN, self.app.settings, "launch plan id")

        def work(session: Session) -> None:
            row = registry.get_row(session, registry.LAUNCH_PLAN, identifier)
            registry.set_launch_plan_state(session, row, request.state)

        self._write(work)
        return launch_plan_pb2.LaunchPlanUpdateResponse()

    # ----------------------------------------------------------------------------------------------
    # named entities

    def _names(self, kind: registry.EntityKind, project: str, domain: str) -> Any:
        """The names of a kind in a project and domain, with their metadata (defaults where none was set)."""
        model = kind.model
        names = (
            select(model.project, model.domain, model.name)
            .where(model.project == project, model.domain == domain)
            .group_by(model.project, model.domain, model.name)
            .subquery("names")
        )
        meta = models.NamedEntityMetadata
        joined = names.outerjoin(
            meta,
            and_(
                meta.resource_type == kind.resource_type,
                meta.project == names.c.project,
                meta.domain == names.c.domain,
                meta.name == names.c.name,
            ),
        )
        description = func.coalesce(meta.description, literal(""))
        state = func.coalesce(meta.state, literal(0))
        query = select(names.c.project, names.c.domain, names.c.name, description, state).select_from(joined)
        listing = Listing(
            "named entities",
            {
                "name": Field(names.c.name),
                "description": Field(description),
                "state": Field(state, parse_int),
                "named_entity.name": Field(names.c.name),
                "named_entity.description": Field(description),
                "named_entity.state": Field(state, parse_int),
            },
            [names.c.name.asc()],
        )
        return query, listing, names

    @staticmethod
    def _named_entity(kind: registry.EntityKind, row: Any) -> common_pb2.NamedEntity:
        return common_pb2.NamedEntity(
            resource_type=kind.resource_type,
            id=common_pb2.NamedEntityIdentifier(project=row[0], domain=row[1], name=row[2]),
            metadata=common_pb2.NamedEntityMetadata(description=row[3], state=row[4]),
        )

    @rpc
    def ListNamedEntities(
        self, request: common_pb2.NamedEntityListRequest, context: grpc.ServicerContext
    ) -> common_pb2.NamedEntityList:
        """The names of one kind in a project and domain, with their description and state."""
        kind = registry.kind_of(request.resource_type)
        self._check_scope(request.project, request.domain, "request")
        query, listing, names = self._names(kind, request.project, request.domain)
        if not request.filters:
            query = query.where(~names.c.name.startswith(_SYSTEM_PREFIX, autoescape=True))
        entities, token = self._page(listing, query, request, lambda row: self._named_entity(kind, row))
        return common_pb2.NamedEntityList(entities=entities, token=token)

    @rpc
    def GetNamedEntity(
        self, request: common_pb2.NamedEntityGetRequest, context: grpc.ServicerContext
    ) -> common_pb2.NamedEntity:
        """One name with its description and state."""
        kind = registry.kind_of(request.resource_type)
        ident = request.id
        self._named_id(ident, "id")
        query, _, names = self._names(kind, ident.project, ident.domain)
        with self.app.db.session() as session:
            row = session.execute(query.where(names.c.name == ident.name)).first()
        if row is None:
            raise NotFound(
                f"no {kind.noun} named '{ident.project}/{ident.domain}/{ident.name}' is registered"
            )
        return self._named_entity(kind, row)

    @rpc
    def UpdateNamedEntity(
        self, request: common_pb2.NamedEntityUpdateRequest, context: grpc.ServicerContext
    ) -> common_pb2.NamedEntityUpdateResponse:
        """Set a name's description and state."""
        kind = registry.kind_of(request.resource_type)
        ident = request.id
        self._named_id(ident, "id")
        state = request.metadata.state
        model = kind.model

        def work(session: Session) -> None:
            exists = session.scalars(
                select(model.id)
                .where(model.project == ident.project, model.domain == ident.domain, model.name == ident.name)
                .limit(1)
            ).first()
            if exists is None:
                raise NotFound(
                    f"no {kind.noun} named '{ident.project}/{ident.domain}/{ident.name}' is registered"
                )
            key = (kind.resource_type, ident.project, ident.domain, ident.name)
            row = session.get(models.NamedEntityMetadata, key)
            if row is None:
                row = models.NamedEntityMetadata(
                    resource_type=kind.resource_type,
                    project=ident.project,
                    domain=ident.domain,
                    name=ident.name,
                )
                session.add(row)
            row.description = request.metadata.description
            row.state = state

        self._write(work)
        return common_pb2.NamedEntityUpdateResponse()

    # ----------------------------------------------------------------------------------------------
    # description entities

    @rpc
    def GetDescriptionEntity(
        self, request: common_pb2.ObjectGetRequest, context: grpc.ServicerContext
    ) -> description_entity_pb2.DescriptionEntity:
        """The description registered with a task or workflow version."""
        kind = registry.kind_of(request.id.resource_type, "id resource_type")
        identifier = registry.entity_id(request.id, kind, self.app.settings, "id")
        entity = models.DescriptionEntity
        with self.app.db.session() as session:
            row = session.scalars(
                select(entity).where(
                    entity.resource_type == kind.resource_type,
                    entity.project == identifier.project,
                    entity.domain == identifier.domain,
                    entity.name == identifier.name,
                    entity.version == identifier.version,
                )
            ).one_or_none()
            if row is None:
                raise NotFound(
                    f"{kind.noun} '{registry.entity_text(identifier)}' has no description "
                    "(it is not registered, or was registered without one)"
                )
            return registry.description_message(row)

    @rpc
    def ListDescriptionEntities(
        self, request: description_entity_pb2.DescriptionEntityListRequest, context: grpc.ServicerContext
    ) -> description_entity_pb2.DescriptionEntityList:
        """The descriptions of a task or workflow name's versions."""
        kind = registry.kind_of(request.resource_type)
        ident = request.id
        self._named_id(ident, "id")
        entity = models.DescriptionEntity
        query = select(entity).where(
            entity.resource_type == kind.resource_type,
            entity.project == ident.project,
            entity.domain == ident.domain,
            entity.name == ident.name,
        )
        descriptions, token = self._page(
            DESCRIPTIONS, query, request, lambda row: registry.description_message(row[0])
        )
        return description_entity_pb2.DescriptionEntityList(descriptionEntities=descriptions, token=token)
