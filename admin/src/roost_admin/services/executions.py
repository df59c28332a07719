"""Executions: creating, relaunching, terminating, archiving, reading and listing them, and the child
executions the engine launches for launch-plan nodes.

Each operation runs in one transaction. Creating goes through :mod:`roost_admin.services.launching`; messages
are built by :mod:`roost_admin.services.views`. After a change that gives the engine work (a new execution, a
termination), the context's wake-ups are announced, so this process's engine workers look at once; workers in
other processes find it at their next poll.
"""

from __future__ import annotations

import logging

from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from roost_admin.db import models
from roost_admin.errors import AlreadyExists, InvalidArgument
from roost_admin.services import launching, validation, views
from roost_admin.services.base import Service
from roost_admin.services.listing import (
    Field,
    Listing,
    Seek,
    enum_parser,
    parse_filters,
    parse_number,
    parse_time,
    prefixed,
    rows_page,
)
from roost_admin.services.rows import (
    TERMINAL_WORKFLOW,
    execution_key,
    find_execution,
    get_execution,
)
from roost_core.engine import ChildRequest, ChildStatus, WorkflowPhase
from roost_core.errors import ErrorKind, ExecutionError

log = logging.getLogger(__name__)

_TIME = parse_time
_E = models.Execution
_OWN_FIELDS = {
    "project": Field(_E.project),
    "domain": Field(_E.domain),
    "name": Field(_E.name),
    "phase": Field(_E.phase, enum_parser(core_execution_pb2.WorkflowExecution.Phase)),
    "state": Field(_E.state, enum_parser(execution_pb2.ExecutionState)),
    "mode": Field(_E.mode, enum_parser(execution_pb2.ExecutionMetadata.ExecutionMode)),
    "user": Field(_E.principal),
    "principal": Field(_E.principal),
    "error_code": Field(_E.error_code),
    "created_at": Field(_E.created_at, _TIME),
    "execution_created_at": Field(_E.created_at, _TIME),
    "updated_at": Field(_E.updated_at, _TIME),
    "execution_updated_at": Field(_E.updated_at, _TIME),
    "started_at": Field(_E.started_at, _TIME),
    "duration": Field(_E.duration, parse_number),
}
EXECUTIONS = Listing(
    "executions",
    {
        **prefixed("execution", _OWN_FIELDS),
        "launch_plan.name": Field(models.LaunchPlan.name),
        "launch_plan.version": Field(models.LaunchPlan.version),
        "workflow.name": Field(models.Workflow.name),
        "workflow.version": Field(models.Workflow.version),
        "task.name": Field(models.Task.name),
        "task.version": Field(models.Task.version),
    },
    [_E.created_at.desc(), _E.id.desc()],
    # The execution's own columns hold a value in every row but ``started_at`` (NULL until it starts); the
    # joined names are NULL for task executions. Lists sorted by the others page by keyset.
    seek=Seek(
        (_E.created_at, _E.id),
        frozenset(prefixed("execution", {k: f for k, f in _OWN_FIELDS.items() if k != "started_at"})),
    ),
)


def _inherit(child: execution_pb2.ExecutionSpec, parent: execution_pb2.ExecutionSpec) -> None:
    """What flytepropeller's launch-plan executor copies from the parent execution into the child's request."""
    child.labels.CopyFrom(parent.labels)
    child.annotations.CopyFrom(parent.annotations)
    child.raw_output_data_config.CopyFrom(parent.raw_output_data_config)
    child.max_parallelism = parent.max_parallelism
    if parent.HasField("interruptible"):
        child.interruptible.CopyFrom(parent.interruptible)
    child.overwrite_cache = parent.overwrite_cache
    child.envs.CopyFrom(parent.envs)
    if parent.HasField("security_context"):
        child.security_context.CopyFrom(parent.security_context)


def _split(key: str) -> tuple[str, str, str]:
    project, domain, name = key.split("/", 2)
    return project, domain, name


