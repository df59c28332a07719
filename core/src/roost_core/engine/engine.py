"""The engine: starts executions, evaluates them round by round, saves their state, records their events.

One round visits every unfinished node of an execution once, in dependency order. After each round the
state is saved; then the handler cleanups owed to attempts that ended run (``abort``, ``finalize``: they
remove what a restarted engine would need while the saved state still said those attempts run); then
the round's events go to the sinks. An execution is woken for its next round by a handler
(``ctx.notify()``), a timer it asked for, or the poll interval, whichever comes first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2

from roost_core import literal_types
from roost_core.catalog import Catalog, MemoryCatalog
from roost_core.engine import scope as scopes
from roost_core.engine.bindings import BindingError
from roost_core.engine.config import EngineConfig, ExecutionOptions
from roost_core.engine.launcher import ChildLauncher, ChildStatus
from roost_core.engine.nodes import array, attempt, failure
from roost_core.engine.phases import WorkflowPhase
from roost_core.engine.recovery import RECOVERY_BLOB, RecoverySource
from roost_core.engine.run import Run
from roost_core.engine.signals import SignalSource
from roost_core.engine.state import ExecutionState
from roost_core.engine.store import MemoryStateStore, StateStore, StateStoreError
from roost_core.errors import ErrorKind, ExecutionError, RoostError
from roost_core.events.recorder import EventRecorder
from roost_core.events.sinks import EventSink
from roost_core.failpoints import failpoint
from roost_core.plugins import EnginePlugins, HandlerSet
from roost_core.storage import Storage

log = logging.getLogger(__name__)

FINAL_FLUSH_TIMEOUT = 10.0
"""How long :meth:`Engine.run` keeps retrying undelivered events after an execution ended (seconds)."""


class InvalidInputsError(RoostError):
    """The inputs given to an execution do not fit its workflow; the message lists every problem."""


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What a round left behind."""

    phase: WorkflowPhase
    next_wake: float | None
    """When the execution wants its next round at the latest (epoch seconds), if it asked."""
    parkable: bool = False
    """Nothing runs here: the execution waits only for signals, child executions, timers or remote jobs
    between polls (:attr:`Transition.parkable <roost_core.handler.Transition.parkable>`). A store that wakes
    executions when a signal is set, a child ends or a handler notifies may put it away until then, or until
    :attr:`timer`."""
    timer: float | None = None
    """The earliest time a timer of a parkable execution is due (a sleep, a deadline, a remote job's next
    poll), if any."""


