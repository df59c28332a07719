"""Matchable attributes: the project, project-domain and workflow attribute RPCs and ListMatchableAttributes,
with flyteadmin's semantics.

One row per kind (``MatchableResource``) and scope: a project (domain and workflow empty), a project and
domain, or a workflow in one. An update replaces the scope's attribute of that kind, except PLUGIN_OVERRIDE,
whose overrides are merged into the stored ones by task type (as flyteadmin merges them). Get and delete
of a scope that has none are NOT_FOUND. How the stored attributes apply to a new execution is
:mod:`roost_admin.services.resolution`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flyteidl.admin import matchable_resource_pb2 as mr
from flyteidl.admin import project_attributes_pb2 as pa
from flyteidl.admin import project_domain_attributes_pb2 as pda
from flyteidl.admin import workflow_attributes_pb2 as wa
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.errors import InvalidArgument, NotFound
from roost_admin.services import attribute_checks, entities, validation
from roost_admin.services.base import Service


@dataclass(frozen=True)
class Scope:
    """Where an attribute applies: a project, a project and domain, or a workflow (by name) in one."""

    project: str
    domain: str = ""
    workflow: str = ""

    def describe(self) -> str:
        """``project 'p'``, ``project 'p' domain 'd'`` or ``workflow 'w' in project 'p' domain 'd'``."""
        if self.workflow:
            return f"workflow '{self.workflow}' in project '{self.project}' domain '{self.domain}'"
        if self.domain:
            return f"project '{self.project}' domain '{self.domain}'"
        return f"project '{self.project}'"


def _merge_plugin_overrides(stored: mr.MatchingAttributes, given: mr.MatchingAttributes) -> None:
    """``given``'s plugin overrides, plus the stored ones for the task types it does not name."""
    named = {override.task_type for override in given.plugin_overrides.overrides}
    kept = [o for o in stored.plugin_overrides.overrides if o.task_type not in named]
    merged = list(given.plugin_overrides.overrides) + kept
    given.plugin_overrides.ClearField("overrides")
    given.plugin_overrides.overrides.extend(sorted(merged, key=lambda o: o.task_type))


def find(session: Session, scope: Scope, kind: int) -> models.MatchableAttribute | None:
    """The row of exactly this scope and kind."""
    return session.scalars(
        select(models.MatchableAttribute).where(
            models.MatchableAttribute.resource_type == kind,
            models.MatchableAttribute.project == scope.project,
            models.MatchableAttribute.domain == scope.domain,
            models.MatchableAttribute.workflow == scope.workflow,
            models.MatchableAttribute.launch_plan == "",
        )
    ).first()


def attributes_of(row: models.MatchableAttribute) -> mr.MatchingAttributes:
    """The stored attribute of a row."""
    return mr.MatchingAttributes.FromString(row.attributes)


