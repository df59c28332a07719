"""Engine workers: threads that claim executions from the database and evaluate them with the core engine.

Claims. An execution row is claimable when nobody holds it and it is due (``claimed_by = ''`` and ``wake_at``
has passed), or when its holder's lease has expired (``lease_until`` passed: the holder died or hangs). A
worker claims with one UPDATE that sets ``claimed_by`` to its identity and ``lease_until`` to now plus
``lease_seconds``; on PostgreSQL the candidates are picked ``FOR UPDATE SKIP LOCKED``, so workers in any
number of processes never claim the same row and never wait on each other; on SQLite the single UPDATE is
atomic (SQLite has one writer at a time), which makes several threads safe, but several processes on one
SQLite file are not supported. The earliest due are claimed first (those of dead holders before all), and a
slot freed by parking is filled at once.

Holding. A worker keeps the executions it claimed (up to ``executions_per_worker``) in memory with their
engine :class:`~roost_core.engine.Run` and evaluates each when it is due: when a handler or the engine woke it
(``ctx.notify()`` wakes the owning worker at once), when the time it asked for came, or after the engine's
``poll_interval``. A pool-wide heartbeat renews the leases of everything held every third of the lease. Every
save of the state is fenced: it succeeds only while the saving worker still holds the claim
(:class:`~roost_admin.workers.store.ClaimedStateStore`), so a worker that lost its claim drops the execution
instead of overwriting its successor's state.

Wake-ups from outside. A change made elsewhere (TerminateExecution, SetSignal, a child execution ending, a new
execution) sets the row's ``wake_at`` to now. A holder picks up its rows' wake-ups (and abort requests) at its
next database poll, every ``worker_poll_interval``; ``WorkerPool.poke()`` makes the workers of this process
poll at once, so changes made through this process's RPCs take effect immediately.

Parking. An execution that only waits for signals, child executions, timers or remote jobs between polls (the
engine's round says ``parkable``: no task attempt in flight but remote jobs, no events or cleanups left) is let
go: its slot is free for others. Whatever ends the wait sets ``wake_at`` (SetSignal, a child's end, terminate,
and a remote job's status change seen by this process's status cache, through :meth:`WorkerPool.wake_parked`),
its earliest timer (a remote job's next poll) becomes ``wake_at``, and any worker claims it again then; a
wake-up that arrived while it was held stays in ``wake_at``.

Letting go. An execution that ended, with all its events recorded, is released with ``wake_at`` cleared. On
``stop`` (SIGTERM or Ctrl-C of ``roost start`` and ``roost engine``) the workers finish their current round and
release what they hold with ``wake_at`` now, so another worker picks it up at once. A process that dies keeps its
claims until their leases expire, then another worker takes them over and resumes from the saved state (finished
nodes are not run again; running tasks are picked up through their persisted handler state), unless the process
is restarted on the same host and data folder first: its identity is stable
(:mod:`~roost_admin.workers.identity`), and a pool that starts hands back its predecessor's claims at once.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyteidl.core import compiler_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from roost_admin.db import models
from roost_admin.db.base import utcnow
from roost_admin.services import Services
from roost_admin.services.rows import key_text, wake
from roost_admin.services.state import load_state
from roost_admin.workers.config import (
    admin_environment,
    engine_config,
    in_settings,
    prune_task_logs,
    storage_environment,
)
from roost_admin.workers.identity import WorkerIdentity
from roost_admin.workers.launcher import AdminChildLauncher
from roost_admin.workers.signals import AdminSignals
from roost_admin.workers.sink import AdminEventSink
from roost_admin.workers.store import Claim, ClaimedStateStore
from roost_core.engine import Engine, ExecutionState, Run, StateStoreError
from roost_core.errors import ConfigurationError, RoostError
from roost_core.failpoints import failpoint
from roost_core.storage import StorageError

if TYPE_CHECKING:
    from flyteidl.core import identifier_pb2

    TaskCredentials = Callable[[identifier_pb2.WorkflowExecutionIdentifier], dict[str, str]]
    """Environment variables holding an execution's credentials, for its task processes."""

