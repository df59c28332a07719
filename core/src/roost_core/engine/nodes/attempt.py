"""Task attempts: the cache, retries, deadlines and handler calls shared by task nodes and array sub-nodes.

:func:`step` advances one task execution (a task node, or one index of an array node) by at most one
handler call, and returns what changed so the caller can report it: a task node as its own events, an
array node folded into one event for all of its indices.

A handler's ``abort`` and ``finalize`` are never called during the round: an attempt that ended owes
them as a :class:`~roost_core.engine.state.PendingCleanup` in the execution's state, which the engine runs
once that state is saved (see :meth:`~roost_core.engine.Engine.evaluate`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from flyteidl.core import catalog_pb2, identifier_pb2, literals_pb2, tasks_pb2, workflow_pb2

from roost_core import literal_types
from roost_core.catalog import CacheKey
from roost_core.container import task_environment
from roost_core.engine.phases import NodePhase
from roost_core.engine.reporting import TASK_ABORTED, TaskReport
from roost_core.engine.run import Run
from roost_core.engine.state import AttemptRecord, NodeState, PendingCleanup, TaskAttemptState
from roost_core.errors import ErrorKind, ExecutionError, RoostError
from roost_core.failpoints import failpoint
from roost_core.handler import TaskContext, TaskHandler, TaskPhase, Transition
from roost_core.storage import MalformedBlobError

log = logging.getLogger(__name__)

RESERVATION_TTL = 60.0
RESERVATION_POLL = 1.0


class Outcome(enum.Enum):
    """How a step left the task execution."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DYNAMIC = "dynamic"
    """The task wrote ``futures.pb``: the caller runs the dynamic workflow."""


@dataclass(slots=True)
class TaskSite:
    """One task execution: which task, which inputs, and where its attempts write."""

    uid: str
    node: workflow_pb2.Node
    task: tasks_pb2.TaskTemplate
    inputs: literals_pb2.LiteralMap
    inputs_uri: str
    data_dir: str
    """Attempt ``n`` writes under ``{data_dir}/{n}``."""
    where: str
    """``node 'n1'`` (or ``node 'n1' index 3``): what failure messages start with."""
    extra_env: dict[str, str] = field(default_factory=dict)
    validate_outputs: bool = True
    element_outputs: bool = False
    """Outputs are single elements of the list-typed outputs the interface declares (map tasks)."""

    @property
    def label(self) -> str:
        """``task 't' on node 'n1'`` for messages."""
        return f"task {self.task.id.name!r} on {self.where}"


@dataclass(slots=True)
class StepResult:
    """What one step did."""

    outcome: Outcome = Outcome.PENDING
    node_phases: list[NodePhase] = field(default_factory=list)
    reports: list[TaskReport] = field(default_factory=list)


def task_handler(run: Run, task_type: str) -> TaskHandler:
    """The handler of ``task_type`` in this execution: its plugin override's, else the engine's choice."""
    preferred = run.options.task_handlers.get(task_type)
    if not preferred:
        return run.engine.handlers.for_task_type(task_type)
    fallback = task_type in run.options.task_handlers_fallback
    return run.engine.handlers.for_task(task_type, preferred, fallback=fallback)


def attempt_dir(run: Run, site: TaskSite, attempt: int) -> str:
    """Where attempt ``attempt`` writes its outputs."""
    return run.engine.storage.join(site.data_dir, str(attempt))


def step(run: Run, site: TaskSite, state: NodeState) -> StepResult:
    """Advance a queued or running task execution."""
    result = StepResult()
    try:
        handler = task_handler(run, site.task.type)
    except RoostError as exc:
        _finish_failed(
            run,
            site,
            state,
            result,
            ExecutionError("UnknownTaskType", f"{site.label}: {exc}", ErrorKind.SYSTEM),
            retryable=False,
        )
        return result
    if _deadlines_passed(run, site, state, handler, result):
        return result
    if state.task is None and not _begin_attempt(run, site, state, handler, result):
        return result
    assert state.task is not None
    ctx = context(run, site, state, handler)
    try:
        transition = handler.handle(ctx)
    except Exception as exc:  # a handler is plugin code: its crash fails the attempt, not the engine
        transition = Transition.failure(
            "HandlerError",
            f"task {site.task.id.name!r}: handler {handler.name!r} raised {type(exc).__name__}: {exc}",
            kind=ErrorKind.SYSTEM,
        )
    _apply(run, site, state, handler, ctx, transition, result)
    return result