class Executions(Service):
    """Executions of launch plans and tasks."""

    def create_execution(
        self, request: execution_pb2.ExecutionCreateRequest
    ) -> execution_pb2.ExecutionCreateResponse:
        """Create and queue an execution of a launch plan (or of a single task)."""
        if not request.HasField("spec"):
            raise InvalidArgument("spec is required")
        with self.ctx.db.begin() as session:
            ident = launching.create_execution(
                self.ctx,
                session,
                project=request.project,
                domain=request.domain,
                name=request.name,
                spec=request.spec,
                inputs=request.inputs,
            )
        self.ctx.wakeups.announce()
        return execution_pb2.ExecutionCreateResponse(id=ident)

    def relaunch_execution(
        self, request: execution_pb2.ExecutionRelaunchRequest
    ) -> execution_pb2.ExecutionCreateResponse:
        """Run an execution again with the same spec and inputs, under a new name."""
        original_id = validation.execution_id(self.ctx.settings.domains, request.id)
        with self.ctx.db.begin() as session:
            original = get_execution(session, original_id)
            spec = views.execution_message(self.ctx, session, original).spec
            inputs = literals_pb2.LiteralMap()
            given, _ = views.literal_data(self.ctx, original.user_inputs_uri)
            if given is not None:
                inputs.CopyFrom(given)
            ident = launching.create_execution(
                self.ctx,
                session,
                project=original.project,
                domain=original.domain,
                name=request.name,
                spec=launching.relaunch_spec(spec, original, request.overwrite_cache),
                inputs=inputs,
            )
        self.ctx.wakeups.announce()
        return execution_pb2.ExecutionCreateResponse(id=ident)

    def get_execution(self, request: execution_pb2.WorkflowExecutionGetRequest) -> execution_pb2.Execution:
        """An execution: its spec as created and its closure (phase, times, outputs or error)."""
        ident = validation.execution_id(self.ctx.settings.domains, request.id)
        with self.ctx.db.session() as session:
            return views.execution_message(self.ctx, session, get_execution(session, ident))

    def list_executions(self, request: common_pb2.ResourceListRequest) -> execution_pb2.ExecutionList:
        """Executions of a project and domain (archived ones only when a state filter asks for them)."""
        settings = self.ctx.settings
        validation.project_id(request.id.project, "id.project")
        validation.domain(request.id.domain, settings.domains, "id.domain")
        query = (
            select(_E)
            .outerjoin(models.LaunchPlan, models.LaunchPlan.id == _E.launch_plan_id)
            .outerjoin(models.Workflow, models.Workflow.id == _E.workflow_id)
            .outerjoin(models.Task, models.Task.id == _E.task_id)
            .where(_E.project == request.id.project, _E.domain == request.id.domain)
        )
        if request.id.name:
            query = query.where(_E.name == request.id.name)
        if not any(f.field.rsplit(".", 1)[-1] == "state" for f in parse_filters(request.filters)):
            query = query.where(_E.state == execution_pb2.EXECUTION_ACTIVE)
        with self.ctx.db.session() as session:
            rows, token = rows_page(session, EXECUTIONS, query, request)
            executions = views.execution_messages(self.ctx, session, rows, trim_errors=True)
        return execution_pb2.ExecutionList(executions=executions, token=token)

    def get_execution_data(
        self, request: execution_pb2.WorkflowExecutionGetDataRequest
    ) -> execution_pb2.WorkflowExecutionGetDataResponse:
        """The execution's inputs and outputs, inline and as URLs."""
        ident = validation.execution_id(self.ctx.settings.domains, request.id)
        with self.ctx.db.session() as session:
            row = get_execution(session, ident)
        return views.execution_data(self.ctx, row)

    def terminate_execution(
        self, request: execution_pb2.ExecutionTerminateRequest
    ) -> execution_pb2.ExecutionTerminateResponse:
        """Abort a running execution: its running tasks are stopped and it ends ABORTED."""
        ident = validation.execution_id(self.ctx.settings.domains, request.id)
        with self.ctx.db.begin() as session:
            launching.terminate(get_execution(session, ident), request.cause, principal="")
        self.ctx.wakeups.announce()
        return execution_pb2.ExecutionTerminateResponse()

    def update_execution(
        self, request: execution_pb2.ExecutionUpdateRequest
    ) -> execution_pb2.ExecutionUpdateResponse:
        """Archive an execution (hidden from lists unless asked for) or make it active again."""
        ident = validation.execution_id(self.ctx.settings.domains, request.id)
        with self.ctx.db.begin() as session:
            row = get_execution(session, ident)
            if row.state != request.state:
                row.state = request.state
                row.state_changed_at = self.ctx.clock()
        return execution_pb2.ExecutionUpdateResponse()

    # child executions of launch-plan nodes (the engine's ChildLauncher, through roost_admin.workers.launcher)

    def launch_child(self, request: ChildRequest) -> str:
        """Create a launch-plan node's child execution (once per name) and queue it; returns
        ``project/domain/name``.

        As flytepropeller's launch-plan executor does, the child's request carries the parent's labels,
        annotations, raw output location, max parallelism, interruptible flag, overwrite-cache flag, environment
        variables and security context; where the parent set none, the child's launch plan decides."""
        project, domain, _ = _split(request.parent)
        key = f"{project}/{domain}/{request.name}"
        try:
            with self.ctx.db.begin() as session:
                if find_execution(session, project, domain, request.name) is not None:
                    return key
                parent = find_execution(session, *_split(request.parent))
                parent_spec = (
                    views.execution_message(self.ctx, session, parent).spec
                    if parent is not None
                    else execution_pb2.ExecutionSpec()
                )
                spec = execution_pb2.ExecutionSpec(
                    launch_plan=identifier_pb2.Identifier(
                        resource_type=identifier_pb2.LAUNCH_PLAN,
                        project=request.launch_plan.project,
                        domain=request.launch_plan.domain,
                        name=request.launch_plan.name,
                        version=request.launch_plan.version,
                    ),
                    metadata=execution_pb2.ExecutionMetadata(
                        mode=execution_pb2.ExecutionMetadata.CHILD_WORKFLOW,
                        principal=parent.principal if parent is not None else "",
                        nesting=parent_spec.metadata.nesting + 1 if parent is not None else 1,
                    ),
                )
                _inherit(spec, parent_spec)
                launching.create_execution(
                    self.ctx,
                    session,
                    project=project,
                    domain=domain,
                    name=request.name,
                    spec=spec,
                    inputs=request.inputs,
                    parent_execution=request.parent,
                )
        except (AlreadyExists, IntegrityError):
            log.debug("child execution %s was created concurrently", key)
        self.ctx.wakeups.announce()
        return key

    def child_status(self, child: str) -> ChildStatus:
        """A child execution's phase (``project/domain/name``), with its outputs or error once it ended."""
        with self.ctx.db.session() as session:
            row = find_execution(session, *_split(child))
        if row is None:
            return ChildStatus(
                WorkflowPhase.FAILED,
                error=ExecutionError(
                    "ChildNotFound", f"child execution {child} does not exist", ErrorKind.SYSTEM
                ),
            )
        phase = WorkflowPhase(row.phase)
        if phase is WorkflowPhase.SUCCEEDED:
            outputs, _ = views.literal_data(self.ctx, row.outputs_uri)
            return ChildStatus(phase, outputs=outputs or literals_pb2.LiteralMap())
        if phase not in TERMINAL_WORKFLOW:
            return ChildStatus(phase)
        if row.error_code or row.error_message:
            kind = (
                ErrorKind.USER
                if row.error_kind == core_execution_pb2.ExecutionError.USER
                else ErrorKind.SYSTEM
            )
            return ChildStatus(phase, error=ExecutionError(row.error_code, row.error_message, kind))
        if phase is WorkflowPhase.ABORTED:
            return ChildStatus(
                phase,
                error=ExecutionError(
                    "ChildAborted", f"child execution {child} was aborted: {row.abort_cause}", ErrorKind.USER
                ),
            )
        return ChildStatus(phase)

    def abort_child(self, child: str, cause: str) -> None:
        """Terminate a child execution, if it is still running."""
        with self.ctx.db.begin() as session:
            row = find_execution(session, *_split(child))
            if row is None or row.phase in TERMINAL_WORKFLOW:
                return
            launching.terminate(row, cause, principal="")
            log.info("aborting child execution %s: %s", execution_key(row), cause)
        self.ctx.wakeups.announce()
