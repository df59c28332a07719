"""Creating and terminating executions: what CreateExecution, RelaunchExecution, TerminateExecution and the
engine workers' child launcher share.

Creating an execution resolves what it runs (a launch plan and its workflow, or a single task wrapped in a
one-node workflow, as flyteadmin does), merges the launch plan's default and fixed inputs into the caller's,
checks them against the expected inputs, admits it under the launch plan's concurrency policy
(:mod:`~roost_admin.services.concurrency`), settles labels, annotations, raw output prefix, max parallelism and
the other per-execution options (the request's values win over the launch plan's, whose win over the matchable
attributes: :mod:`~roost_admin.services.resolution`), inserts the row, writes
the spec and inputs to the blob store and queues the engine's execution (inputs and first state), all in the
caller's transaction. The compiled closure is stored once for all the executions that run it
(:func:`stored_closure`), the spec once for all those launched with the same one. The row is inserted before any
of the execution's own blobs is written, so a second execution of the same name fails on the unique constraint
before it could overwrite the first one's blobs.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import string
from typing import TYPE_CHECKING, cast

from flyteidl.admin import execution_pb2, launch_plan_pb2, matchable_resource_pb2
from flyteidl.core import (
    compiler_pb2,
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    tasks_pb2,
    types_pb2,
    workflow_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from sqlalchemy import Connection, Insert, Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from roost_admin import blobs
from roost_admin.db import models
from roost_admin.db.base import utcnow, violates_unique
from roost_admin.errors import AlreadyExists, AlreadyInTerminalState, InvalidArgument, Unavailable
from roost_admin.services import concurrency, entities, resolution, validation
from roost_admin.services.rows import (
    SINGLE_TASK_PREFIX,
    TERMINAL_WORKFLOW,
    execution_key,
    key_text,
    workflow_phase_name,
)
from roost_admin.services.target_cache import Rules, Target
from roost_core import literal_types
from roost_core.compiler import CompileError, compile_workflow
from roost_core.engine import ExecutionOptions, InvalidInputsError
from roost_core.engine.recovery import RecoverySource
from roost_core.storage import StorageError

if TYPE_CHECKING:
    from roost_admin.config import Settings
    from roost_admin.services.context import ServiceContext

_NAME_FIRST = string.ascii_lowercase
_NAME_REST = string.ascii_lowercase + string.digits
_NAME_LENGTH = 20
_NODE_ID_LENGTH = 63
_EXECUTIONS = cast("Table", models.Execution.__table__)
_STATES = cast("Table", models.ExecutionState.__table__)
_INSERT_STATE = insert(_STATES)


@functools.cache
def _insert_statements(columns: tuple[str, ...]) -> tuple[Insert, Insert]:
    """The INSERT of an execution row setting ``columns`` (the others get their defaults), returning its id; and,
    for PostgreSQL, that INSERT and its first state's in one statement (one round trip, not two)."""
    insert_execution = (
        insert(_EXECUTIONS)
        .values({name: bindparam(name, type_=_EXECUTIONS.c[name].type) for name in columns})
        .returning(_EXECUTIONS.c.id)
    )
    new_execution = insert_execution.cte("new_execution")
    with_state = insert(_STATES).from_select(
        ["execution_id", "data", "saved_at"],
        select(
            new_execution.c.id,
            bindparam("first_state", type_=_STATES.c.data.type),
            bindparam("first_state_saved_at", type_=_STATES.c.saved_at.type),
        ),
    )
    return insert_execution, with_state


_NAMES = len(_NAME_FIRST) * len(_NAME_REST) ** (_NAME_LENGTH - 1)


def generate_name() -> str:
    """An execution name as flyteadmin makes them: a letter, then 19 lowercase letters or digits.

    One random number below the count of such names, spelled out in their mixed radix: every name as likely as
    with a choice per character, but one request for random bytes instead of twenty (each a system call that
    lets go of the interpreter lock)."""
    number = secrets.randbelow(_NAMES)
    rest = len(_NAME_REST)
    chars = []
    for _ in range(_NAME_LENGTH - 1):
        number, digit = divmod(number, rest)
        chars.append(_NAME_REST[digit])
    chars.append(_NAME_FIRST[number])
    return "".join(reversed(chars))