def record(run: Run, site: TaskSite, state: NodeState, handler: TaskHandler) -> AttemptRecord:
    """The current attempt as its handler sees it (what a TaskContext is built from)."""
    storage = run.engine.storage
    attempt = state.attempt
    task_state = state.task or TaskAttemptState()
    plugin_state = task_state.plugin_state or {}
    if task_state.plugin_state_version != handler.state_version:
        plugin_state = {}
    prev_checkpoint = storage.join(attempt_dir(run, site, attempt - 1), "_checkpoints") if attempt else ""
    return AttemptRecord(
        handler=handler.name,
        task=site.task,
        node_id=site.uid,
        attempt=attempt,
        inputs_uri=site.inputs_uri,
        output_prefix=attempt_dir(run, site, attempt),
        raw_output_prefix=storage.join(run.state.raw_output_prefix, site.uid, str(attempt)),
        prev_checkpoint_prefix=prev_checkpoint,
        plugin_state=plugin_state,
        interruptible=_interruptible(run, site, state),
        overrides=site.node.task_node.overrides if site.node.task_node.HasField("overrides") else None,
        extra_env=site.extra_env,
    )


def context(run: Run, site: TaskSite, state: NodeState, handler: TaskHandler) -> TaskContext:
    """The TaskContext of the current attempt."""
    exclusive = run.active_attempts == 1 and run.pending_visits == 0 and not deadlines(run, site)[0]
    return task_context(run, record(run, site, state, handler), exclusive=exclusive, inputs=site.inputs)


def task_context(
    run: Run,
    attempt: AttemptRecord,
    *,
    exclusive: bool = False,
    inputs: literals_pb2.LiteralMap | None = None,
) -> TaskContext:
    """The TaskContext of an attempt of this execution, from its record."""
    storage = run.engine.storage
    task = attempt.task
    task_execution_id = identifier_pb2.TaskExecutionIdentifier(
        task_id=task.id,
        node_execution_id=identifier_pb2.NodeExecutionIdentifier(
            node_id=attempt.node_id, execution_id=run.execution_id
        ),
        retry_attempt=attempt.attempt,
    )
    credentials = run.engine.task_credentials
    environment = _LazyEnvironment(
        lambda: task_environment(
            task_execution_id,
            workflow=run.index.primary.template.id.name,
            launch_plan=run.options.launch_plan.get("name", ""),
            container_env=task.container.env,
            resources=task.container.resources,
            execution_env={
                **run.options.environment,
                **attempt.extra_env,
                **(credentials(run.execution_id) if credentials is not None else {}),
            },
        )
    )
    return TaskContext(
        task=task,
        task_execution_id=task_execution_id,
        node_id=attempt.node_id,
        storage=storage,
        inputs_uri=attempt.inputs_uri,
        output_prefix=attempt.output_prefix,
        raw_output_prefix=attempt.raw_output_prefix,
        checkpoint_prefix=storage.join(attempt.output_prefix, "_checkpoints"),
        prev_checkpoint_prefix=attempt.prev_checkpoint_prefix,
        state=attempt.plugin_state,
        interruptible=attempt.interruptible,
        exclusive=exclusive,
        overrides=attempt.overrides,
        environment=environment,
        labels=run.options.labels,
        annotations=run.options.annotations,
        notify=run.wake,
        _inputs=inputs,
    )


class _LazyEnvironment(Mapping[str, str]):
    """A task's environment, built the first time a handler reads it (in-process handlers never do)."""

    def __init__(self, build: Callable[[], dict[str, str]]) -> None:
        self._build: Callable[[], dict[str, str]] | None = build
        self._values: dict[str, str] = {}

    def _loaded(self) -> dict[str, str]:
        if self._build is not None:
            self._values = self._build()
            self._build = None
        return self._values

    def __getitem__(self, key: str) -> str:
        return self._loaded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