class Engine:
    """Runs executions of compiled workflows with the configured handlers.

    Making one checks the handler configuration (:class:`~roost_core.plugins.HandlerSet`): an unknown
    handler, shared section or settings key, a handler chosen for a task type that is not installed, or two
    plugins offering themselves as the default for one task type raise a
    :class:`~roost_core.errors.ConfigurationError` naming every problem. Handlers are built on first use.
    One engine serves many executions, from many threads: each :class:`Run` must be evaluated by one
    thread at a time.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        config: EngineConfig | None = None,
        plugins: EnginePlugins | None = None,
        state_store: StateStore | None = None,
        catalog: Catalog | None = None,
        sinks: Mapping[str, EventSink] | None = None,
        signals: SignalSource | None = None,
        launcher: ChildLauncher | None = None,
        task_credentials: Callable[[identifier_pb2.WorkflowExecutionIdentifier], Mapping[str, str]]
        | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.task_credentials = task_credentials
        """Secret environment for an execution's task processes (an admin's execution credential), asked for
        when a handler reads ``ctx.environment`` and never saved in the execution's state."""
        self.config = config or EngineConfig()
        self.plugins = plugins or EnginePlugins()
        self.state_store: StateStore = state_store or MemoryStateStore()
        self.state_outlives_process: bool = getattr(self.state_store, "outlives_process", True)
        """Whether an engine of another process may resume these executions from their saved state (what the
        state refers to must then be in storage); False for :class:`ObjectStateStore` (local runs), whose
        executions keep the outputs of inline map indices in memory only (:meth:`Run.keep_literal_map`)."""
        self.catalog: Catalog = catalog or MemoryCatalog()
        self.recorder = EventRecorder(
            dict(sinks or {}), retries=self.config.event_retries, backoff=self.config.event_backoff
        )
        self.signals = signals
        self.launcher = launcher
        bind = getattr(launcher, "bind", None)
        if bind is not None:
            bind(self)
        self.clock = clock
        self.handlers: HandlerSet = self.plugins.handlers(self.config)
        """Picks handlers by task type and builds each once, with its settings."""

    # starting and resuming

    def start(
        self,
        execution_id: identifier_pb2.WorkflowExecutionIdentifier,
        closure: compiler_pb2.CompiledWorkflowClosure,
        inputs: literals_pb2.LiteralMap,
        *,
        data_prefix: str,
        raw_output_prefix: str = "",
        options: ExecutionOptions | None = None,
        recover_from: RecoverySource | None = None,
    ) -> Run:
        """Check the inputs, write the closure and inputs, save the first state; nothing runs yet.

        With ``recover_from``, the execution reuses that execution's node outputs (see
        :mod:`roost_core.engine.recovery`)."""
        _check_inputs(closure, inputs)
        closure_uri = self.storage.join(data_prefix.rstrip("/"), "closure.pb")
        self.storage.write_proto(closure_uri, closure)
        state = self._state(execution_id, data_prefix, raw_output_prefix, options, recover_from, closure_uri)
        self.write_queued(state, inputs, recover_from)
        run = Run(self, state, closure)
        self.state_store.save(state)
        return run

    def queued_state(
        self,
        execution_id: identifier_pb2.WorkflowExecutionIdentifier,
        closure: compiler_pb2.CompiledWorkflowClosure,
        inputs: literals_pb2.LiteralMap,
        *,
        data_prefix: str,
        raw_output_prefix: str = "",
        options: ExecutionOptions | None = None,
        recover_from: RecoverySource | None = None,
        closure_uri: str,
    ) -> ExecutionState:
        """The first state of an execution that engines elsewhere will resume from its saved state, after the
        checks of :meth:`start`, with nothing written or saved: for a caller that saves it itself (e.g. in the
        statement creating the execution's row), then writes the blobs it refers to with :meth:`write_queued`.
        The closure must already be stored at ``closure_uri``."""
        _check_inputs(closure, inputs)
        return self._state(execution_id, data_prefix, raw_output_prefix, options, recover_from, closure_uri)

    def write_queued(
        self,
        state: ExecutionState,
        inputs: literals_pb2.LiteralMap,
        recover_from: RecoverySource | None = None,
    ) -> None:
        """Write the inputs (and recovery source) a state from :meth:`queued_state` refers to."""
        self.storage.write_proto(state.inputs_uri, inputs)
        if recover_from is not None:
            self.storage.write(state.recovery_uri, recover_from.to_bytes())

    def _state(
        self,
        execution_id: identifier_pb2.WorkflowExecutionIdentifier,
        data_prefix: str,
        raw_output_prefix: str,
        options: ExecutionOptions | None,
        recover_from: RecoverySource | None,
        closure_uri: str,
    ) -> ExecutionState:
        data_prefix = data_prefix.rstrip("/")
        state = ExecutionState(
            project=execution_id.project,
            domain=execution_id.domain,
            name=execution_id.name,
            closure_uri=closure_uri,
            inputs_uri=self.storage.join(data_prefix, "inputs.pb"),
            data_prefix=data_prefix,
            raw_output_prefix=raw_output_prefix or self.storage.join(data_prefix, "raw"),
            phase=WorkflowPhase.QUEUED,
            options=(options or ExecutionOptions()).to_dict(),
            updated_at=self.clock(),
        )
        if recover_from is not None:
            state.recovery_uri = self.storage.join(data_prefix, RECOVERY_BLOB)
        return state

    def resume(self, key: str) -> Run:
        """Pick up an execution from its saved state (``project/domain/name``), e.g. after a restart."""
        state = self.state_store.load(key)
        if state is None:
            raise KeyError(f"no saved state for execution {key!r}")
        closure = self.storage.read_proto(state.closure_uri, compiler_pb2.CompiledWorkflowClosure)
        return Run(self, state, closure)

    def execute(
        self,
        execution_id: identifier_pb2.WorkflowExecutionIdentifier,
        closure: compiler_pb2.CompiledWorkflowClosure,
        inputs: literals_pb2.LiteralMap,
        *,
        data_prefix: str,
        options: ExecutionOptions | None = None,
        timeout: float | None = None,
    ) -> Run:
        """Start an execution and run it to its end (or ``timeout``)."""
        run = self.start(execution_id, closure, inputs, data_prefix=data_prefix, options=options)
        self.run(run, timeout=timeout)
        return run

    # evaluating

    def evaluate(self, run: Run) -> RoundResult:
        """One round: advance what can move, save the state, run the cleanups it owes, deliver the events.

        Raises :class:`StateStoreError` when the state cannot be saved; the round's cleanups and events
        then wait (in the state kept in memory) and the next round saves again. Cleanups saved by an
        engine that died before running them run after the first save of the engine that resumes.
        """
        state = run.state
        run.now = now = self.clock()
        run.next_wake = None
        run.timer = None
        run.outside_waits = 0
        run.parkable_attempts = 0
        run.pending_visits = 0
        if not state.phase.is_terminal:
            state.rounds += 1
            self._advance(run)
            state.updated_at = now
        failpoint("engine.round.before-save")
        self.state_store.save(state)
        failpoint("engine.round.after-save")
        cleaned = self._clean_up(run)
        pending = len(state.outbox)
        self.recorder.flush(state)
        failpoint("engine.round.after-flush")
        if state.phase.is_terminal and (cleaned or len(state.outbox) < pending):
            # No later round will save the emptier outbox or cleanup list of an ended execution.
            self.state_store.save(state)
        parkable = run.parkable
        return RoundResult(state.phase, run.next_wake, parkable, run.timer if parkable else None)

    def _clean_up(self, run: Run) -> bool:
        """Run the cleanups the saved state owes (attempts', then inline indices'); True if it owed any."""
        cleanups, run.state.cleanups = run.state.cleanups, []
        for cleanup in cleanups:
            failpoint("engine.cleanup.before")
            attempt.clean_up(run, cleanup)
            failpoint("engine.cleanup.after")
        inline, run.state.inline_cleanups = run.state.inline_cleanups, []
        for owed in inline:
            array.clean_up(run, owed)
            failpoint("engine.cleanup.after-inline")
        return bool(cleanups or inline)

    def _advance(self, run: Run) -> None:
        state = run.state
        if state.phase in (WorkflowPhase.UNDEFINED, WorkflowPhase.QUEUED):
            state.started_at = run.now
            self._set_phase(run, WorkflowPhase.RUNNING)
        if state.abort_cause:
            scopes.abort(run, run.top, state.abort_cause)
            failure.stop_failure_node(run, run.top, state.abort_cause)
            self._set_phase(run, WorkflowPhase.ABORTED)
            return
        if state.phase is WorkflowPhase.RUNNING:
            result = scopes.evaluate(run, run.top)
            if result.status is scopes.ScopeStatus.SUCCEEDED:
                self._succeed(run)
            elif result.status is scopes.ScopeStatus.FAILED:
                state.error = result.error
                self._set_phase(run, WorkflowPhase.FAILING)
        if state.phase is WorkflowPhase.FAILING and self._failure_node_done(run):
            self._set_phase(run, WorkflowPhase.FAILED)

    def _succeed(self, run: Run) -> None:
        state = run.state
        outputs_uri = self.storage.join(state.data_prefix, "outputs.pb")
        try:
            scopes.finish(run, run.top, outputs_uri)
        except BindingError as exc:
            state.error = ExecutionError(
                "BindingError", f"workflow {run.top.graph.name!r}: output {exc}", ErrorKind.USER
            )
            self._set_phase(run, WorkflowPhase.FAILING)
            return
        state.outputs_uri = outputs_uri
        self._set_phase(run, WorkflowPhase.SUCCEEDING)
        self._set_phase(run, WorkflowPhase.SUCCEEDED)

    def _failure_node_done(self, run: Run) -> bool:
        """Run the workflow's failure node, if it has one; True once it ended (or there is none)."""
        state = run.state
        original = state.error or ExecutionError("WorkflowFailed", f"workflow {run.top.graph.name!r} failed")
        done, error = failure.run_failure_node(run, run.top, failure.first_failure(run, run.top, original))
        if done:
            state.error = error
        return done

    def _set_phase(self, run: Run, phase: WorkflowPhase) -> None:
        state = run.state
        state.phase = phase
        error = state.error if phase in (WorkflowPhase.FAILING, WorkflowPhase.FAILED) else None
        output_uri = state.outputs_uri if phase is WorkflowPhase.SUCCEEDED else ""
        state.outbox.append(run.events.workflow(phase, run.now, error=error, output_uri=output_uri))

    def run(self, run: Run, *, timeout: float | None = None) -> ExecutionState:
        """Evaluate rounds until the execution ends and its events are delivered (or ``timeout``)."""
        deadline = None if timeout is None else self.clock() + timeout
        ended_at: float | None = None
        save_failures = 0
        while True:
            try:
                result = self.evaluate(run)
                save_failures = 0
            except StateStoreError:
                save_failures += 1
                if save_failures >= 5:
                    raise
                log.warning("saving execution %s failed; retrying", run.key, exc_info=True)
                run.wait(0.1 * 2**save_failures)
                continue
            now = self.clock()
            if result.phase.is_terminal:
                ended_at = ended_at or now
                if not run.state.outbox or now - ended_at >= FINAL_FLUSH_TIMEOUT:
                    if run.state.outbox:
                        log.warning(
                            "execution %s ended with %d undelivered event(s); they stay in its saved state",
                            run.key,
                            len(run.state.outbox),
                        )
                    return run.state
                wait = self.config.event_backoff
            else:
                wait = self.config.poll_interval
                if result.next_wake is not None:
                    wait = min(wait, max(0.0, result.next_wake - now))
            if deadline is not None and now >= deadline:
                return run.state
            if wait > 0:
                run.wait(wait if deadline is None else min(wait, max(0.0, deadline - now)))

    def close(self) -> None:
        """Shut down: let every built handler stop its threads and close its connections."""
        self.handlers.close()

    def abort(self, run: Run, cause: str) -> None:
        """Ask for the execution to be aborted in its next round (safe from any thread)."""
        if not run.state.phase.is_terminal and not run.state.abort_cause:
            run.state.abort_cause = cause or "aborted"
        run.wake()

    # reading results

    def outputs(self, run: Run) -> literals_pb2.LiteralMap:
        """The outputs of a succeeded execution."""
        if run.state.phase is not WorkflowPhase.SUCCEEDED:
            raise RoostError(f"execution {run.key} has no outputs: it is {run.state.phase.name.lower()}")
        return run.literal_map(run.state.outputs_uri)

    def child_status(self, run: Run) -> ChildStatus:
        """A run's status as a launch-plan node sees its child."""
        phase = run.state.phase
        if phase is WorkflowPhase.SUCCEEDED:
            return ChildStatus(phase, outputs=self.outputs(run))
        if phase is WorkflowPhase.ABORTED and run.state.error is None:
            return ChildStatus(
                phase,
                error=ExecutionError(
                    "ChildAborted",
                    f"child execution {run.key} was aborted: {run.state.abort_cause}",
                    ErrorKind.USER,
                ),
            )
        return ChildStatus(phase, error=run.state.error)


def _check_inputs(closure: compiler_pb2.CompiledWorkflowClosure, inputs: literals_pb2.LiteralMap) -> None:
    template = closure.primary.template
    problems: list[str] = []
    declared = template.interface.inputs.variables
    for name, variable in declared.items():
        literal = inputs.literals.get(name)
        if literal is None:
            problems.append(f"input {name!r} ({literal_types.describe(variable.type)}) was not given")
        elif not literal_types.literal_matches(literal, variable.type):
            got = literal_types.describe(literal_types.literal_type_of(literal))
            problems.append(f"input {name!r} expects {literal_types.describe(variable.type)} but got {got}")
    problems += [
        f"input {name!r} is not an input of the workflow" for name in inputs.literals if name not in declared
    ]
    if problems:
        raise InvalidInputsError(f"workflow {template.id.name!r}: " + "; ".join(problems))