log = logging.getLogger(__name__)

CLAIM_BATCH = 4
"""Executions a worker claims per poll at most, so that several workers share a burst of new executions."""
ERROR_BACKOFF = 5.0
"""Seconds before an execution whose round raised unexpectedly is evaluated again."""
_E = models.Execution


class _WorkerRun(Run):
    """A Run whose wake-ups also wake the worker holding it (``ctx.notify()`` from a handler thread)."""

    def __init__(
        self,
        engine: Engine,
        state: ExecutionState,
        closure: compiler_pb2.CompiledWorkflowClosure,
        on_wake: Callable[[], None],
    ) -> None:
        super().__init__(engine, state, closure)
        self._on_wake = on_wake

    def wake(self) -> None:
        """Have the execution evaluated at once."""
        super().wake()
        self._on_wake()


@dataclass
class _Held:
    """An execution a worker holds."""

    execution_id: int
    run: _WorkerRun
    due: float
    """When its next round is due (epoch seconds)."""


class _Worker:
    """One worker thread and the executions it holds."""

    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.identity = f"{pool.identity}/{index}"
        self._held: dict[int, _Held] = {}
        self._woken: set[int] = set()
        self._sync_now = True
        self._stopping = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._main, name=f"roost-worker-{index}", daemon=True)

    # control, from other threads

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def poke(self) -> None:
        """Poll the database now (claims, wake-ups)."""
        with self._cond:
            self._sync_now = True
            self._cond.notify()

    def woken(self, execution_id: int) -> None:
        """An execution asked for a round: at once if this worker holds it; through the database if it was
        parked since (a remote job's status changed), so whichever worker claims it next looks."""
        with self._cond:
            held = execution_id in self._held
            if held:
                self._woken.add(execution_id)
                self._cond.notify()
        if not held:
            self.pool.wake_parked(execution_id)

    def held_ids(self) -> list[int]:
        with self._cond:
            return list(self._held)

    # the thread

    def _main(self) -> None:
        next_sync = 0.0
        try:
            while True:
                with self._cond:
                    if self._stopping:
                        break
                    sync = self._sync_now or time.time() >= next_sync
                    self._sync_now = False
                try:
                    if sync:
                        self._sync()
                        next_sync = time.time() + self.pool.poll_interval
                    self._evaluate_due()
                except Exception:  # a bug must not end the thread: its executions would wait for its lease
                    log.exception("worker %s failed; going on", self.identity)
                    time.sleep(1.0)
                with self._cond:
                    if self._stopping or self._sync_now or self._woken:
                        continue
                    now = time.time()
                    wait = next_sync - now
                    if self._held:
                        wait = min(wait, min(h.due for h in self._held.values()) - now)
                    if wait > 0:
                        self._cond.wait(wait)
        finally:
            self._release_all()

    def _evaluate_due(self) -> None:
        now = time.time()
        with self._cond:
            woken, self._woken = self._woken, set()
            due = sorted(
                (h for h in self._held.values() if h.execution_id in woken or h.due <= now),
                key=lambda h: h.due,
            )
        for held in due:
            with self._cond:
                if self._stopping:
                    return
            self._round(held)

    def _round(self, held: _Held) -> None:
        pool = self.pool
        run = held.run
        try:
            with pool.sink.evaluating(run):
                result = pool.engine.evaluate(run)
        except StateStoreError as exc:
            log.warning("dropping execution %s: %s", run.key, exc)
            self._drop(held, release=True)
            return
        except Exception:  # a bug below the engine's own guards: keep the execution, try again later
            log.exception("a round of execution %s failed", run.key)
            held.due = time.time() + ERROR_BACKOFF
            return
        now = time.time()
        if result.phase.is_terminal:
            if not run.state.outbox:
                self._release(held, finished=True)
                return
            held.due = now + max(pool.engine.config.event_backoff, 1.0)
            return
        if result.parkable:
            self._park(held, result.timer)
            return
        due = now + pool.engine.config.poll_interval
        if result.next_wake is not None:
            due = min(due, result.next_wake)
        held.due = due

    # the database

    def _sync(self) -> None:
        """Pick up wake-ups and abort requests of held executions, then claim more if there is room."""
        try:
            self._pick_up_wakeups()
            room = self.pool.executions_per_worker - len(self._held)
            if room > 0:
                self._claim(min(room, CLAIM_BATCH))
        except SQLAlchemyError:
            log.warning("worker %s cannot reach the database; retrying", self.identity, exc_info=True)

    def _pick_up_wakeups(self) -> None:
        if not self._held:
            return
        with self.pool.context.db.begin() as session:
            rows = session.execute(
                update(_E)
                .where(_E.claimed_by == self.identity, _E.wake_at.is_not(None))
                .values(wake_at=None)
                .returning(_E.id, _E.abort_cause)
                .execution_options(synchronize_session=False)
            ).all()
        for execution_id, abort_cause in rows:
            held = self._held.get(execution_id)
            if held is None:
                continue
            if abort_cause and not held.run.state.abort_cause:
                self.pool.engine.abort(held.run, abort_cause)
            self.woken(execution_id)

    def _claim(self, count: int) -> None:
        pool = self.pool
        now = utcnow()
        claimable = or_(
            and_(_E.claimed_by == "", _E.wake_at <= now),
            and_(_E.claimed_by != "", _E.lease_until < now),
        )
        # Earliest due first, so a new execution is not starved by parked ones whose polls keep coming due;
        # rows of a dead holder (no wake_at) go first.
        candidates = (
            select(_E.id).where(claimable).order_by(_E.wake_at.asc().nulls_first(), _E.id).limit(count)
        )
        if not pool.context.db.is_sqlite:
            candidates = candidates.with_for_update(skip_locked=True)
        with pool.context.db.begin() as session:
            claimed = session.execute(
                update(_E)
                .where(_E.id.in_(candidates.scalar_subquery()), claimable)
                .values(claimed_by=self.identity, lease_until=now + pool.lease, wake_at=None)
                .returning(_E.id, _E.project, _E.domain, _E.name, _E.abort_cause)
                .execution_options(synchronize_session=False)
            ).all()
        if claimed:
            failpoint("worker.claimed")
        for execution_id, project, domain, name, abort_cause in claimed:
            self._take(execution_id, key_text(project, domain, name), abort_cause)

    def _take(self, execution_id: int, key: str, abort_cause: str) -> None:
        """Load a claimed execution into memory; an execution whose state cannot be read fails."""
        pool = self.pool
        try:
            with pool.context.db.session() as session:
                state = load_state(session, execution_id, key)
            if state is None:
                raise StateStoreError(f"execution {key} has no saved state")
            closure = pool.context.storage.read_proto(state.closure_uri, compiler_pb2.CompiledWorkflowClosure)
        except (StateStoreError, StorageError) as exc:
            log.error("execution %s cannot be resumed: %s", key, exc)
            self._fail(execution_id, key, str(exc))
            return
        run = _WorkerRun(pool.engine, state, closure, lambda: self.woken(execution_id))
        held = _Held(execution_id, run, time.time())
        pool.store.hold(key, Claim(execution_id, self.identity))
        with self._cond:
            self._held[execution_id] = held
        if abort_cause and not state.abort_cause:
            pool.engine.abort(run, abort_cause)

    def _fail(self, execution_id: int, key: str, message: str) -> None:
        """End an execution that cannot be resumed, so no worker claims it again and again."""
        now = utcnow()
        with self.pool.context.db.begin() as session:
            session.execute(
                update(_E)
                .where(_E.id == execution_id, _E.claimed_by == self.identity)
                .values(
                    phase=core_execution_pb2.WorkflowExecution.FAILED,
                    error_code="StateUnreadable",
                    error_kind=core_execution_pb2.ExecutionError.SYSTEM,
                    error_message=f"execution {key} cannot be resumed: {message}",
                    updated_at=now,
                    claimed_by="",
                    lease_until=None,
                    wake_at=None,
                )
                .execution_options(synchronize_session=False)
            )

    def _release(self, held: _Held, *, finished: bool) -> None:
        if finished:
            failpoint("worker.before-release")
        try:
            with self.pool.context.db.begin() as session:
                session.execute(
                    update(_E)
                    .where(_E.id == held.execution_id, _E.claimed_by == self.identity)
                    .values(claimed_by="", lease_until=None, wake_at=None if finished else utcnow())
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError:
            log.warning("releasing execution %s failed; its lease will expire", held.run.key, exc_info=True)
        self._drop(held, release=False)

    def _park(self, held: _Held, timer: float | None) -> None:
        """Let go of an execution that only waits for a signal, a child execution, a timer or a remote job's
        next poll: its slot is free for others. A signal, a child's end, terminate or a remote job's changed
        status sets ``wake_at`` (so any worker claims it again); the timer becomes ``wake_at``. A wake-up that
        came while it was held is kept, not lost."""
        wake_at: Any = _E.wake_at
        if timer is not None:
            wake_at = func.coalesce(_E.wake_at, datetime.datetime.fromtimestamp(timer, datetime.UTC))
        try:
            with self.pool.context.db.begin() as session:
                session.execute(
                    update(_E)
                    .where(_E.id == held.execution_id, _E.claimed_by == self.identity)
                    .values(claimed_by="", lease_until=None, wake_at=wake_at)
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError:
            log.warning("parking execution %s failed; keeping it", held.run.key, exc_info=True)
            held.due = time.time() + self.pool.engine.config.poll_interval
            return
        self.pool.store.forget(held.run.key)
        with self._cond:
            self._held.pop(held.execution_id, None)
            woken = held.execution_id in self._woken
            self._woken.discard(held.execution_id)
            self._sync_now = True  # fill the freed slot now, not at the next poll
        if woken:
            # A wake-up (a remote job's status changed) came after the round began: not to be lost.
            self.pool.wake_parked(held.execution_id)

    def _drop(self, held: _Held, *, release: bool) -> None:
        if release:
            self._release(held, finished=False)
            return
        self.pool.store.forget(held.run.key)
        with self._cond:
            self._held.pop(held.execution_id, None)
            self._woken.discard(held.execution_id)

    def _release_all(self) -> None:
        for held in list(self._held.values()):
            self._release(held, finished=False)


class WorkerPool:
    """``count`` engine worker threads sharing one engine (see the module docstring for how they share work
    with each other and with workers in other processes)."""

    def __init__(
        self,
        services: Services,
        count: int,
        *,
        public_grpc_endpoint: str,
        task_credentials: TaskCredentials | None = None,
    ) -> None:
        context = services.context
        settings = context.settings
        if count < 1:
            raise RoostError(f"a worker pool needs at least one worker, not {count}")
        self.context = context
        self._identity: WorkerIdentity | None = None
        self.identity = ""
        """``<host>:<data folder digest>:<slot>``, set by :meth:`start`; worker ``i`` claims as ``identity/i``."""
        self.lease = datetime.timedelta(seconds=settings.lease_seconds)
        self.poll_interval = settings.worker_poll_interval
        self.executions_per_worker = settings.executions_per_worker
        self.store = ClaimedStateStore(context.db, self.lease)
        self.sink = AdminEventSink(services.events)
        self.task_log_dir = settings.data_dir / "task-logs"
        """Where local processes' logs go unless the local-process handler's settings say otherwise."""
        try:
            self.engine = Engine(
                context.storage,
                config=engine_config(
                    settings.engine,
                    {
                        **storage_environment(settings.storage_options),
                        **admin_environment(public_grpc_endpoint, insecure=settings.public_grpc_insecure),
                    },
                    log_dir=self.task_log_dir,
                ),
                plugins=context.plugins,
                state_store=self.store,
                sinks={"admin": self.sink},
                signals=AdminSignals(services.signals),
                launcher=AdminChildLauncher(services.executions),
                task_credentials=task_credentials,
            )
        except ConfigurationError as exc:
            raise in_settings(exc, settings.config_file) from None
        self._count = count
        self._workers: list[_Worker] = []
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="roost-worker-heartbeat", daemon=True)
        self._started = False

    def start(self) -> None:
        """Start the workers and the heartbeat; every chosen handler is built first, so one that cannot be
        built fails here, not at the first task."""
        try:
            self.engine.handlers.build_all()
        except ConfigurationError as exc:
            raise in_settings(exc, self.context.settings.config_file) from None
        prune_task_logs(self.task_log_dir, self.context.settings.task_log_days)
        self._identity = WorkerIdentity.acquire(self.context.settings.data_dir)
        self.identity = self._identity.name
        self._hand_back_predecessors_claims()
        self._workers = [_Worker(self, i) for i in range(self._count)]
        for worker in self._workers:
            worker.start()
        self._heartbeat.start()
        self.context.wakeups.listen(self.poke)
        self._started = True
        log.info("%d engine worker(s) started as %s", len(self._workers), self.identity)

    def _hand_back_predecessors_claims(self) -> None:
        """Make what a dead process of this identity held claimable now, not when its leases expire.

        Holding the identity's slot proves that process is gone (:mod:`~roost_admin.workers.identity`).
        """
        with self.context.db.begin() as session:
            handed_back = session.execute(
                update(_E)
                .where(_E.claimed_by.startswith(f"{self.identity}/", autoescape=True))
                .values(claimed_by="", lease_until=None, wake_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        count = getattr(handed_back, "rowcount", 0)
        if count:
            log.info("resuming %d execution(s) an earlier process of %s held", count, self.identity)

    def wake_parked(self, execution_id: int) -> None:
        """A handler of this process woke an execution no worker here holds (parked between a remote job's
        polls): set its ``wake_at`` so it is claimed again now. If that fails, its timer still wakes it."""
        try:
            with self.context.db.begin() as session:
                unfinished = wake(session, execution_id)
        except SQLAlchemyError:
            log.warning("waking parked execution %d failed; its timer will", execution_id, exc_info=True)
            return
        if unfinished:
            self.poke()

    def poke(self) -> None:
        """Something changed in the database (a new execution, a wake-up): have every worker look now."""
        for worker in self._workers:
            worker.poke()

    def stop(self, grace: float = 5.0) -> None:
        """Stop the workers after their current round; they release what they hold so others take over."""
        if not self._started:
            self.engine.close()
            self._release_identity()
            return
        self._started = False
        self.context.wakeups.forget(self.poke)
        for worker in self._workers:
            worker.request_stop()
        deadline = time.time() + grace
        for worker in self._workers:
            if not worker.join(max(0.0, deadline - time.time())):
                log.warning(
                    "worker %s did not stop within %.1fs; its claims expire with its lease",
                    worker.identity,
                    grace,
                )
        self._stop.set()
        self._heartbeat.join(grace)
        self.engine.close()
        self._release_identity()

    def _release_identity(self) -> None:
        if self._identity is not None:
            self._identity.release()
            self._identity = None

    def _beat(self) -> None:
        interval = max(0.05, self.lease.total_seconds() / 3)
        while not self._stop.wait(interval):
            try:
                with self.context.db.begin() as session:
                    for worker in self._workers:
                        held = worker.held_ids()
                        if held:
                            session.execute(
                                update(_E)
                                .where(_E.claimed_by == worker.identity, _E.id.in_(held))
                                .values(lease_until=utcnow() + self.lease)
                                .execution_options(synchronize_session=False)
                            )
            except SQLAlchemyError:
                log.warning("heartbeat failed; leases renew at the next one", exc_info=True)