def _interruptible(run: Run, site: TaskSite, state: NodeState) -> bool:
    if run.options.interruptible is not None:
        wanted = run.options.interruptible
    elif site.node.metadata.WhichOneof("interruptible_value") is not None:
        wanted = site.node.metadata.interruptible
    else:
        wanted = site.task.metadata.interruptible
    return wanted and state.system_failures < run.engine.config.interruptible_failure_threshold


def _cache_settings(site: TaskSite) -> tuple[bool, str, bool]:
    """(cacheable, cache version, serializable), node overrides first."""
    meta = site.node.metadata
    task_meta = site.task.metadata
    cacheable = meta.cacheable if meta.WhichOneof("cacheable_value") is not None else task_meta.discoverable
    version = (
        meta.cache_version
        if meta.WhichOneof("cache_version_value") is not None
        else task_meta.discovery_version
    )
    serializable = (
        meta.cache_serializable
        if meta.WhichOneof("cache_serializable_value") is not None
        else task_meta.cache_serializable
    )
    return cacheable, version, serializable


def cache_key(site: TaskSite) -> CacheKey | None:
    """The site's cache key, or None when its task is not cached."""
    cacheable, version, _ = _cache_settings(site)
    if not cacheable:
        return None
    return CacheKey.for_task(
        site.task.id, site.task.interface, version, site.inputs, site.task.metadata.cache_ignore_input_vars
    )


def _owner(run: Run, site: TaskSite) -> str:
    return f"{run.key}/{site.uid}"


def _begin_attempt(
    run: Run, site: TaskSite, state: NodeState, handler: TaskHandler, result: StepResult
) -> bool:
    """Look in the cache, take the cache reservation, respect parallelism; True to call the handler."""
    key = cache_key(site)
    if key is not None and state.attempt == 0 and not run.options.overwrite_cache:
        hit = run.engine.catalog.get(key)
        if hit is not None:
            outputs_uri = run.engine.storage.join(attempt_dir(run, site, 0), "outputs.pb")
            run.write_literal_map(outputs_uri, hit.outputs)
            state.outputs_uri = outputs_uri
            state.cache_status = catalog_pb2.CACHE_HIT
            state.phase = NodePhase.SUCCEEDED
            result.outcome = Outcome.SUCCEEDED
            result.node_phases.append(NodePhase.SUCCEEDED)
            return False
        state.cache_status = catalog_pb2.CACHE_MISS
    if key is not None and _cache_settings(site)[2]:
        reservation = run.engine.catalog.reserve(key, _owner(run, site), RESERVATION_TTL)
        if not reservation.held_by(_owner(run, site)):
            state.message = f"waiting for the cache reservation of {key}, held by {reservation.owner}"
            run.wake_at(run.now + RESERVATION_POLL)
            return False
        state.message = ""
    if not run.may_start_attempt():
        state.message = f"waiting: {run.max_parallelism} task(s) already running (max parallelism)"
        return False
    state.message = ""
    state.task = TaskAttemptState(plugin_state_version=handler.state_version)
    state.attempt_started_at = run.now
    return True


def deadlines(run: Run, site: TaskSite) -> tuple[float, float]:
    """(execution deadline, active deadline) in seconds; 0 = none."""
    timeout = site.node.metadata.timeout if site.node.metadata.HasField("timeout") else None
    if timeout is None and site.task.metadata.HasField("timeout"):
        timeout = site.task.metadata.timeout
    config = run.engine.config
    if timeout is not None and timeout.ToNanoseconds() > 0:
        execution = timeout.ToNanoseconds() / 1e9
        return execution, 2 * execution
    return config.default_execution_deadline, config.default_active_deadline


def _deadlines_passed(
    run: Run, site: TaskSite, state: NodeState, handler: TaskHandler, result: StepResult
) -> bool:
    execution, active = deadlines(run, site)
    if active and state.queued_at is not None:
        if run.now >= state.queued_at + active:
            _abort_attempt(run, site, state, handler, result, "node timed out")
            state.error = ExecutionError(
                "ActiveTimeoutExpired",
                f"{site.label}: timed out after {active:g}s (active deadline, retries included)",
                ErrorKind.USER,
            )
            state.phase = NodePhase.TIMED_OUT
            result.node_phases += [NodePhase.TIMING_OUT, NodePhase.TIMED_OUT]
            result.outcome = Outcome.FAILED
            return True
        run.wake_at(state.queued_at + active)
    if execution and state.task is not None and state.attempt_started_at is not None:
        if run.now >= state.attempt_started_at + execution:
            _abort_attempt(run, site, state, handler, result, "attempt timed out")
            error = ExecutionError(
                "TimeoutExpired",
                f"{site.label}: attempt {state.attempt} exceeded its execution timeout of {execution:g}s",
                ErrorKind.USER,
            )
            _after_failure(run, site, state, result, error, retryable=True)
            return True
        run.wake_at(state.attempt_started_at + execution)
    return False


