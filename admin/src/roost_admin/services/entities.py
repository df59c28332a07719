"""Registered entities: registering tasks, workflows and launch plans, and reading them back.

Registered entities are immutable per version. A row (in ``tasks``, ``workflows``, ``launch_plans``) holds
what lists and filters need and the digest of what the user sent; the entity itself (the admin ``Task``,
``Workflow`` or ``LaunchPlan`` message, closure included) is a blob at
:func:`roost_admin.blobs.entity_closure_uri`. Because a version's blob never changes once its row is
committed, blobs are cached in memory by URI (the context's :class:`~roost_admin.services.blob_cache.BlobCache`).

The registry service (:mod:`roost_admin.services.registry`) and the execution side both use these functions;
each takes the service context and the session of the caller's transaction.

A registration inserts its row and flushes it *before* writing the blob, then commits. The row becomes
visible only at the commit, after the blob is written, so no committed row ever points at a missing blob; and
the flush makes a concurrent registration of the same version wait on the unique constraint (and then fail)
before it writes its blob, so it cannot overwrite the winner's blob with other content.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from flyteidl.admin import (
    description_entity_pb2,
    launch_plan_pb2,
    project_pb2,
    task_pb2,
    workflow_pb2,
)
from flyteidl.core import compiler_pb2, identifier_pb2, interface_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2
from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError, Message
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from roost_admin import blobs
from roost_admin.db import models
from roost_admin.db.base import utcnow
from roost_admin.errors import (
    AdminError,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from roost_admin.services import concurrency, validation
from roost_core.storage import BlobNotFoundError, StorageError

if TYPE_CHECKING:
    from sqlalchemy.sql.base import ExecutableOption

    from roost_admin.config import Settings
    from roost_admin.services.context import ServiceContext

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)

ACTIVE = launch_plan_pb2.ACTIVE
INACTIVE = launch_plan_pb2.INACTIVE


@dataclass(frozen=True)
class EntityKind:
    """One registrable kind of entity: its resource type, table, admin message and noun for messages."""

    resource_type: int
    model: Any
    """The row class: models.Task, models.Workflow or models.LaunchPlan."""
    message: type[Message]
    noun: str


TASK = EntityKind(identifier_pb2.TASK, models.Task, task_pb2.Task, "task")
WORKFLOW = EntityKind(identifier_pb2.WORKFLOW, models.Workflow, workflow_pb2.Workflow, "workflow")
LAUNCH_PLAN = EntityKind(
    identifier_pb2.LAUNCH_PLAN, models.LaunchPlan, launch_plan_pb2.LaunchPlan, "launch plan"
)
KINDS = {kind.resource_type: kind for kind in (TASK, WORKFLOW, LAUNCH_PLAN)}

EntityRow = models.Task | models.Workflow | models.LaunchPlan


def kind_of(resource_type: int, what: str = "resource_type") -> EntityKind:
    """The kind of a registrable resource type; anything else is an InvalidArgument naming ``what``."""
    kind = KINDS.get(resource_type)
    if kind is None:
        try:
            name = identifier_pb2.ResourceType.Name(resource_type)
        except ValueError:
            name = str(resource_type)
        raise InvalidArgument(f"{what} must be TASK, WORKFLOW or LAUNCH_PLAN, not {name}")
    return kind


def entity_text(identifier: identifier_pb2.Identifier) -> str:
    """``project/domain/name@version``, as messages name an entity."""
    text = f"{identifier.project}/{identifier.domain}/{identifier.name}"
    return f"{text}@{identifier.version}" if identifier.version else text


def timestamp(moment: datetime.datetime) -> timestamp_pb2.Timestamp:
    """A protobuf Timestamp of a database time (SQLite gives naive datetimes, which are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def digest(message: Message) -> str:
    """SHA-256 (hex) of a message's deterministic serialization: equal content, equal digest."""
    return hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()


# --------------------------------------------------------------------------------------------------
# Blobs


def load_closure(
    ctx: ServiceContext, uri: str, message_type: type[M], *, owner: str = "a registered entity"
) -> M:
    """The registered entity (or other immutable message) stored at ``uri``, through the cache; ``owner`` names
    what points to it, for the message when the blob is lost."""

    def read(uri: str) -> bytes:
        try:
            return ctx.storage.read(uri)
        except BlobNotFoundError:
            raise AdminError(f"the blob store lost {uri}, which {owner} points to") from None
        except StorageError as exc:
            raise Unavailable(f"cannot read {uri} from the blob store: {exc}") from exc

    data = ctx.blobs.get(uri, read)
    message = message_type()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise AdminError(f"{uri} is not a valid {message_type.DESCRIPTOR.full_name}: {exc}") from exc
    return message


# --------------------------------------------------------------------------------------------------
# Projects and domains: where entities may be registered


_PROJECT_STATE = select(models.Project.state).where(models.Project.id == bindparam("project"))
"""A project's state (no row: it does not exist); one statement built once, not an ORM object per call."""


def check_project_domain(
    session: Session, settings: Settings, project: str, domain: str, what: str, *, writing: bool = True
) -> None:
    """The project exists (and is active, when ``writing``) and the domain is configured; ``what`` prefixes
    the field names in messages."""
    validation.project_id(project, f"{what} project")
    validation.domain(domain, settings.domains, f"{what} domain")
    # On the session's connection: a Core statement needs none of the ORM's execution path.
    state = session.connection().execute(_PROJECT_STATE, {"project": project}).scalar()
    if state is None:
        raise NotFound(
            f"project '{project}' does not exist; create it first (roost create project {project})"
        )
    if writing and state == project_pb2.Project.ARCHIVED:
        raise FailedPrecondition(
            f"project '{project}' is archived; activate it before registering or launching"
        )


# --------------------------------------------------------------------------------------------------
# Reading entities


def entity_id(
    identifier: identifier_pb2.Identifier, kind: EntityKind, settings: Settings, what: str
) -> identifier_pb2.Identifier:
    """A checked copy of a full identifier, with the kind's resource type (unset is accepted)."""
    if identifier.resource_type not in (identifier_pb2.UNSPECIFIED, kind.resource_type):
        raise InvalidArgument(
            f"{what} has resource type {identifier_pb2.ResourceType.Name(identifier.resource_type)}, "
            f"expected {identifier_pb2.ResourceType.Name(kind.resource_type)}"
        )
    validation.identifier(identifier, settings.domains, what=what)
    checked = identifier_pb2.Identifier()
    checked.CopyFrom(identifier)
    checked.resource_type = kind.resource_type
    checked.org = ""
    return checked


def find_row(
    session: Session, kind: EntityKind, identifier: identifier_pb2.Identifier, *options: ExecutableOption
) -> Any:
    """The row of a registered version, or None; ``options`` load related rows in the same query."""
    model = kind.model
    return session.scalars(
        select(model)
        .options(*options)
        .where(
            model.project == identifier.project,
            model.domain == identifier.domain,
            model.name == identifier.name,
            model.version == identifier.version,
        )
    ).one_or_none()


def get_row(
    session: Session, kind: EntityKind, identifier: identifier_pb2.Identifier, *options: ExecutableOption
) -> Any:
    """The row of a registered version; NOT_FOUND naming it otherwise."""
    row = find_row(session, kind, identifier, *options)
    if row is None:
        raise NotFound(f"{kind.noun} '{entity_text(identifier)}' is not registered")
    return row


def row_id(kind: EntityKind, row: EntityRow) -> identifier_pb2.Identifier:
    """The identifier of a row."""
    return identifier_pb2.Identifier(
        resource_type=kind.resource_type,
        project=row.project,
        domain=row.domain,
        name=row.name,
        version=row.version,
    )


def task_message(ctx: ServiceContext, row: models.Task) -> task_pb2.Task:
    """The admin Task of a row (closure with the compiled task)."""
    return load_closure(ctx, row.closure_uri, task_pb2.Task)


def workflow_message(ctx: ServiceContext, row: models.Workflow) -> workflow_pb2.Workflow:
    """The admin Workflow of a row (closure with the compiled workflow, its sub-workflows and tasks)."""
    return load_closure(ctx, row.closure_uri, workflow_pb2.Workflow)


def launch_plan_message(ctx: ServiceContext, row: models.LaunchPlan) -> launch_plan_pb2.LaunchPlan:
    """The admin LaunchPlan of a row: the stored spec and closure, with the row's state and update time."""
    plan = load_closure(ctx, row.closure_uri, launch_plan_pb2.LaunchPlan)
    plan.closure.state = row.state
    plan.closure.updated_at.CopyFrom(timestamp(row.updated_at))
    return plan


def get_task(ctx: ServiceContext, session: Session, identifier: identifier_pb2.Identifier) -> task_pb2.Task:
    """A registered task version; NOT_FOUND naming it otherwise."""
    return task_message(ctx, get_row(session, TASK, identifier))


def get_workflow(
    ctx: ServiceContext, session: Session, identifier: identifier_pb2.Identifier
) -> workflow_pb2.Workflow:
    """A registered workflow version; NOT_FOUND naming it otherwise."""
    return workflow_message(ctx, get_row(session, WORKFLOW, identifier))


def get_launch_plan(
    ctx: ServiceContext, session: Session, identifier: identifier_pb2.Identifier
) -> launch_plan_pb2.LaunchPlan:
    """A registered launch plan version (with its current state); NOT_FOUND naming it otherwise."""
    return launch_plan_message(ctx, get_row(session, LAUNCH_PLAN, identifier))


def active_launch_plan_row(
    session: Session, project: str, domain: str, name: str
) -> models.LaunchPlan | None:
    """The ACTIVE version of a launch plan name, if any."""
    return session.scalars(
        select(models.LaunchPlan).where(
            models.LaunchPlan.project == project,
            models.LaunchPlan.domain == domain,
            models.LaunchPlan.name == name,
            models.LaunchPlan.state == ACTIVE,
        )
    ).first()


def set_launch_plan_state(session: Session, row: models.LaunchPlan, state: int) -> None:
    """Activate (deactivating the name's other versions, as flyteadmin does) or deactivate a version."""
    if state == ACTIVE:
        session.execute(
            update(models.LaunchPlan)
            .where(
                models.LaunchPlan.project == row.project,
                models.LaunchPlan.domain == row.domain,
                models.LaunchPlan.name == row.name,
                models.LaunchPlan.state == ACTIVE,
                models.LaunchPlan.id != row.id,
            )
            .values(state=INACTIVE, updated_at=utcnow())
        )
    elif state != INACTIVE:
        raise InvalidArgument(f"launch plan state must be ACTIVE (1) or INACTIVE (0), not {state}")
    if row.state != state:
        row.state = state
        row.updated_at = utcnow()


# --------------------------------------------------------------------------------------------------
# Registering


def register_task(ctx: ServiceContext, session: Session, request: task_pb2.TaskCreateRequest) -> None:
    """Register a task version; identical content again is fine, other content is ALREADY_EXISTS."""
    settings = ctx.settings
    identifier = entity_id(request.id, TASK, settings, "task id")
    text = entity_text(identifier)
    check_project_domain(session, settings, identifier.project, identifier.domain, "task id")
    if not request.spec.HasField("template"):
        raise InvalidArgument(f"task '{text}': spec.template is required")
    spec = task_pb2.TaskSpec()
    spec.CopyFrom(request.spec)
    spec.template.id.CopyFrom(identifier)
    content = digest(spec)
    if _already_registered(session, TASK, identifier, content):
        return
    template = spec.template
    if not template.type:
        raise InvalidArgument(f"task '{text}': template.type is required")
    validation.text(template.type, f"task '{text}': template.type")
    _check_variables(f"task '{text}'", template.interface)
    created = ctx.clock()
    task = task_pb2.Task(
        id=identifier,
        closure=task_pb2.TaskClosure(
            compiled_task=compiler_pb2.CompiledTask(template=template), created_at=timestamp(created)
        ),
        short_description=spec.description.short_description,
    )
    row = models.Task(type=template.type)
    _store(ctx, session, TASK, identifier, content, created, task, row)
    _describe(session, identifier, spec.description if spec.HasField("description") else None, created)


def register_workflow(
    ctx: ServiceContext, session: Session, request: workflow_pb2.WorkflowCreateRequest
) -> None:
    """Compile and register a workflow version against the tasks and launch plans already registered."""
    from roost_core.compiler import CompileError, compile_workflow

    settings = ctx.settings
    identifier = entity_id(request.id, WORKFLOW, settings, "workflow id")
    text = entity_text(identifier)
    check_project_domain(session, settings, identifier.project, identifier.domain, "workflow id")
    if not request.spec.HasField("template"):
        raise InvalidArgument(f"workflow '{text}': spec.template is required")
    spec = workflow_pb2.WorkflowSpec()
    spec.CopyFrom(request.spec)
    spec.template.id.CopyFrom(identifier)
    task_ids, plan_ids, called = _references(spec)
    # The canonical form keeps only the sub-workflows the workflow calls, in a fixed order: packagers that
    # send every workflow of a module as sub-workflows then give the same digest for the same workflow.
    del spec.sub_workflows[:]
    spec.sub_workflows.extend(sorted(called, key=lambda template: _key(template.id)))
    content = digest(spec)
    if _already_registered(session, WORKFLOW, identifier, content):
        return
    missing: list[str] = []
    tasks = []
    for reference in task_ids:
        task_row = find_row(session, TASK, reference)
        if task_row is None:
            missing.append(f"task '{entity_text(reference)}'")
        else:
            tasks.append(task_message(ctx, task_row).closure.compiled_task.template)
    plans = []
    for reference in plan_ids:
        plan_row = find_row(session, LAUNCH_PLAN, reference)
        if plan_row is None:
            missing.append(f"launch plan '{entity_text(reference)}'")
        else:
            plans.append(launch_plan_message(ctx, plan_row))
    if missing:
        which = (
            "which is not registered; register it"
            if len(missing) == 1
            else "which are not registered; register them"
        )
        raise InvalidArgument(f"workflow '{text}' references {', '.join(missing)}, {which} first")
    try:
        compiled = compile_workflow(spec.template, tasks, spec.sub_workflows, plans)
    except CompileError as exc:
        issues = "\n".join(str(issue) for issue in exc.errors)
        raise InvalidArgument(f"workflow '{text}' does not compile:\n{issues}") from None
    created = ctx.clock()
    workflow = workflow_pb2.Workflow(
        id=identifier,
        closure=workflow_pb2.WorkflowClosure(compiled_workflow=compiled, created_at=timestamp(created)),
        short_description=spec.description.short_description,
    )
    _store(ctx, session, WORKFLOW, identifier, content, created, workflow, models.Workflow())
    _describe(session, identifier, spec.description if spec.HasField("description") else None, created)


def register_launch_plan(
    ctx: ServiceContext, session: Session, request: launch_plan_pb2.LaunchPlanCreateRequest
) -> None:
    """Register a launch plan version: its workflow must be registered and its inputs must fit it."""
    settings = ctx.settings
    identifier = entity_id(request.id, LAUNCH_PLAN, settings, "launch plan id")
    text = entity_text(identifier)
    check_project_domain(session, settings, identifier.project, identifier.domain, "launch plan id")
    if not request.HasField("spec"):
        raise InvalidArgument(f"launch plan '{text}': spec is required")
    if not request.spec.HasField("workflow_id"):
        raise InvalidArgument(f"launch plan '{text}': spec.workflow_id is required")
    workflow_id = entity_id(request.spec.workflow_id, WORKFLOW, settings, f"launch plan '{text}' workflow_id")
    content = digest(request.spec)
    if _already_registered(session, LAUNCH_PLAN, identifier, content):
        return
    workflow_row = find_row(session, WORKFLOW, workflow_id)
    if workflow_row is None:
        raise InvalidArgument(
            f"launch plan '{text}' is for workflow '{entity_text(workflow_id)}', which is not registered"
        )
    workflow = workflow_message(ctx, workflow_row)
    interface = workflow.closure.compiled_workflow.primary.template.interface
    spec = launch_plan_pb2.LaunchPlanSpec()
    spec.CopyFrom(request.spec)
    spec.workflow_id.CopyFrom(workflow_id)
    expected = expected_inputs(f"launch plan '{text}'", entity_text(workflow_id), interface, spec)
    schedule_type = _check_schedule(ctx, f"launch plan '{text}'", spec, expected)
    concurrency.behavior(spec, f"launch plan '{text}'")
    check_notifications(ctx, f"launch plan '{text}'", spec)
    # flyteadmin stores the expected inputs as the spec's default inputs, so every input is listed there.
    spec.default_inputs.CopyFrom(expected)
    created = ctx.clock()
    plan = launch_plan_pb2.LaunchPlan(
        id=identifier,
        spec=spec,
        closure=launch_plan_pb2.LaunchPlanClosure(
            expected_inputs=expected,
            expected_outputs=interface.outputs,
            created_at=timestamp(created),
        ),
    )
    row = models.LaunchPlan(
        workflow_id=workflow_row.id, state=INACTIVE, schedule_type=schedule_type, updated_at=created
    )
    _store(ctx, session, LAUNCH_PLAN, identifier, content, created, plan, row)


def expected_inputs(
    what: str, workflow: str, interface: interface_pb2.TypedInterface, spec: launch_plan_pb2.LaunchPlanSpec
) -> interface_pb2.ParameterMap:
    """The launch plan's expected inputs (flyteadmin's rule): its default inputs, plus every workflow input
    neither defaulted nor fixed, as required. Checks names and types against the workflow's interface."""
    from roost_core.literal_types import can_cast, describe, literal_matches

    inputs = interface.inputs.variables
    known = ", ".join(sorted(inputs)) or "none"
    defaults = spec.default_inputs.parameters
    fixed = spec.fixed_inputs.literals
    problems: list[str] = []
    for name in sorted(defaults):
        parameter = defaults[name]
        declared = inputs.get(name)
        behavior = parameter.WhichOneof("behavior")
        if declared is None:
            problems.append(
                f"default input '{name}' is not an input of workflow '{workflow}' (inputs: {known})"
            )
        elif name in fixed:
            problems.append(f"input '{name}' is both fixed and defaulted; give it one or the other")
        elif not parameter.var.HasField("type") or parameter.var.type.WhichOneof("type") is None:
            problems.append(f"default input '{name}' has no type")
        elif not can_cast(parameter.var.type, declared.type):
            problems.append(
                f"default input '{name}' has type {describe(parameter.var.type)}, but workflow "
                f"'{workflow}' declares {describe(declared.type)}"
            )
        elif behavior == "default" and not literal_matches(parameter.default, declared.type):
            problems.append(
                f"default input '{name}': the default value does not match type {describe(declared.type)}"
            )
        elif behavior in ("artifact_query", "artifact_id"):
            problems.append(f"default input '{name}': artifact inputs are not supported")
        elif behavior is None or (behavior == "required" and not parameter.required):
            problems.append(f"default input '{name}' has neither a default value nor required=true")
    for name in sorted(fixed):
        declared = inputs.get(name)
        if declared is None:
            problems.append(
                f"fixed input '{name}' is not an input of workflow '{workflow}' (inputs: {known})"
            )
        elif not literal_matches(fixed[name], declared.type):
            problems.append(f"fixed input '{name}': the value does not match type {describe(declared.type)}")
    if problems:
        raise InvalidArgument(f"{what}: " + "; ".join(problems))
    expected = interface_pb2.ParameterMap()
    for name, variable in inputs.items():
        if name in defaults:
            expected.parameters[name].CopyFrom(defaults[name])
        elif name not in fixed:
            expected.parameters[name].CopyFrom(
                interface_pb2.Parameter(
                    var=interface_pb2.Variable(type=variable.type, description=variable.description),
                    required=True,
                )
            )
    return expected


def check_notifications(ctx: ServiceContext, what: str, spec: launch_plan_pb2.LaunchPlanSpec) -> None:
    """A launch plan's notifications: channels registered, terminal phases, reachable recipients (at
    registration, and again at activation: a channel's plugin or its routes may have changed since)."""
    validation.notifications(
        spec.entity_metadata.notifications,
        what,
        "spec.entity_metadata.notifications",
        ctx.settings.notifications.routes,
        ctx.channels(),
        ctx.notifiers.registrations(),
    )


def _check_schedule(
    ctx: ServiceContext, what: str, spec: launch_plan_pb2.LaunchPlanSpec, expected: interface_pb2.ParameterMap
) -> str:
    """The schedule type ("", "cron", "rate") after checking the schedule (its expression, rate, offset, zone
    and the catch-up annotation); a schedule needs every input but its kickoff-time input bound, since a
    scheduled launch supplies nothing else."""
    from flyteidl.core import types_pb2

    from roost_admin.services import schedules

    schedule = schedules.parse(spec.entity_metadata.schedule, what)
    if schedule is None:
        return ""
    schedules.catch_up_limit(spec, ctx.settings.scheduler.catch_up_limit, what)
    kickoff = schedule.kickoff_input
    kickoff_field = f"{schedules.FIELD}.kickoff_time_input_arg"
    if kickoff:
        parameter = expected.parameters.get(kickoff)
        if parameter is None:
            raise InvalidArgument(
                f"{what}: {kickoff_field} '{kickoff}' is not an unfixed input of the launch plan",
                field=kickoff_field,
            )
        if parameter.var.type.simple != types_pb2.DATETIME:
            from roost_core.literal_types import describe

            raise InvalidArgument(
                f"{what}: {kickoff_field} '{kickoff}' must be a datetime input, not "
                f"{describe(parameter.var.type)}",
                field=kickoff_field,
            )
    for name, parameter in sorted(expected.parameters.items()):
        if parameter.WhichOneof("behavior") == "required" and name != kickoff:
            raise InvalidArgument(
                f"{what} has a schedule, but its input '{name}' is required: give it a default or fix it"
            )
    return schedule.kind


def _check_variables(what: str, interface: interface_pb2.TypedInterface) -> None:
    problems = [
        f"{noun} '{name}' has no type"
        for noun, variables in (
            ("input", interface.inputs.variables),
            ("output", interface.outputs.variables),
        )
        for name, variable in sorted(variables.items())
        if variable.type.WhichOneof("type") is None
    ]
    if problems:
        raise InvalidArgument(f"{what}: " + "; ".join(problems))


def _references(
    spec: workflow_pb2.WorkflowSpec,
) -> tuple[
    list[identifier_pb2.Identifier], list[identifier_pb2.Identifier], list[core_workflow_pb2.WorkflowTemplate]
]:
    """The tasks and launch plans the workflow's nodes reference (through branches, arrays, failure nodes and
    the sub-workflows it calls), each once in order of first reference; and the sub-workflows of the spec it
    calls, directly or through other sub-workflows. Sub-workflows it does not call are not looked at."""
    subs = {_key(template.id): template for template in spec.sub_workflows}
    tasks: dict[tuple[str, str, str, str], identifier_pb2.Identifier] = {}
    plans: dict[tuple[str, str, str, str], identifier_pb2.Identifier] = {}
    queue = [spec.template]
    seen = {_key(spec.template.id)}
    while queue:
        template = queue.pop(0)
        nodes = list(template.nodes)
        if template.HasField("failure_node"):
            nodes.append(template.failure_node)
        for node in _walk(nodes):
            target = node.WhichOneof("target")
            if target == "task_node" and node.task_node.HasField("reference_id"):
                tasks.setdefault(_key(node.task_node.reference_id), node.task_node.reference_id)
            elif target == "workflow_node" and node.workflow_node.HasField("launchplan_ref"):
                plans.setdefault(_key(node.workflow_node.launchplan_ref), node.workflow_node.launchplan_ref)
            elif target == "workflow_node" and node.workflow_node.HasField("sub_workflow_ref"):
                key = _key(node.workflow_node.sub_workflow_ref)
                if key in subs and key not in seen:
                    seen.add(key)
                    queue.append(subs[key])
    called = [subs[key] for key in seen if key in subs and key != _key(spec.template.id)]
    return list(tasks.values()), list(plans.values()), called


def _key(identifier: identifier_pb2.Identifier) -> tuple[str, str, str, str]:
    return (identifier.project, identifier.domain, identifier.name, identifier.version)


def _walk(nodes: Iterable[core_workflow_pb2.Node]) -> Iterator[core_workflow_pb2.Node]:
    for node in nodes:
        yield node
        target = node.WhichOneof("target")
        if target == "branch_node":
            if_else = node.branch_node.if_else
            inner = [if_else.case.then_node, *(case.then_node for case in if_else.other)]
            if if_else.HasField("else_node"):
                inner.append(if_else.else_node)
            yield from _walk(inner)
        elif target == "array_node":
            yield from _walk([node.array_node.node])


def _already_registered(
    session: Session, kind: EntityKind, identifier: identifier_pb2.Identifier, content: str
) -> bool:
    """True when this version is registered with the same content; ALREADY_EXISTS when with other content."""
    row = find_row(session, kind, identifier)
    if row is None:
        return False
    if row.digest != content:
        raise AlreadyExists(
            f"{kind.noun} '{entity_text(identifier)}' is already registered with different content; "
            "register the change under a new version"
        )
    return True


def _store(
    ctx: ServiceContext,
    session: Session,
    kind: EntityKind,
    identifier: identifier_pb2.Identifier,
    content: str,
    created: datetime.datetime,
    message: Message,
    row: EntityRow,
) -> None:
    """Insert the row (flushed, so a concurrent registration of the version fails here), then write the blob."""
    size = message.ByteSize()
    validation.size(
        size, ctx.settings.max_message_bytes, f"{kind.noun} '{entity_text(identifier)}' with its closure"
    )
    uri = blobs.entity_closure_uri(ctx.settings.storage_prefix, identifier)
    row.project = identifier.project
    row.domain = identifier.domain
    row.name = identifier.name
    row.version = identifier.version
    row.digest = content
    row.closure_uri = uri
    row.created_at = created
    session.add(row)
    session.flush()
    data = message.SerializeToString(deterministic=True)
    try:
        ctx.storage.write(uri, data)
    except StorageError as exc:
        raise Unavailable(f"cannot store {kind.noun} '{entity_text(identifier)}': {exc}") from exc
    ctx.blobs.put(uri, data)


def _describe(
    session: Session,
    identifier: identifier_pb2.Identifier,
    description: description_entity_pb2.DescriptionEntity | None,
    created: datetime.datetime,
) -> None:
    """Keep the description a task or workflow spec carries."""
    if description is None:
        return
    session.add(
        models.DescriptionEntity(
            resource_type=identifier.resource_type,
            project=identifier.project,
            domain=identifier.domain,
            name=identifier.name,
            version=identifier.version,
            short_description=description.short_description,
            long_description=description.long_description.SerializeToString(deterministic=True),
            source_code_link=description.source_code.link,
            created_at=created,
        )
    )


def description_message(row: models.DescriptionEntity) -> description_entity_pb2.DescriptionEntity:
    """The admin DescriptionEntity of a row."""
    entity = description_entity_pb2.DescriptionEntity(
        id=identifier_pb2.Identifier(
            resource_type=row.resource_type,
            project=row.project,
            domain=row.domain,
            name=row.name,
            version=row.version,
        ),
        short_description=row.short_description,
        source_code=description_entity_pb2.SourceCode(link=row.source_code_link),
    )
    entity.long_description.ParseFromString(row.long_description)
    return entity
