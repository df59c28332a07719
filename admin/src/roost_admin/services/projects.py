"""Projects and domains: RegisterProject, UpdateProject, GetProject, ListProjects, GetDomains, and the default
projects every admin starts with."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flyteidl.admin import common_pb2, project_pb2
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.errors import AlreadyExists, InvalidArgument, NotFound
from roost_admin.services import validation
from roost_admin.services.base import Service
from roost_admin.services.listing import MAX_LIMIT, Field, Listing, parse_int, parse_time

log = logging.getLogger(__name__)

_PROJECT_NAME_LIMIT = 64
_PROJECT_DESCRIPTION_LIMIT = 300
_LABEL_LIMIT = 16

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


def project_message(row: models.Project, domains: Iterable[str]) -> project_pb2.Project:
    """The admin Project of a row, with the server's domains."""
    return project_pb2.Project(
        id=row.id,
        name=row.name,
        description=row.description,
        labels=common_pb2.Labels(values=row.labels),
        state=row.state,
        domains=[project_pb2.Domain(id=d, name=d) for d in domains],
    )


class Projects(Service):
    """Projects and domains."""

    def register_project(
        self, request: project_pb2.ProjectRegisterRequest
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

        self.write(work)
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

    def update_project(self, request: project_pb2.Project) -> project_pb2.ProjectUpdateResponse:
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

        self.write(work)
        return project_pb2.ProjectUpdateResponse()

    def get_project(self, request: project_pb2.ProjectGetRequest) -> project_pb2.Project:
        """One project."""
        validation.project_id(request.id, "project id")
        with self.ctx.db.session() as session:
            row = session.get(models.Project, request.id)
            if row is None:
                raise NotFound(f"project '{request.id}' does not exist")
            return project_message(row, self.ctx.settings.domains)

    def list_projects(self, request: project_pb2.ProjectListRequest) -> project_pb2.Projects:
        """Projects, archived ones only when a filter asks (flyteadmin's default). Without a limit, as many as a
        page holds: flyteadmin lists every project then, and clients (flyteconsole, a bare HTTP GET) rely on it."""
        if not request.limit:
            unlimited = project_pb2.ProjectListRequest()
            unlimited.CopyFrom(request)
            unlimited.limit = MAX_LIMIT
            request = unlimited
        query = select(models.Project)
        if not request.filters:
            query = query.where(models.Project.state != project_pb2.Project.ARCHIVED)
        domains = self.ctx.settings.domains
        projects, token = self.page(PROJECTS, query, request, lambda row: project_message(row[0], domains))
        return project_pb2.Projects(projects=projects, token=token)

    def get_domains(self, request: project_pb2.GetDomainRequest) -> project_pb2.GetDomainsResponse:
        """The configured domains."""
        return project_pb2.GetDomainsResponse(
            domains=[project_pb2.Domain(id=d, name=d) for d in self.ctx.settings.domains]
        )

    def ensure_defaults(self) -> None:
        """Create the configured default projects that do not exist yet (safe when several processes start)."""
        for project in self.ctx.settings.default_projects:
            validation.project_id(project, "default project")
            try:
                with self.ctx.db.begin() as session:
                    if session.get(models.Project, project) is None:
                        session.add(
                            models.Project(
                                id=project,
                                name=project,
                                description="",
                                labels={},
                                state=project_pb2.Project.ACTIVE,
                            )
                        )
            except IntegrityError:
                log.debug("default project %s was created concurrently", project)