def _apply(
    run: Run,
    site: TaskSite,
    state: NodeState,
    handler: TaskHandler,
    ctx: TaskContext,
    transition: Transition,
    result: StepResult,
) -> None:
    task_state = state.task
    assert task_state is not None
    if transition.state is not None:
        task_state.plugin_state = dict(transition.state)
        task_state.plugin_state_version = handler.state_version
    logs = [(log.name, log.uri) for log in transition.logs]
    changed = (
        int(transition.phase) != task_state.phase
        or transition.version != task_state.version
        or transition.reason != task_state.reason
        or (logs and logs != task_state.logs)
    )
    if state.phase is NodePhase.QUEUED and transition.phase >= TaskPhase.QUEUED:
        state.phase = NodePhase.RUNNING
        result.node_phases.append(NodePhase.RUNNING)
    if transition.wake_after is not None and not transition.phase.is_terminal:
        run.wake_at(run.now + transition.wake_after)
        if transition.parkable:
            run.parkable_attempts += 1
    if transition.phase is TaskPhase.SUCCESS:
        _after_success(run, site, state, handler, ctx, transition, result)
        return
    if changed:
        if not transition.phase.is_failure:
            task_state.phase = int(transition.phase)  # a failure's phase is set when the attempt ends
        task_state.version = transition.version
        task_state.reason = transition.reason
        if logs:
            task_state.logs = logs
        if not transition.phase.is_failure and transition.phase is not TaskPhase.NOT_READY:
            result.reports.append(
                TaskReport(
                    state.attempt,
                    int(transition.phase),
                    transition.version,
                    run.now,
                    transition.reason,
                    tuple(task_state.logs),
                    custom_info=transition.custom_info,
                )
            )
    if transition.phase.is_failure:
        assert transition.error is not None
        error = replace(transition.error, message=f"{site.where}: {transition.error.message}")
        _fail_attempt(run, site, state, handler, result, transition.phase, error)


def _fail_attempt(
    run: Run,
    site: TaskSite,
    state: NodeState,
    handler: TaskHandler,
    result: StepResult,
    phase: TaskPhase,
    error: ExecutionError,
) -> None:
    """End the attempt in the failure ``phase`` with ``error``: its cleanup owed, then a retry or the node's end."""
    _owe_cleanup(run, site, state, handler)
    _end_attempt(run, state, int(phase))
    _after_failure(run, site, state, result, error, retryable=phase is TaskPhase.RETRYABLE_FAILURE)


def _after_success(
    run: Run,
    site: TaskSite,
    state: NodeState,
    handler: TaskHandler,
    ctx: TaskContext,
    transition: Transition,
    result: StepResult,
) -> None:
    storage = run.engine.storage
    task_state = state.task
    assert task_state is not None
    if handler.produces_futures and storage.exists(ctx.futures_uri):
        _owe_cleanup(run, site, state, handler)
        _end_attempt(run, state, int(TaskPhase.SUCCESS))
        result.reports.append(
            TaskReport(
                state.attempt,
                int(TaskPhase.SUCCESS),
                transition.version,
                run.now,
                logs=tuple(task_state.logs),
            )
        )
        result.outcome = Outcome.DYNAMIC
        return
    try:
        outputs = run.literal_map(ctx.outputs_uri) if storage.exists(ctx.outputs_uri) else None
    except MalformedBlobError as exc:
        # What the task wrote, not the storage, is at fault: this attempt failed (a storage error fails the node).
        message = f"{site.where}: task {site.task.id.name!r}: cannot read its outputs: {exc}"
        error = ExecutionError("OutputsUnreadable", message, ErrorKind.SYSTEM)
        _fail_attempt(run, site, state, handler, result, TaskPhase.RETRYABLE_FAILURE, error)
        return
    if outputs is None:
        outputs = literals_pb2.LiteralMap()
        run.write_literal_map(ctx.outputs_uri, outputs)
    problem = check_outputs(site, outputs) if site.validate_outputs else None
    if problem is not None:
        error = ExecutionError("OutputsMismatch", problem, ErrorKind.USER)
        _fail_attempt(run, site, state, handler, result, TaskPhase.PERMANENT_FAILURE, error)
        return
    _owe_cleanup(run, site, state, handler)
    _end_attempt(run, state, int(TaskPhase.SUCCESS))
    complete(run, site, state, ctx.outputs_uri, outputs)
    task_state.version = transition.version
    result.reports.append(
        TaskReport(
            state.attempt,
            int(TaskPhase.SUCCESS),
            transition.version,
            run.now,
            logs=tuple(task_state.logs),
            output_uri=ctx.outputs_uri,
        )
    )
    result.node_phases.append(NodePhase.SUCCEEDED)
    result.outcome = Outcome.SUCCEEDED