def _resolve_target(ctx: ServiceContext, session: Session, reference: identifier_pb2.Identifier) -> Target:
    """The launch plan or task ``spec.launch_plan`` names; NOT_FOUND or INVALID_ARGUMENT naming it. A version
    launched before comes from the cache (registered versions never change); one not registered is looked up
    every time."""
    settings = ctx.settings
    if reference.resource_type == identifier_pb2.TASK:
        ident = entities.entity_id(reference, entities.TASK, settings, "spec.launch_plan")
        target = ctx.targets.get(ident)
        if target is None:
            target = _task_target(ctx, session, ident)
            ctx.targets.put(ident, target)
        return target
    if reference.resource_type != identifier_pb2.LAUNCH_PLAN:
        kind = identifier_pb2.ResourceType.Name(reference.resource_type)
        raise InvalidArgument(f"spec.launch_plan must name a LAUNCH_PLAN or a TASK, not {kind}")
    ident = entities.entity_id(reference, entities.LAUNCH_PLAN, settings, "spec.launch_plan")
    target = ctx.targets.get(ident)
    if target is None:
        target = _launch_plan_target(ctx, session, ident)
        ctx.targets.put(ident, target)
    return target


def _task_target(ctx: ServiceContext, session: Session, ident: identifier_pb2.Identifier) -> Target:
    task_row = entities.get_row(session, entities.TASK, ident)
    template = entities.task_message(ctx, task_row).closure.compiled_task.template
    expected = interface_pb2.ParameterMap()
    for name, variable in template.interface.inputs.variables.items():
        expected.parameters[name].CopyFrom(interface_pb2.Parameter(var=variable, required=True))
    return Target(
        what=f"task '{entities.entity_text(ident)}'",
        closure=_single_task_closure(template),
        expected=expected,
        fixed=literals_pb2.LiteralMap(),
        launch_plan=None,
        launch_plan_id=None,
        workflow_id=None,
        task_id=task_row.id,
    )


def _launch_plan_target(ctx: ServiceContext, session: Session, ident: identifier_pb2.Identifier) -> Target:
    # The workflow row comes in the same query (its foreign key guarantees there is one).
    row = entities.get_row(session, entities.LAUNCH_PLAN, ident, joinedload(models.LaunchPlan.workflow))
    plan = entities.launch_plan_message(ctx, row)
    workflow = entities.workflow_message(ctx, row.workflow)
    return Target(
        what=f"launch plan '{entities.entity_text(ident)}'",
        closure=workflow.closure.compiled_workflow,
        expected=plan.closure.expected_inputs,
        fixed=plan.spec.fixed_inputs,
        launch_plan=plan,
        launch_plan_id=row.id,
        workflow_id=row.workflow_id,
        task_id=None,
    )


def single_task_node_id(task_name: str) -> str:
    """The id of the one node of a single-task execution (flyteadmin's: the name's letters, digits and '-')."""
    tail = task_name[-_NODE_ID_LENGTH:]
    return "".join(c for c in tail if c == "-" or c.isalnum()) or "task"


def _single_task_closure(task: tasks_pb2.TaskTemplate) -> compiler_pb2.CompiledWorkflowClosure:
    """A one-node workflow running ``task`` on the workflow's inputs, as flyteadmin makes for single-task
    executions (named ``.flytegen.<task>``)."""
    node_id = single_task_node_id(task.id.name)
    variables = task.interface
    template = workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW,
            project=task.id.project,
            domain=task.id.domain,
            name=SINGLE_TASK_PREFIX + task.id.name,
            version=task.id.version,
        ),
        interface=variables,
        nodes=[
            workflow_pb2.Node(
                id=node_id,
                metadata=workflow_pb2.NodeMetadata(name=node_id),
                inputs=[_promise(name, "", name) for name in sorted(variables.inputs.variables)],
                task_node=workflow_pb2.TaskNode(reference_id=task.id),
            )
        ],
        outputs=[_promise(name, node_id, name) for name in sorted(variables.outputs.variables)],
    )
    try:
        return compile_workflow(template, [task], [], [])
    except CompileError as exc:
        raise InvalidArgument(
            f"task '{entities.entity_text(task.id)}' cannot run on its own:\n{exc}"
        ) from None


def _promise(var: str, node_id: str, output: str) -> literals_pb2.Binding:
    """``var`` bound to ``output`` of ``node_id`` (node id "" is the workflow's inputs)."""
    return literals_pb2.Binding(
        var=var,
        binding=literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=output)),
    )


