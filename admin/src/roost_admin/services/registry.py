"""The registry: tasks, workflows and launch plans (registering, reading, listing, activating), named entities
and description entities.

The work on entities is in :mod:`roost_admin.services.entities`; these methods check requests, run one
transaction each, and shape responses. Lists use flyteadmin's filters, sort keys and offset tokens
(:mod:`roost_admin.services.listing`) and shrink a page when its entities would not fit in one response.
"""

from __future__ import annotations

from typing import Any

from flyteidl.admin import (
    common_pb2,
    description_entity_pb2,
    launch_plan_pb2,
    task_pb2,
    workflow_pb2,
)
from flyteidl.core import compiler_pb2
from sqlalchemy import Select, and_, func, literal, select
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.errors import NotFound
from roost_admin.services import entities, scheduler, validation
from roost_admin.services.base import Service
from roost_admin.services.listing import Field, Listing, parse_int, parse_time

_SYSTEM_PREFIX = ".flytegen"
"""Names flyteadmin gives the workflows it generates for single-task runs; hidden from named-entity lists."""


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


class Registry(Service):
    """Tasks, workflows, launch plans, named entities and description entities."""

    # ----------------------------------------------------------------------------------------------
    # tasks

    def create_task(self, request: task_pb2.TaskCreateRequest) -> task_pb2.TaskCreateResponse:
        """Register a task version."""
        self.write(lambda session: entities.register_task(self.ctx, session, request))
        return task_pb2.TaskCreateResponse()

    def get_task(self, request: common_pb2.ObjectGetRequest) -> task_pb2.Task:
        """A task version with its compiled closure."""
        identifier = entities.entity_id(request.id, entities.TASK, self.ctx.settings, "task id")
        with self.ctx.db.session() as session:
            return entities.get_task(self.ctx, session, identifier)

    def list_tasks(self, request: common_pb2.ResourceListRequest) -> task_pb2.TaskList:
        """Task versions of a project and domain (and name, if given)."""
        query = self._versions_query(entities.TASK, request.id, "task")
        ctx = self.ctx
        tasks, token = self.page(TASKS, query, request, lambda row: entities.task_message(ctx, row[0]))
        return task_pb2.TaskList(tasks=tasks, token=token)

    def list_task_ids(
        self, request: common_pb2.NamedEntityIdentifierListRequest
    ) -> common_pb2.NamedEntityIdentifierList:
        """The task names of a project and domain."""
        return self._list_ids(entities.TASK, request)

    def _versions_query(
        self, kind: entities.EntityKind, ident: common_pb2.NamedEntityIdentifier, what: str
    ) -> Any:
        self.check_scope(ident.project, ident.domain, f"{what} id")
        model = kind.model
        query = select(model).where(model.project == ident.project, model.domain == ident.domain)
        if ident.name:
            validation.entity_name(ident.name, f"{what} id name")
            query = query.where(model.name == ident.name)
        return query

    def _list_ids(
        self, kind: entities.EntityKind, request: common_pb2.NamedEntityIdentifierListRequest
    ) -> common_pb2.NamedEntityIdentifierList:
        self.check_scope(request.project, request.domain, "request")
        model = kind.model
        query = (
            select(model.project, model.domain, model.name)
            .where(model.project == request.project, model.domain == request.domain)
            .group_by(model.project, model.domain, model.name)
        )
        names, token = self.page(
            _ids_listing(model),
            query,
            request,
            lambda row: common_pb2.NamedEntityIdentifier(project=row[0], domain=row[1], name=row[2]),
        )
        return common_pb2.NamedEntityIdentifierList(entities=names, token=token)

    # ----------------------------------------------------------------------------------------------
    # workflows

    def create_workflow(
        self, request: workflow_pb2.WorkflowCreateRequest
    ) -> workflow_pb2.WorkflowCreateResponse:
        """Compile and register a workflow version."""
        self.write(lambda session: entities.register_workflow(self.ctx, session, request))
        return workflow_pb2.WorkflowCreateResponse()

    def get_workflow(self, request: common_pb2.ObjectGetRequest) -> workflow_pb2.Workflow:
        """A workflow version with its compiled closure (sub-workflows and every task it references)."""
        identifier = entities.entity_id(request.id, entities.WORKFLOW, self.ctx.settings, "workflow id")
        with self.ctx.db.session() as session:
            return entities.get_workflow(self.ctx, session, identifier)

    def list_workflows(self, request: common_pb2.ResourceListRequest) -> workflow_pb2.WorkflowList:
        """Workflow versions, each with its interface but not its compiled closure (as flyteadmin lists them)."""
        query = self._versions_query(entities.WORKFLOW, request.id, "workflow")
        ctx = self.ctx

        def summary(row: Any) -> workflow_pb2.Workflow:
            full = entities.workflow_message(ctx, row[0])
            primary = full.closure.compiled_workflow.primary.template
            listed = workflow_pb2.Workflow(id=full.id, short_description=full.short_description)
            listed.closure.created_at.CopyFrom(full.closure.created_at)
            listed.closure.compiled_workflow.primary.CopyFrom(
                compiler_pb2.CompiledWorkflow(template={"id": primary.id, "interface": primary.interface})
            )
            return listed

        workflows, token = self.page(WORKFLOWS, query, request, summary)
        return workflow_pb2.WorkflowList(workflows=workflows, token=token)

    def list_workflow_ids(
        self, request: common_pb2.NamedEntityIdentifierListRequest
    ) -> common_pb2.NamedEntityIdentifierList:
        """The workflow names of a project and domain."""
        return self._list_ids(entities.WORKFLOW, request)

    # ----------------------------------------------------------------------------------------------
    # launch plans

    def create_launch_plan(
        self, request: launch_plan_pb2.LaunchPlanCreateRequest
    ) -> launch_plan_pb2.LaunchPlanCreateResponse:
        """Register a launch plan version (INACTIVE until activated)."""
        self.write(lambda session: entities.register_launch_plan(self.ctx, session, request))
        return launch_plan_pb2.LaunchPlanCreateResponse()

    def get_launch_plan(self, request: common_pb2.ObjectGetRequest) -> launch_plan_pb2.LaunchPlan:
        """A launch plan version: spec and closure (state, expected inputs and outputs, times)."""
        identifier = entities.entity_id(request.id, entities.LAUNCH_PLAN, self.ctx.settings, "launch plan id")
        with self.ctx.db.session() as session:
            return entities.get_launch_plan(self.ctx, session, identifier)

    def get_active_launch_plan(
        self, request: launch_plan_pb2.ActiveLaunchPlanRequest
    ) -> launch_plan_pb2.LaunchPlan:
        """The active version of a launch plan name."""
        ident = request.id
        self.check_named_id(ident, "launch plan id")
        with self.ctx.db.session() as session:
            row = entities.active_launch_plan_row(session, ident.project, ident.domain, ident.name)
            if row is None:
                raise NotFound(
                    f"launch plan '{ident.project}/{ident.domain}/{ident.name}' has no active version"
                )
            return entities.launch_plan_message(self.ctx, row)

    def list_active_launch_plans(
        self, request: launch_plan_pb2.ActiveLaunchPlanListRequest
    ) -> launch_plan_pb2.LaunchPlanList:
        """The active launch plans of a project and domain."""
        self.check_scope(request.project, request.domain, "request")
        query = self._launch_plans_query().where(
            models.LaunchPlan.project == request.project,
            models.LaunchPlan.domain == request.domain,
            models.LaunchPlan.state == entities.ACTIVE,
        )
        ctx = self.ctx
        plans, token = self.page(
            LAUNCH_PLANS,
            query,
            request,
            lambda row: entities.launch_plan_message(ctx, row[0]),
            filters=False,
        )
        return launch_plan_pb2.LaunchPlanList(launch_plans=plans, token=token)

    def list_launch_plans(self, request: common_pb2.ResourceListRequest) -> launch_plan_pb2.LaunchPlanList:
        """Launch plan versions of a project and domain (and name, if given)."""
        ident = request.id
        self.check_scope(ident.project, ident.domain, "launch plan id")
        query = self._launch_plans_query().where(
            models.LaunchPlan.project == ident.project, models.LaunchPlan.domain == ident.domain
        )
        if ident.name:
            validation.entity_name(ident.name, "launch plan id name")
            query = query.where(models.LaunchPlan.name == ident.name)
        ctx = self.ctx
        plans, token = self.page(
            LAUNCH_PLANS, query, request, lambda row: entities.launch_plan_message(ctx, row[0])
        )
        return launch_plan_pb2.LaunchPlanList(launch_plans=plans, token=token)

    @staticmethod
    def _launch_plans_query() -> Select[Any]:
        # Joined so that filters can name the workflow (workflow.name, workflow.version).
        return select(models.LaunchPlan).join(
            models.Workflow, models.LaunchPlan.workflow_id == models.Workflow.id
        )

    def list_launch_plan_ids(
        self, request: common_pb2.NamedEntityIdentifierListRequest
    ) -> common_pb2.NamedEntityIdentifierList:
        """The launch plan names of a project and domain."""
        return self._list_ids(entities.LAUNCH_PLAN, request)

    def update_launch_plan(
        self, request: launch_plan_pb2.LaunchPlanUpdateRequest
    ) -> launch_plan_pb2.LaunchPlanUpdateResponse:
        """Activate a version (deactivating the name's others) or deactivate it; its schedule, if it has one,
        starts (replacing the previous version's) or stops with it."""
        identifier = entities.entity_id(request.id, entities.LAUNCH_PLAN, self.ctx.settings, "launch plan id")

        def work(session: Session) -> None:
            row = entities.get_row(session, entities.LAUNCH_PLAN, identifier)
            if request.state == entities.ACTIVE:
                plan = entities.launch_plan_message(self.ctx, row)
                entities.check_notifications(
                    self.ctx, f"launch plan '{entities.entity_text(identifier)}'", plan.spec
                )
            entities.set_launch_plan_state(session, row, request.state)
            scheduler.on_state_change(self.ctx, session, row)

        self.write(work)
        return launch_plan_pb2.LaunchPlanUpdateResponse()

    # ----------------------------------------------------------------------------------------------
    # named entities

    def _names(self, kind: entities.EntityKind, project: str, domain: str) -> Any:
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
    def _named_entity(kind: entities.EntityKind, row: Any) -> common_pb2.NamedEntity:
        return common_pb2.NamedEntity(
            resource_type=kind.resource_type,
            id=common_pb2.NamedEntityIdentifier(project=row[0], domain=row[1], name=row[2]),
            metadata=common_pb2.NamedEntityMetadata(description=row[3], state=row[4]),
        )

    def list_named_entities(self, request: common_pb2.NamedEntityListRequest) -> common_pb2.NamedEntityList:
        """The names of one kind in a project and domain, with their description and state."""
        kind = entities.kind_of(request.resource_type)
        self.check_scope(request.project, request.domain, "request")
        query, listing, names = self._names(kind, request.project, request.domain)
        if not request.filters:
            query = query.where(~names.c.name.startswith(_SYSTEM_PREFIX, autoescape=True))
        found, token = self.page(listing, query, request, lambda row: self._named_entity(kind, row))
        return common_pb2.NamedEntityList(entities=found, token=token)

    def get_named_entity(self, request: common_pb2.NamedEntityGetRequest) -> common_pb2.NamedEntity:
        """One name with its description and state."""
        kind = entities.kind_of(request.resource_type)
        ident = request.id
        self.check_named_id(ident, "id")
        query, _, names = self._names(kind, ident.project, ident.domain)
        with self.ctx.db.session() as session:
            row = session.execute(query.where(names.c.name == ident.name)).first()
        if row is None:
            raise NotFound(
                f"no {kind.noun} named '{ident.project}/{ident.domain}/{ident.name}' is registered"
            )
        return self._named_entity(kind, row)

    def update_named_entity(
        self, request: common_pb2.NamedEntityUpdateRequest
    ) -> common_pb2.NamedEntityUpdateResponse:
        """Set a name's description and state."""
        kind = entities.kind_of(request.resource_type)
        ident = request.id
        self.check_named_id(ident, "id")
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

        self.write(work)
        return common_pb2.NamedEntityUpdateResponse()

    # ----------------------------------------------------------------------------------------------
    # description entities

    def get_description_entity(
        self, request: common_pb2.ObjectGetRequest
    ) -> description_entity_pb2.DescriptionEntity:
        """The description registered with a task or workflow version."""
        kind = entities.kind_of(request.id.resource_type, "id resource_type")
        identifier = entities.entity_id(request.id, kind, self.ctx.settings, "id")
        entity = models.DescriptionEntity
        with self.ctx.db.session() as session:
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
                    f"{kind.noun} '{entities.entity_text(identifier)}' has no description "
                    "(it is not registered, or was registered without one)"
                )
            return entities.description_message(row)

    def list_description_entities(
        self, request: description_entity_pb2.DescriptionEntityListRequest
    ) -> description_entity_pb2.DescriptionEntityList:
        """The descriptions of a task or workflow name's versions."""
        kind = entities.kind_of(request.resource_type)
        ident = request.id
        self.check_named_id(ident, "id")
        entity = models.DescriptionEntity
        query = select(entity).where(
            entity.resource_type == kind.resource_type,
            entity.project == ident.project,
            entity.domain == ident.domain,
            entity.name == ident.name,
        )
        descriptions, token = self.page(
            DESCRIPTIONS, query, request, lambda row: entities.description_message(row[0])
        )
        return description_entity_pb2.DescriptionEntityList(descriptionEntities=descriptions, token=token)