def complete(
    run: Run, site: TaskSite, state: NodeState, outputs_uri: str, outputs: literals_pb2.LiteralMap
) -> None:
    """Mark the execution succeeded with these outputs, filling the cache if the task is cached."""
    key = cache_key(site)
    if key is not None:
        source = identifier_pb2.TaskExecutionIdentifier(
            task_id=site.task.id,
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                node_id=site.uid, execution_id=run.execution_id
            ),
            retry_attempt=state.attempt,
        )
        run.engine.catalog.put(key, outputs, source, overwrite=run.options.overwrite_cache)
        run.engine.catalog.release(key, _owner(run, site))
        state.cache_status = catalog_pb2.CACHE_POPULATED
    state.outputs_uri = outputs_uri
    state.phase = NodePhase.SUCCEEDED


def check_outputs(site: TaskSite, outputs: literals_pb2.LiteralMap) -> str | None:
    """A message naming the first output that is missing or of the wrong type, or None."""
    for name, variable in site.task.interface.outputs.variables.items():
        if name not in outputs.literals:
            return f"{site.label} did not return output {name!r}"
        expected = variable.type
        if site.element_outputs and expected.HasField("collection_type"):
            expected = expected.collection_type
        literal = outputs.literals[name]
        if not literal_types.literal_matches(literal, expected):
            got = literal_types.describe(literal_types.literal_type_of(literal))
            return (
                f"{site.label} returned output {name!r} of type {got}, "
                f"expected {literal_types.describe(expected)}"
            )
    return None


def fail_inline(
    run: Run, site: TaskSite, state: NodeState, result: StepResult, error: ExecutionError, *, retryable: bool
) -> None:
    """An index's first attempt, run inline, failed: queue its retry as an ordinary attempt, or fail it."""
    _after_failure(run, site, state, result, error, retryable=retryable)
    if not state.phase.is_terminal:
        state.phase = NodePhase.QUEUED


def _after_failure(
    run: Run, site: TaskSite, state: NodeState, result: StepResult, error: ExecutionError, *, retryable: bool
) -> None:
    """Report the failed attempt, then start over with a new attempt or fail for good."""
    logs = tuple(state.task.logs) if state.task is not None else ()
    phase = TaskPhase.RETRYABLE_FAILURE if retryable else TaskPhase.PERMANENT_FAILURE
    result.reports.append(TaskReport(state.attempt, int(phase), 0, run.now, logs=logs, error=error))
    key = cache_key(site)
    if key is not None:
        run.engine.catalog.release(key, _owner(run, site))
    if retryable and _may_retry(run, site, state, error):
        if error.kind is ErrorKind.SYSTEM:
            state.system_failures += 1
        state.attempt += 1
        state.task = None
        state.attempt_started_at = None
        run.wake_at(run.now)
        return
    _finish_failed(run, site, state, result, error, retryable=retryable)