def _merge_inputs(target: Target, given: literals_pb2.LiteralMap) -> literals_pb2.LiteralMap:
    """The caller's inputs with the defaults and fixed inputs merged in, checked against the expected inputs
    (flyteadmin's rules); every problem is named in one INVALID_ARGUMENT."""
    expected = target.expected.parameters
    fixed = target.fixed.literals
    known = ", ".join(sorted(expected)) or "none"
    problems: list[str] = []
    merged = literals_pb2.LiteralMap()
    for name in sorted(given.literals):
        literal = given.literals[name]
        parameter = expected.get(name)
        if name in fixed:
            problems.append(f"input '{name}' is fixed by the launch plan and cannot be overridden")
        elif parameter is None:
            problems.append(f"'{name}' is not an input (inputs: {known})")
        elif not literal_types.literal_matches(literal, parameter.var.type):
            got = literal_types.describe(literal_types.literal_type_of(literal))
            problems.append(
                f"input '{name}' expects {literal_types.describe(parameter.var.type)} but got {got}"
            )
        else:
            merged.literals[name].CopyFrom(literal)
    for name in sorted(expected):
        if name in given.literals:
            continue
        parameter = expected[name]
        if parameter.WhichOneof("behavior") == "default":
            merged.literals[name].CopyFrom(parameter.default)
        else:
            problems.append(f"input '{name}' ({literal_types.describe(parameter.var.type)}) is required")
    for name, literal in fixed.items():
        merged.literals[name].CopyFrom(literal)
    if problems:
        raise InvalidArgument(f"{target.what}: " + "; ".join(problems))
    return merged


def _settle_spec(target: Target, request_spec: execution_pb2.ExecutionSpec) -> execution_pb2.ExecutionSpec:
    """The spec to store: the request's, with the launch plan's settings filled in where it has none."""
    spec = execution_pb2.ExecutionSpec()
    spec.CopyFrom(request_spec)
    plan = target.launch_plan.spec if target.launch_plan is not None else launch_plan_pb2.LaunchPlanSpec()
    if not spec.labels.values and plan.labels.values:
        spec.labels.CopyFrom(plan.labels)
    if not spec.annotations.values and plan.annotations.values:
        spec.annotations.CopyFrom(plan.annotations)
    if (
        not spec.raw_output_data_config.output_location_prefix
        and plan.raw_output_data_config.output_location_prefix
    ):
        spec.raw_output_data_config.CopyFrom(plan.raw_output_data_config)
    if not spec.max_parallelism and plan.max_parallelism:
        spec.max_parallelism = plan.max_parallelism
    if not spec.HasField("interruptible") and plan.HasField("interruptible"):
        spec.interruptible.CopyFrom(plan.interruptible)
    if not spec.overwrite_cache and plan.overwrite_cache:
        spec.overwrite_cache = True
    if not spec.envs.values and plan.envs.values:
        spec.envs.CopyFrom(plan.envs)
    if not spec.HasField("quality_of_service") and plan.HasField("quality_of_service"):
        spec.quality_of_service.CopyFrom(plan.quality_of_service)
    if not spec.HasField("cluster_assignment") and plan.HasField("cluster_assignment"):
        spec.cluster_assignment.CopyFrom(plan.cluster_assignment)
    return spec


def _options(
    target: Target,
    spec: execution_pb2.ExecutionSpec,
    parent_execution: str,
    matched: resolution.Matched,
    task_resources: dict[str, dict[str, str]],
) -> ExecutionOptions:
    launch_plan: dict[str, str] = {}
    if target.launch_plan is not None:
        lp = target.launch_plan.id
        launch_plan = {"project": lp.project, "domain": lp.domain, "name": lp.name, "version": lp.version}
    handlers, fallback = resolution.plugin_handlers(matched)
    return ExecutionOptions(
        max_parallelism=spec.max_parallelism or None,
        interruptible=spec.interruptible.value if spec.HasField("interruptible") else None,
        overwrite_cache=spec.overwrite_cache,
        labels=dict(spec.labels.values),
        annotations=dict(spec.annotations.values),
        environment={pair.key: pair.value for pair in spec.envs.values},
        launch_plan=launch_plan,
        parent_execution=parent_execution,
        task_handlers=handlers,
        task_handlers_fallback=fallback,
        task_resources=task_resources,
    )


