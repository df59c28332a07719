"""The task handler that runs a :class:`RemoteJobPlugin`: quotas, rate limits, polling, retries.

Each attempt moves through three phases, kept in its plugin state (:class:`RemoteJobState`):

``not_started``
    Ask the resource manager for the attempt's quota units; while refused, report
    WAITING_FOR_RESOURCES naming the quota.
``allocated``
    Take a write token (or report WAITING_FOR_RESOURCES and try next round) and call ``create``.
    Failures are retried next round until ``max_system_failures`` is exceeded.
``created``
    The job's meta is saved. The status cache fetches it in the background; each round maps the
    latest status through the plugin's ``status``. A terminal phase stops the fetching; the last status is
    kept until ``finalize``, so that a repeated call ends the same way. Until then the transitions are
    ``parkable`` with the next poll as ``wake_after``: the execution may be let go by its worker between
    polls (the meta in the state finds the job again, so nothing is submitted twice), and the cache's
    wake-up on a changed status, or its timer, brings it back.

``abort`` cancels the remote job; ``finalize`` stops watching it and releases its quota units.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Generic

from flyteidl.core import literals_pb2

from roost_core.errors import ConfigurationError, ErrorKind, ExecutionError, RoostError
from roost_core.handler import TaskContext, TaskHandler, TaskPhase, Transition
from roost_core.remote.config import RemoteJobSettings
from roost_core.remote.naming import attempt_job_id
from roost_core.remote.plugin import JobMeta, RemoteJobPlugin, ResourceT, UserError
from roost_core.remote.quota import MemoryResourceManager, ResourceManager
from roost_core.remote.ratelimit import TokenBucket
from roost_core.remote.state import CorruptStateError, JobPhase, RemoteJobState, json_copy
from roost_core.remote.status_cache import StatusCache

__all__ = ["RemoteJobError", "RemoteJobHandler", "describe_attempt"]

log = logging.getLogger(__name__)

_SYSTEM = ErrorKind.SYSTEM


class RemoteJobError(RoostError):
    """Cancelling a remote job for ``abort`` failed; the message names the task and the job."""


def describe_attempt(ctx: TaskContext) -> str:
    """``task 'name' (execution p/d/e, node n0, attempt 0)``: how messages name a task attempt."""
    execution = ctx.task_execution_id.node_execution_id.execution_id
    return (
        f"task {ctx.task.id.name!r} (execution {execution.project}/{execution.domain}/"
        f"{execution.name}, node {ctx.node_id}, attempt {ctx.attempt})"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _Runtime:
    """What the handler builds from its settings on first use."""

    config: RemoteJobSettings
    resources: ResourceManager
    write_limiter: TokenBucket
    cache: StatusCache


class RemoteJobHandler(TaskHandler, Generic[ResourceT]):
    """Runs the tasks of a :class:`RemoteJobPlugin`; register a factory building it for the plugin's task
    types, with :class:`RemoteJobSettings` (or the plugin's subclass) as its settings class.

    ``settings`` are the handler's validated settings (the defaults when omitted). The quotas go to
    ``resource_manager`` (an in-memory one by default; pass a shared one to cap several handlers together).
    ``clock`` drives the rate limiters. Worker threads start on first use; :meth:`close` stops them.
    """

    state_version = 1

    def __init__(
        self,
        plugin: RemoteJobPlugin[ResourceT],
        settings: RemoteJobSettings | None = None,
        *,
        resource_manager: ResourceManager | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(plugin, RemoteJobPlugin):
            raise TypeError(f"RemoteJobHandler needs a RemoteJobPlugin, got {type(plugin).__name__}")
        if not plugin.name:
            raise ValueError(f"{type(plugin).__name__} has no name: set the class attribute 'name'")
        self.plugin = plugin
        self.name = plugin.name
        self._config = settings or RemoteJobSettings()
        self._resource_manager = resource_manager
        self._clock = clock
        self._lock = threading.Lock()
        self._runtime: _Runtime | None = None
        self._closed = False

    def _runtime_for(self) -> _Runtime:
        runtime = self._runtime
        if runtime is not None:
            return runtime
        with self._lock:
            if self._closed:
                raise RuntimeError(f"remote job handler {self.name!r} is closed")
            if self._runtime is None:
                config = self._config
                resources = self._resource_manager or MemoryResourceManager()
                for quota, limit in config.quotas.items():
                    resources.set_limit(quota, limit)
                cache = StatusCache(
                    self.plugin.get,
                    limiter=TokenBucket(config.read_rate_limit, clock=self._clock),
                    resync_interval=config.resync_interval,
                    workers=config.workers,
                    max_failures=config.max_system_failures,
                    name=self.name,
                )
                writes = TokenBucket(config.write_rate_limit, clock=self._clock)
                self._runtime = _Runtime(config, resources, writes, cache)
            return self._runtime

    def _started(self) -> _Runtime:
        if self._runtime is None:
            raise RuntimeError(f"remote job handler {self.name!r} has not handled a task yet")
        return self._runtime

    @property
    def config(self) -> RemoteJobSettings:
        """The settings in use."""
        return self._config

    @property
    def resource_manager(self) -> ResourceManager:
        """The quota keeper in use (available once the handler has handled a task)."""
        return self._started().resources

    @property
    def status_cache(self) -> StatusCache:
        """The background status cache (available once the handler has handled a task)."""
        return self._started().cache

    def close(self) -> None:
        """Stop the status cache's threads. Later calls of ``handle`` raise."""
        with self._lock:
            self._closed = True
            runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.cache.close()

    def handle(self, ctx: TaskContext) -> Transition:
        """Advance the attempt by one step; see the module docstring for the phases."""
        runtime = self._runtime_for()
        try:
            state = RemoteJobState.from_mapping(ctx.state)
        except CorruptStateError as exc:
            return Transition.failure(
                "RemoteJobCorruptState",
                f"{describe_attempt(ctx)}: the saved plugin state is corrupt: {exc}",
                kind=_SYSTEM,
                retryable=False,
            )
        key = attempt_job_id(ctx.task_execution_id)
        if state.phase is JobPhase.NOT_STARTED:
            allocated = self._allocate(ctx, runtime, key)
            if isinstance(allocated, Transition):
                return allocated
            state = RemoteJobState(JobPhase.ALLOCATED, quota=allocated)
        elif state.quota:
            # An in-memory manager forgets holdings on restart; the job still holds them.
            runtime.resources.restore(key, state.quota)
        if state.phase is JobPhase.ALLOCATED:
            return self._create(ctx, runtime, key, state)
        return self._watch(ctx, runtime, key, state)

    def _allocate(self, ctx: TaskContext, runtime: _Runtime, key: str) -> dict[str, int] | Transition:
        where = describe_attempt(ctx)
        try:
            needs = self.plugin.resource_requirements(ctx)
        except UserError as exc:
            return _user_failure(f"{where}: {exc.message}", exc, RemoteJobState())
        if needs is None:
            needs = dict.fromkeys(runtime.config.quotas, 1)
        bad = [
            f"{q!r}: {n!r}" for q, n in needs.items() if not isinstance(q, str) or type(n) is not int or n < 1
        ]
        if bad:
            return Transition.failure(
                "RemoteJobBadRequirements",
                f"{where}: plugin {self.name!r} asked for quota units "
                f"that are not positive whole numbers by quota name: {', '.join(bad)}",
                kind=_SYSTEM,
                retryable=False,
            )
        if not needs:
            return {}
        try:
            refusal = runtime.resources.allocate(key, needs)
        except ConfigurationError as exc:
            return Transition.failure(
                "RemoteJobQuotaMisconfigured", f"{where}: {exc}", kind=_SYSTEM, retryable=False
            )
        if refusal is not None:
            return Transition.waiting_for_resources(refusal.describe(), state=RemoteJobState().to_mapping())
        return dict(needs)

    def _create(self, ctx: TaskContext, runtime: _Runtime, key: str, state: RemoteJobState) -> Transition:
        limiter = runtime.write_limiter
        if not limiter.try_acquire():
            limit = runtime.config.write_rate_limit
            return Transition.waiting_for_resources(
                f"write rate limit of {self.name!r} reached ({limit.qps:g}/s, burst "
                f"{limit.burst}); the remote job will be created in a later round",
                state=state.to_mapping(),
                wake_after=limiter.wait_time(),
            )
        where = describe_attempt(ctx)
        try:
            meta = self.plugin.create(ctx, _inputs(ctx))
        except UserError as exc:
            return _user_failure(f"{where}: {exc.message}", exc, state)
        except Exception as exc:  # the plugin's call: a system failure, retried within the budget
            return self._system_failure(
                runtime, where, "create", exc, state=state, retry_phase=TaskPhase.NOT_READY
            )
        try:
            meta = json_copy(meta)
        except TypeError as exc:
            return Transition.failure(
                "RemoteJobBadMeta",
                f"{where}: plugin {self.name!r} returned a job meta from "
                f"create() that cannot be saved: {exc}",
                kind=_SYSTEM,
                retryable=False,
                state=state.to_mapping(),
            )
        state = RemoteJobState(JobPhase.CREATED, meta, state.quota)
        label = self.plugin.job_label(meta)
        log.info("%s: created remote job %s", where, label)
        runtime.cache.track(key, meta, ctx.notify)
        return Transition(
            TaskPhase.QUEUED,
            state=state.to_mapping(),
            reason=f"created remote job {label}",
            wake_after=runtime.config.resync_interval,
            parkable=True,
        )

    def _watch(self, ctx: TaskContext, runtime: _Runtime, key: str, state: RemoteJobState) -> Transition:
        assert state.meta is not None  # RemoteJobState.from_mapping guarantees it for CREATED
        meta = state.meta
        where = f"{describe_attempt(ctx)}, remote job {self.plugin.job_label(meta)}"
        cached = runtime.cache.track(key, meta, ctx.notify)
        if cached.user_error is not None:
            runtime.cache.settle(key)
            return _user_failure(f"{where}: {cached.user_error.message}", cached.user_error, state)
        if cached.gave_up:
            runtime.cache.settle(key)
            cancelled = (
                "the job was cancelled"
                if self._cancel_quietly(meta, where)
                else "cancelling the job failed too"
            )
            return Transition.failure(
                "RemoteJobUnreachable",
                f"{where}: get() failed {cached.failures} times in a row, "
                f"more than max_system_failures={runtime.config.max_system_failures}; {cancelled}; "
                f"last error: {cached.last_error}",
                kind=_SYSTEM,
                retryable=False,
                state=state.to_mapping(),
            )
        if not cached.fetched:
            # after a restart: the phase the engine last saw, never an earlier one
            phase, version = state.reported
            return Transition(
                max(TaskPhase.QUEUED, TaskPhase(phase)) if phase else TaskPhase.QUEUED,
                version=version,
                state=state.to_mapping(),
                reason=f"waiting for the first status of remote job {self.plugin.job_label(meta)}",
                wake_after=runtime.config.resync_interval,
                parkable=True,
            )
        try:
            transition = self.plugin.status(ctx, cached.resource)
        except UserError as exc:
            runtime.cache.settle(key)
            return _user_failure(f"{where}: {exc.message}", exc, state)
        except Exception as exc:  # the plugin's call: a system failure, retried within the budget
            failed = self._system_failure(
                runtime, where, "status", exc, state=state, retry_phase=TaskPhase.RUNNING
            )
            if failed.phase.is_terminal:
                runtime.cache.settle(key)
            return failed
        if not isinstance(transition, Transition) or transition.state is not None:
            runtime.cache.settle(key)
            got = (
                "a Transition with state set"
                if isinstance(transition, Transition)
                else type(transition).__name__
            )
            return Transition.failure(
                "RemoteJobPluginError",
                f"{where}: plugin {self.name!r} returned {got} from "
                "status(); return a Transition without state (the machinery keeps the plugin "
                "state; put what the job needs in its meta)",
                kind=_SYSTEM,
                retryable=False,
                state=state.to_mapping(),
            )
        state = dataclasses.replace(state, system_failures=0)
        if not transition.phase.is_terminal:
            state = dataclasses.replace(state, reported=(int(transition.phase), transition.version))
        if transition.phase.is_terminal:
            runtime.cache.settle(key)
            error = transition.error
            if error is not None:
                error = dataclasses.replace(error, message=f"{where}: {error.message}")
            return dataclasses.replace(transition, state=state.to_mapping(), error=error)
        # The job runs elsewhere and the saved meta finds it again: the execution may wait parked until the
        # cache sees a change (it notifies) or the next poll is due.
        resync = runtime.config.resync_interval
        wake_after = resync if transition.wake_after is None else min(transition.wake_after, resync)
        return dataclasses.replace(transition, state=state.to_mapping(), wake_after=wake_after, parkable=True)

    def _system_failure(
        self,
        runtime: _Runtime,
        where: str,
        call: str,
        exc: Exception,
        *,
        state: RemoteJobState,
        retry_phase: TaskPhase,
    ) -> Transition:
        failures = state.system_failures + 1
        limit = runtime.config.max_system_failures
        state = dataclasses.replace(state, system_failures=failures)
        detail = f"{type(exc).__name__}: {exc}"
        if failures > limit:
            return Transition.failure(
                f"RemoteJob{call.capitalize()}Failed",
                f"{where}: {call}() failed {failures} times "
                f"in a row, more than max_system_failures={limit}; last error: {detail}",
                kind=_SYSTEM,
                retryable=False,
                state=state.to_mapping(),
            )
        log.info("%s: %s() failed (%d of %d tolerated): %s", where, call, failures, limit, detail)
        return Transition(
            retry_phase,
            version=failures,
            state=state.to_mapping(),
            reason=f"{call}() failed ({failures} of {limit} failures tolerated), will retry: {detail}",
            wake_after=min(runtime.config.resync_interval, 2.0 ** (failures - 1)),
        )

    def _cancel_quietly(self, meta: JobMeta, where: str) -> bool:
        try:
            self.plugin.delete(meta)
        except Exception:  # best effort: the attempt fails either way
            log.warning("%s: could not cancel the remote job", where, exc_info=True)
            return False
        return True

    def abort(self, ctx: TaskContext) -> None:
        """Cancel the remote job, if one was created; :class:`RemoteJobError` if that fails."""
        try:
            state = RemoteJobState.from_mapping(ctx.state)
        except CorruptStateError as exc:
            log.warning(
                "%s: nothing to abort, the saved plugin state is corrupt: %s", describe_attempt(ctx), exc
            )
            return
        if state.meta is None:
            return
        self._runtime_for().cache.untrack(attempt_job_id(ctx.task_execution_id))
        try:
            self.plugin.delete(state.meta)
        except Exception as exc:  # the plugin's call: reported with the job it concerns
            raise RemoteJobError(
                f"{describe_attempt(ctx)}: could not cancel remote job "
                f"{self.plugin.job_label(state.meta)}: {type(exc).__name__}: {exc}"
            ) from exc

    def finalize(self, ctx: TaskContext) -> None:
        """Stop watching the job and release the attempt's quota units."""
        runtime = self._runtime_for()
        key = attempt_job_id(ctx.task_execution_id)
        runtime.cache.untrack(key)
        runtime.resources.release(key)


def _inputs(ctx: TaskContext) -> literals_pb2.LiteralMap:
    if not ctx.task.interface.inputs.variables:
        return literals_pb2.LiteralMap()
    return ctx.read_inputs()


def _user_failure(message: str, exc: UserError, state: RemoteJobState) -> Transition:
    phase = TaskPhase.RETRYABLE_FAILURE if exc.retryable else TaskPhase.PERMANENT_FAILURE
    return Transition(
        phase, state=state.to_mapping(), error=ExecutionError(exc.code, message, ErrorKind.USER)
    )