class Attributes(Service):
    """The nine attribute RPCs and ListMatchableAttributes."""

    # scope checks

    def _scope(self, session: Session, scope: Scope, what: str, *, writing: bool) -> None:
        settings = self.ctx.settings
        if scope.domain:
            entities.check_project_domain(
                session, settings, scope.project, scope.domain, what, writing=writing
            )
        else:
            validation.project_id(scope.project, f"{what} project")
            if session.get(models.Project, scope.project) is None:
                raise NotFound(f"project '{scope.project}' does not exist")

    # the three operations, for any scope

    def _update(self, scope: Scope, attributes: mr.MatchingAttributes, what: str) -> None:
        kind = attribute_checks.check(attributes, f"{what}.matching_attributes")

        def work(session: Session) -> None:
            self._scope(session, scope, what, writing=True)
            given = mr.MatchingAttributes()
            given.CopyFrom(attributes)
            row = find(session, scope, kind)
            if row is not None and kind == mr.PLUGIN_OVERRIDE:
                _merge_plugin_overrides(attributes_of(row), given)
            now = self.ctx.clock()
            if row is None:
                session.add(
                    models.MatchableAttribute(
                        resource_type=kind,
                        project=scope.project,
                        domain=scope.domain,
                        workflow=scope.workflow,
                        launch_plan="",
                        attributes=given.SerializeToString(),
                        updated_at=now,
                    )
                )
            else:
                row.attributes = given.SerializeToString()
                row.updated_at = now

        self.write(work)

    def _get(self, scope: Scope, kind: int, what: str) -> mr.MatchingAttributes:
        attribute_checks.check_kind(kind, f"{what}.resource_type")
        with self.ctx.db.session() as session:
            self._scope(session, scope, what, writing=False)
            row = find(session, scope, kind)
            if row is None:
                raise NotFound(f"{scope.describe()} has no {attribute_checks.kind_name(kind)} attributes")
            return attributes_of(row)

    def _delete(self, scope: Scope, kind: int, what: str) -> None:
        attribute_checks.check_kind(kind, f"{what}.resource_type")

        def work(session: Session) -> None:
            self._scope(session, scope, what, writing=False)
            row = find(session, scope, kind)
            if row is None:
                raise NotFound(f"{scope.describe()} has no {attribute_checks.kind_name(kind)} attributes")
            session.execute(delete(models.MatchableAttribute).where(models.MatchableAttribute.id == row.id))

        self.write(work)

    # project

    def update_project_attributes(
        self, request: pa.ProjectAttributesUpdateRequest
    ) -> pa.ProjectAttributesUpdateResponse:
        """Set a project's attribute of one kind."""
        if not request.HasField("attributes"):
            raise InvalidArgument("attributes is required", field="attributes")
        given = request.attributes
        self._update(Scope(given.project), given.matching_attributes, "attributes")
        return pa.ProjectAttributesUpdateResponse()

    def get_project_attributes(
        self, request: pa.ProjectAttributesGetRequest
    ) -> pa.ProjectAttributesGetResponse:
        """A project's attribute of one kind."""
        found = self._get(Scope(request.project), request.resource_type, "request")
        return pa.ProjectAttributesGetResponse(
            attributes=pa.ProjectAttributes(project=request.project, matching_attributes=found)
        )

    def delete_project_attributes(
        self, request: pa.ProjectAttributesDeleteRequest
    ) -> pa.ProjectAttributesDeleteResponse:
        """Remove a project's attribute of one kind."""
        self._delete(Scope(request.project), request.resource_type, "request")
        return pa.ProjectAttributesDeleteResponse()

    # project and domain

    def update_project_domain_attributes(
        self, request: pda.ProjectDomainAttributesUpdateRequest
    ) -> pda.ProjectDomainAttributesUpdateResponse:
        """Set a project and domain's attribute of one kind."""
        if not request.HasField("attributes"):
            raise InvalidArgument("attributes is required", field="attributes")
        given = request.attributes
        self._update(
            Scope(given.project, _domain(given.domain, "attributes.domain")),
            given.matching_attributes,
            "attributes",
        )
        return pda.ProjectDomainAttributesUpdateResponse()

    def get_project_domain_attributes(
        self, request: pda.ProjectDomainAttributesGetRequest
    ) -> pda.ProjectDomainAttributesGetResponse:
        """A project and domain's attribute of one kind."""
        found = self._get(
            Scope(request.project, _domain(request.domain, "domain")), request.resource_type, "request"
        )
        return pda.ProjectDomainAttributesGetResponse(
            attributes=pda.ProjectDomainAttributes(
                project=request.project, domain=request.domain, matching_attributes=found
            )
        )

    def delete_project_domain_attributes(
        self, request: pda.ProjectDomainAttributesDeleteRequest
    ) -> pda.ProjectDomainAttributesDeleteResponse:
        """Remove a project and domain's attribute of one kind."""
        self._delete(
            Scope(request.project, _domain(request.domain, "domain")), request.resource_type, "request"
        )
        return pda.ProjectDomainAttributesDeleteResponse()

    # workflow

    def update_workflow_attributes(
        self, request: wa.WorkflowAttributesUpdateRequest
    ) -> wa.WorkflowAttributesUpdateResponse:
        """Set a workflow's attribute of one kind (the workflow need not be registered yet)."""
        if not request.HasField("attributes"):
            raise InvalidArgument("attributes is required", field="attributes")
        given = request.attributes
        scope = Scope(
            given.project,
            _domain(given.domain, "attributes.domain"),
            _workflow(given.workflow, "attributes.workflow"),
        )
        self._update(scope, given.matching_attributes, "attributes")
        return wa.WorkflowAttributesUpdateResponse()

    def get_workflow_attributes(
        self, request: wa.WorkflowAttributesGetRequest
    ) -> wa.WorkflowAttributesGetResponse:
        """A workflow's attribute of one kind."""
        scope = Scope(
            request.project, _domain(request.domain, "domain"), _workflow(request.workflow, "workflow")
        )
        found = self._get(scope, request.resource_type, "request")
        return wa.WorkflowAttributesGetResponse(
            attributes=wa.WorkflowAttributes(
                project=request.project,
                domain=request.domain,
                workflow=request.workflow,
                matching_attributes=found,
            )
        )

    def delete_workflow_attributes(
        self, request: wa.WorkflowAttributesDeleteRequest
    ) -> wa.WorkflowAttributesDeleteResponse:
        """Remove a workflow's attribute of one kind."""
        scope = Scope(
            request.project, _domain(request.domain, "domain"), _workflow(request.workflow, "workflow")
        )
        self._delete(scope, request.resource_type, "request")
        return wa.WorkflowAttributesDeleteResponse()

    # every scope

    def list_matchable_attributes(
        self, request: mr.ListMatchableAttributesRequest
    ) -> mr.ListMatchableAttributesResponse:
        """Every stored attribute of one kind, broadest scope first."""
        kind = attribute_checks.check_kind(request.resource_type, "resource_type")
        table = models.MatchableAttribute
        with self.ctx.db.session() as session:
            rows = session.scalars(
                select(table)
                .where(table.resource_type == kind)
                .order_by(table.project, table.domain, table.workflow, table.launch_plan)
            ).all()
            return mr.ListMatchableAttributesResponse(
                configurations=[
                    mr.MatchableAttributesConfiguration(
                        attributes=attributes_of(row),
                        project=row.project,
                        domain=row.domain,
                        workflow=row.workflow,
                        launch_plan=row.launch_plan,
                    )
                    for row in rows
                ]
            )


def _workflow(name: str, what: str) -> str:
    """A workflow name, required (flyteadmin's check)."""
    if not name:
        raise InvalidArgument(f"{what} is required", field=what)
    return validation.entity_name(name, what)


def _domain(domain: str, what: str) -> str:
    """A domain, required at the project-domain and workflow levels."""
    if not domain:
        raise InvalidArgument(f"{what} is required", field=what)
    return domain