def create_execution(
    ctx: ServiceContext,
    session: Session,
    *,
    project: str,
    domain: str,
    name: str,
    spec: execution_pb2.ExecutionSpec,
    inputs: literals_pb2.LiteralMap,
    parent_execution: str = "",
    recover_from: RecoverySource | None = None,
) -> identifier_pb2.WorkflowExecutionIdentifier:
    """Create and queue an execution in the caller's transaction (see the module docstring); its identifier.
    ``name`` empty means a generated one; ``recover_from`` makes it a recovered or resumed execution. The
    caller commits, then pokes the engine workers."""
    settings = ctx.settings
    entities.check_project_domain(session, settings, project, domain, "execution")
    if name:
        validation.execution_name(name)
    else:
        name = generate_name()
    if not spec.HasField("launch_plan"):
        raise InvalidArgument("spec.launch_plan is required (the launch plan or task to execute)")
    validation.text(spec.metadata.principal, "spec.metadata.principal")
    key = key_text(project, domain, name)
    validation.notifications(
        spec.notifications.notifications,
        f"execution {key}",
        "spec.notifications.notifications",
        ctx.settings.notifications.routes,
        ctx.channels(),
        ctx.notifiers.registrations(),
    )
    target = _resolve_target(ctx, session, spec.launch_plan)
    merged = _merge_inputs(target, inputs)
    held_limit = (
        concurrency.admit(session, target.launch_plan, target.what) if target.launch_plan is not None else 0
    )
    stored_spec = _settle_spec(target, spec)
    workflow_name = target.closure.primary.template.id.name
    plan_name = target.launch_plan.id.name if target.launch_plan is not None else ""
    matched = resolution.match(session, project, domain, workflow_name, plan_name)
    resolution.settle_spec(stored_spec, matched)
    resources = resolution.task_resources(matched, _configured_task_resources(settings))
    rules = resolution.resource_rules(resources) if resources is not None else {}
    storage_prefix = settings.storage_prefix
    closure, closure_uri = stored_closure(ctx, target, rules, key)
    now = ctx.clock()
    data_prefix = blobs.execution_data_prefix(storage_prefix, project, domain, name)
    storage = ctx.storage
    # The spec is stored by its content: executions launched with the same spec (the same launch plan, options
    # and caller) share one blob, written once while this admin's blob cache keeps it.
    spec_data = stored_spec.SerializeToString(deterministic=True)
    spec_uri = blobs.spec_uri(storage_prefix, project, domain, hashlib.sha256(spec_data).hexdigest())
    raw_prefix = stored_spec.raw_output_data_config.output_location_prefix
    raw = (
        storage.join(raw_prefix, name)
        if raw_prefix
        else blobs.raw_output_prefix(storage_prefix, project, domain, name)
    )
    ident = identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)
    engine = ctx.queuing_engine
    try:
        # The engine's first state, built (and the inputs checked) before the row: it goes in with it.
        state = engine.queued_state(
            ident,
            closure,
            merged,
            data_prefix=data_prefix,
            raw_output_prefix=raw,
            options=_options(target, stored_spec, parent_execution, matched, rules),
            recover_from=recover_from,
            closure_uri=closure_uri,
        )
    except InvalidInputsError as exc:
        raise InvalidArgument(f"{target.what}: {exc}") from None
    # The merged inputs are the caller's plus defaults and fixed inputs; when none was added they are the
    # caller's, and the engine's inputs.pb serves as both (one blob fewer to write).
    added = len(merged.literals) != len(inputs.literals)
    user_inputs_uri = storage.join(data_prefix, "user_inputs.pb") if added else state.inputs_uri
    row = {
        "project": project,
        "domain": domain,
        "name": name,
        "launch_plan_id": target.launch_plan_id,
        "workflow_id": target.workflow_id,
        "task_id": target.task_id,
        "phase": core_execution_pb2.WorkflowExecution.QUEUED,
        "state": execution_pb2.EXECUTION_ACTIVE,
        "mode": int(stored_spec.metadata.mode),
        "principal": stored_spec.metadata.principal,
        "spec_uri": spec_uri,
        "inputs_uri": state.inputs_uri,
        "user_inputs_uri": user_inputs_uri,
        "created_at": now,
        "updated_at": now,
        # A held execution is not claimable until its launch plan's concurrency policy lets it start.
        "wake_at": None if held_limit else now,
        "held_limit": held_limit,
    }
    try:
        # INSERTs, not the ORM's unit of work: nothing else of this call is in the session. A taken name is found
        # by the insert itself (no SELECT first): the unique constraint decides, even between two admins racing
        # for the same name, and nothing is written to storage before it has.
        _insert(session.connection(), row, state.to_dict())
    except IntegrityError as exc:
        if violates_unique(exc, "executions", "project", "domain", "name"):
            raise AlreadyExists(f"execution {key} already exists") from None
        raise
    try:
        if not ctx.blobs.holds(spec_uri):
            storage.write(spec_uri, spec_data)
            ctx.blobs.put(spec_uri, spec_data)
        if added:
            storage.write_proto(user_inputs_uri, inputs)
        if matched.attributes:
            storage.write_proto(storage.join(data_prefix, blobs.ATTRIBUTES), matched.record())
        engine.write_queued(state, merged, recover_from)
    except StorageError as exc:
        raise Unavailable(f"cannot store execution {key}: {exc}") from exc
    return ident