def _finish_failed(
    run: Run, site: TaskSite, state: NodeState, result: StepResult, error: ExecutionError, *, retryable: bool
) -> None:
    attempts = state.attempt + 1
    if retryable and attempts > 1:
        error = ExecutionError(
            f"RetriesExhausted|{error.code}",
            f"{error.message} (gave up after {attempts} attempt(s))",
            error.kind,
            error.error_uri,
        )
    state.error = error
    state.phase = NodePhase.FAILED
    result.node_phases += [NodePhase.FAILING, NodePhase.FAILED]
    result.outcome = Outcome.FAILED


def _may_retry(run: Run, site: TaskSite, state: NodeState, error: ExecutionError) -> bool:
    if error.kind is ErrorKind.SYSTEM:
        return state.system_failures < run.engine.config.max_system_retries
    node_retries = site.node.metadata.retries.retries
    retries: int = node_retries or site.task.metadata.retries.retries
    user_attempts = state.attempt + 1 - state.system_failures
    return user_attempts <= retries


def _end_attempt(run: Run, state: NodeState, phase: int) -> None:
    """Record the attempt's last phase and free its parallelism slot (once)."""
    if state.attempt_in_flight:
        run.attempt_ended()
    if state.task is not None:
        state.task.phase = phase
    failpoint("attempt.ended")


def _owe_cleanup(
    run: Run, site: TaskSite, state: NodeState, handler: TaskHandler, abort_reason: str | None = None
) -> None:
    """Owe the ended attempt its handler's cleanup: ``abort`` (if aborted), then ``finalize``.

    Neither runs now: the cleanup is kept in the execution's state and run by the engine once that state,
    which no longer needs what the cleanup removes, is saved (:meth:`Engine.evaluate`).
    """
    handler_type = type(handler)
    if handler_type.finalize is TaskHandler.finalize and (
        abort_reason is None or handler_type.abort is TaskHandler.abort
    ):
        return  # nothing to call
    run.state.cleanups.append(PendingCleanup(record(run, site, state, handler), abort_reason))


def clean_up(run: Run, cleanup: PendingCleanup) -> None:
    """Run a cleanup owed to an ended attempt; failures are logged (a leak must not fail anything)."""
    attempt = cleanup.attempt
    owed = f"node {attempt.node_id} attempt {attempt.attempt}"
    handler = cleanup_handler(run, attempt.handler, owed, "its cleanup")
    if handler is None:
        return
    ctx = task_context(run, attempt)
    if cleanup.abort_reason is not None:
        try:
            handler.abort(ctx)
        except Exception:  # abort is best effort: the attempt is over for the engine either way
            log.exception("abort of %s (%s) failed", ctx.task_execution_id, cleanup.abort_reason)
    finalize(handler, ctx)


def cleanup_handler(run: Run, name: str, owed: str, cleanup: str) -> TaskHandler | None:
    """The handler a cleanup owed to ``owed`` (``node n0 attempt 1``) calls; None, logged, when no handler of that
    name is installed (``cleanup`` says what is skipped then)."""
    try:
        return run.engine.handlers.by_name(name)
    except RoostError:
        log.error("execution %s %s: handler %r is not installed; %s is skipped", run.key, owed, name, cleanup)
        return None


def finalize(handler: TaskHandler, ctx: TaskContext) -> None:
    """The handler's ``finalize`` of an ended attempt, best effort: a failure is logged (a leak must not fail the
    node)."""
    try:
        handler.finalize(ctx)
    except Exception:  # plugin code
        log.exception("finalize of %s failed", ctx.task_execution_id)


def _abort_attempt(
    run: Run, site: TaskSite, state: NodeState, handler: TaskHandler, result: StepResult, reason: str
) -> None:
    if not state.attempt_in_flight:
        return
    assert state.task is not None
    _owe_cleanup(run, site, state, handler, reason)
    result.reports.append(TaskReport(state.attempt, TASK_ABORTED, 0, run.now, reason, tuple(state.task.logs)))
    _end_attempt(run, state, TASK_ABORTED)


def abort(run: Run, site: TaskSite, state: NodeState, reason: str) -> StepResult:
    """Abort the current attempt, if one is in flight (used when the node or execution is aborted)."""
    result = StepResult()
    try:
        handler = task_handler(run, site.task.type)
    except RoostError:
        return result
    _abort_attempt(run, site, state, handler, result, reason)
    key = cache_key(site)
    if key is not None:
        run.engine.catalog.release(key, _owner(run, site))
    return result