def _insert(connection: Connection, row: dict[str, object], first_state: dict[str, object]) -> None:
    """Insert the execution's row and its engine's first state."""
    saved_at = utcnow()
    insert_execution, with_state = _insert_statements(tuple(row))
    if connection.dialect.name == "postgresql":
        connection.execute(with_state, {**row, "first_state": first_state, "first_state_saved_at": saved_at})
        return
    execution_id = connection.execute(insert_execution, row).scalar_one()
    connection.execute(
        _INSERT_STATE, {"execution_id": execution_id, "data": first_state, "saved_at": saved_at}
    )


def stored_closure(
    ctx: ServiceContext, target: Target, rules: dict[str, dict[str, str]], key: str
) -> tuple[compiler_pb2.CompiledWorkflowClosure, str]:
    """The closure an execution of ``target`` runs (with the task resource ``rules`` applied) and the URI of
    the blob holding it. The blob is named by its content (:func:`roost_admin.blobs.closure_uri`), so every
    execution running the same closure shares one; this process writes it the first time it launches that
    target with those rules (rewriting the same bytes if another process stored it first), not once per
    execution. ``key`` (the execution's) is named if storing fails."""
    variant: Rules = tuple((part, tuple(sorted(values.items()))) for part, values in sorted(rules.items()))
    stored = target.stored_closures.get(variant)
    if stored is not None:
        return stored[1], stored[0]
    closure = resolution.apply_task_resources(target.closure, rules) if rules else target.closure
    data = closure.SerializeToString(deterministic=True)
    template = closure.primary.template.id
    uri = blobs.closure_uri(
        ctx.settings.storage_prefix, template.project, template.domain, hashlib.sha256(data).hexdigest()
    )
    try:
        ctx.storage.write(uri, data)
    except StorageError as exc:
        raise Unavailable(f"cannot store execution {key}: {exc}") from exc
    target.stored_closures[variant] = (uri, closure)
    return closure, uri


def _configured_task_resources(settings: Settings) -> matchable_resource_pb2.TaskResourceAttributes:
    """The admin's ``task_resources`` setting as a TASK_RESOURCE attribute."""
    configured = settings.task_resources
    return matchable_resource_pb2.TaskResourceAttributes(
        defaults=matchable_resource_pb2.TaskResourceSpec(**configured.defaults),
        limits=matchable_resource_pb2.TaskResourceSpec(**configured.limits),
    )


def relaunch_spec(
    spec: execution_pb2.ExecutionSpec, original: models.Execution, overwrite_cache: bool
) -> execution_pb2.ExecutionSpec:
    """The spec of a relaunch: the original's, marked RELAUNCH of the original."""
    relaunched = execution_pb2.ExecutionSpec()
    relaunched.CopyFrom(spec)
    relaunched.metadata.mode = execution_pb2.ExecutionMetadata.RELAUNCH
    relaunched.metadata.reference_execution.CopyFrom(
        identifier_pb2.WorkflowExecutionIdentifier(
            project=original.project, domain=original.domain, name=original.name
        )
    )
    relaunched.metadata.ClearField("parent_node_execution")
    if overwrite_cache:
        relaunched.overwrite_cache = True
    return relaunched


def terminate(row: models.Execution, cause: str, principal: str) -> None:
    """Ask for an unfinished execution to be aborted: its row turns ABORTING and whoever holds it (or claims
    it next) aborts its running nodes. A finished one is FAILED_PRECONDITION (already in terminal state)."""
    if row.phase in TERMINAL_WORKFLOW:
        phase = workflow_phase_name(row.phase)
        raise AlreadyInTerminalState(
            f"execution {execution_key(row)} already ended ({phase}); only running executions can be "
            "terminated",
            phase,
        )
    row.held_limit = 0
    row.abort_cause = cause or "terminated"
    row.abort_principal = principal
    row.phase = core_execution_pb2.WorkflowExecution.ABORTING
    row.wake_at = utcnow()
