"""One execution being evaluated: its saved state plus what the engine derives from it in memory."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2, tasks_pb2, workflow_pb2

from roost_core.engine.bindings import BindingError
from roost_core.engine.config import ExecutionOptions
from roost_core.engine.graph import START_NODE, ClosureIndex, WorkflowGraph
from roost_core.engine.phases import NodePhase
from roost_core.engine.recovery import Recovery, RecoverySource
from roost_core.engine.reporting import EventFactory, TaskReport
from roost_core.engine.state import ExecutionState, NodeState
from roost_core.errors import ExecutionError

if TYPE_CHECKING:
    from roost_core.engine.engine import Engine
    from roost_core.engine.nodes.failure import Failure

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Scope:
    """A workflow being run inside an execution: the top-level one, a sub-workflow, or a dynamic one.

    Node unique ids are ``prefix + node id``; nested scopes have a prefix ending in ``-<attempt>-``, which
    keeps ids unique across parents and retries.
    """

    graph: WorkflowGraph
    index: ClosureIndex
    prefix: str = ""
    parent_uid: str = ""
    inputs_uri: str = ""
    retry_group: str = ""

    def uid(self, node_id: str) -> str:
        """The unique id of one of this scope's nodes."""
        return self.prefix + node_id


@dataclass(slots=True)
class ScopeProgress:
    """What the engine remembers about a scope between rounds (rebuilt from the state after a restart)."""

    active: list[str]
    """Unfinished nodes whose upstream nodes have all ended (running, or ready to start), in dependency order."""
    blocked: dict[str, int]
    """For each other unfinished node, how many of its upstream nodes have not ended yet."""
    error: ExecutionError | None = None
    """The error of the first node that failed."""
    failed_uid: str = ""
    """The unique id of that node."""


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A node as the engine visits it: where its bindings resolve, its unique id and its parent."""

    scope: Scope
    node: workflow_pb2.Node
    uid: str
    parent_uid: str
    failure: Failure | None = None
    """For a failure node: what failed, which its ``err`` input receives."""

    @property
    def label(self) -> str:
        """``node 'n1'`` (with the workflow for nested scopes) for messages."""
        return f"node {self.uid!r}"


class Run:
    """Everything about one execution the engine needs while evaluating it.

    The saved part is :attr:`state`; the rest (indexed closures, an outputs cache, the wake-up event) is
    rebuilt from it after a restart.
    """

    def __init__(
        self, engine: Engine, state: ExecutionState, closure: compiler_pb2.CompiledWorkflowClosure
    ) -> None:
        self.engine = engine
        self.state = state
        self.closure = closure
        self.index = ClosureIndex(closure)
        self.options = ExecutionOptions.from_mapping(state.options)
        self.events = EventFactory(state.project, state.domain, state.name, engine.config.producer_id)
        self.execution_id = identifier_pb2.WorkflowExecutionIdentifier(
            project=state.project, domain=state.domain, name=state.name
        )
        self.top = Scope(self.index.primary, self.index, inputs_uri=state.inputs_uri)
        self._literal_maps: dict[str, literals_pb2.LiteralMap] = {}
        self._dynamic: dict[str, ClosureIndex] = {}
        self._progress: dict[str, ScopeProgress] = {}
        self._derived: dict[Hashable, Any] = {}
        self._woken = threading.Event()
        self.now = 0.0
        self.next_wake: float | None = None
        self.timer: float | None = None
        """The earliest time the current round asked for, other than the polls of outside waits."""
        self.outside_waits = 0
        """Nodes that, in the current round, wait for something outside the engine (a signal, a child
        execution) whose arrival wakes the execution through its store."""
        self.parkable_attempts = 0
        """Task attempts whose handler said, in the current round, that they may be parked (remote jobs)."""
        self.active_attempts = _attempts_in_flight(state)
        """Task attempts of this execution a handler holds now; counted once, then kept up to date."""
        self.pending_visits = 0
        """Nodes (and map indices) still to be visited in the current round, after the one being visited."""
        self.storage_errors: dict[str, int] = {}
        self.recovery: Recovery | None = None
        """What a recovered or resumed execution may reuse; None for other executions."""
        if state.recovery_uri:
            source = RecoverySource.from_bytes(engine.storage.read(state.recovery_uri))
            self.recovery = Recovery(source, engine.storage)
        limit = self.options.max_parallelism
        self.max_parallelism = engine.config.default_max_parallelism if limit is None else limit

    @property
    def key(self) -> str:
        """``project/domain/name``."""
        return self.state.key

    # wake-ups

    def wake(self) -> None:
        """Have the execution evaluated at once; safe from any thread."""
        self._woken.set()

    def wait(self, timeout: float) -> bool:
        """Block until woken or ``timeout`` seconds passed; True if woken."""
        woken = self._woken.wait(timeout)
        self._woken.clear()
        return woken

    def wake_at(self, when: float) -> None:
        """Ask for the next round no later than ``when`` (epoch seconds)."""
        if self.next_wake is None or when < self.next_wake:
            self.next_wake = when
        if self.timer is None or when < self.timer:
            self.timer = when

    def wait_outside(self) -> None:
        """A node waits for a signal or a child execution: poll for it after ``poll_interval`` (an engine
        without a store that wakes it needs that), and count it, so a store that wakes executions when such
        things change may park the execution (see :attr:`RoundResult.parkable`)."""
        self.outside_waits += 1
        when = self.now + self.engine.config.poll_interval
        if self.next_wake is None or when < self.next_wake:
            self.next_wake = when

    @property
    def parkable(self) -> bool:
        """After a round: whether the execution only waits for outside things and timers (no task attempt in
        flight other than remote jobs between polls, no events or cleanups left, no storage error being
        retried), and has nothing to do at once (a round that asked for the next one now, as a map's inline
        batches do, would be let go of and claimed again)."""
        state = self.state
        return (
            (self.outside_waits > 0 or self.timer is not None)
            and (self.timer is None or self.timer > self.now)
            and not state.phase.is_terminal
            and not state.outbox
            and not state.cleanups
            and not state.inline_cleanups
            and not self.storage_errors
            and _attempts_in_flight(state) <= self.parkable_attempts
        )

    # parallelism

    def may_start_attempt(self) -> bool:
        """Whether another task attempt may start under max parallelism (and count it if so)."""
        if self.max_parallelism and self.active_attempts >= self.max_parallelism:
            return False
        self.active_attempts += 1
        return True

    def attempt_ended(self) -> None:
        """A task attempt ended or was aborted."""
        self.active_attempts = max(0, self.active_attempts - 1)

    # data

    def data_dir(self, uid: str) -> str:
        """Where one node's inputs and attempt outputs are written."""
        return self.engine.storage.join(self.state.data_prefix, uid)

    def literal_map(self, uri: str) -> literals_pb2.LiteralMap:
        """A LiteralMap blob, read once per run."""
        found = self._literal_maps.get(uri)
        if found is None:
            found = self.engine.storage.read_proto(uri, literals_pb2.LiteralMap)
            self._literal_maps[uri] = found
        return found

    def write_literal_map(self, uri: str, value: literals_pb2.LiteralMap) -> None:
        """Write a LiteralMap blob and keep it for later reads."""
        self.engine.storage.write_proto(uri, value)
        self._literal_maps[uri] = value

    def keep_literal_map(self, uri: str, value: literals_pb2.LiteralMap, *, stored: bool = False) -> None:
        """Keep a LiteralMap for later reads under ``uri``, written to storage only when the state outlives
        this process (:attr:`Engine.state_outlives_process`: an engine resuming from the saved state reads it
        there; it is written before the round's state is saved) and it is not there already (``stored``: a
        task's process wrote it). Otherwise only this run reads it, through :meth:`literal_map`: what a map's
        inline indices output (a blob each would cost more than the index)."""
        if self.engine.state_outlives_process and not stored:
            self.engine.storage.write_proto(uri, value)
        self._literal_maps[uri] = value

    def scope_inputs(self, scope: Scope) -> literals_pb2.LiteralMap:
        """The inputs of a scope's start node."""
        if not scope.inputs_uri:
            return literals_pb2.LiteralMap()
        return self.literal_map(scope.inputs_uri)

    def output_of(self, scope: Scope, node_id: str, var: str) -> literals_pb2.Literal:
        """One output of a node of ``scope`` (or one of the scope's inputs, for the start node)."""
        if node_id == START_NODE:
            inputs = self.scope_inputs(scope)
            if var not in inputs.literals:
                raise BindingError(f"workflow input {var!r} was not given")
            return inputs.literals[var]
        state = self.state.nodes.get(scope.uid(node_id))
        if state is None or not state.phase.is_success:
            phase = "not started" if state is None else state.phase.name.lower()
            raise BindingError(f"node {node_id!r} has no outputs yet ({phase})")
        outputs = self.literal_map(state.outputs_uri) if state.outputs_uri else literals_pb2.LiteralMap()
        if var not in outputs.literals:
            known = ", ".join(sorted(outputs.literals)) or "none"
            raise BindingError(f"node {node_id!r} has no output {var!r} (outputs: {known})")
        return outputs.literals[var]

    def dynamic_index(self, uid: str, uri: str) -> ClosureIndex:
        """The indexed closure of a dynamic node, loaded from storage after a restart."""
        found = self._dynamic.get(uid)
        if found is None:
            closure = self.engine.storage.read_proto(uri, compiler_pb2.CompiledWorkflowClosure)
            found = self._dynamic[uid] = ClosureIndex(closure, parent=self.index)
        return found

    def remember_dynamic(self, uid: str, index: ClosureIndex) -> None:
        """Keep a dynamic node's freshly compiled closure."""
        self._dynamic[uid] = index

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """A value derived from the state or the data, built once per run (rebuilt after a restart)."""
        if key not in self._derived:
            self._derived[key] = build()
        value: T = self._derived[key]
        return value

    def scope_progress(self, scope: Scope) -> ScopeProgress:
        """The scope's progress, derived from the state on first use."""
        found = self._progress.get(scope.prefix)
        if found is None:
            states = self.state.nodes
            graph = scope.graph

            def ended(node_id: str) -> bool:
                state = states.get(scope.prefix + node_id)
                return state is not None and state.phase.is_terminal

            active: list[str] = []
            blocked: dict[str, int] = {}
            error: ExecutionError | None = None
            failed_uid = ""
            for node_id in graph.order:
                if ended(node_id):
                    state = states[scope.prefix + node_id]
                    if error is None and state.phase in (NodePhase.FAILED, NodePhase.TIMED_OUT):
                        failed_uid = scope.prefix + node_id
                        error = state.error or ExecutionError("NodeFailed", f"node {failed_uid!r} failed")
                    continue
                waiting = sum(1 for up in graph.upstream[node_id] if not ended(up))
                if waiting:
                    blocked[node_id] = waiting
                else:
                    active.append(node_id)
            found = self._progress[scope.prefix] = ScopeProgress(active, blocked, error, failed_uid)
        return found

    # phases and events

    def node_state(self, uid: str) -> NodeState:
        """The state of node ``uid``, created on first use."""
        found = self.state.nodes.get(uid)
        if found is None:
            found = self.state.nodes[uid] = NodeState()
        return found

    def set_phase(
        self,
        ref: NodeRef,
        state: NodeState,
        phase: NodePhase,
        *,
        target: identifier_pb2.Identifier | None = None,
    ) -> None:
        """Move a node to ``phase`` and record the event."""
        state.phase = phase
        state.updated_at = self.now
        if phase is NodePhase.QUEUED and state.queued_at is None:
            state.queued_at = self.now
        event = self.events.node(
            ref.uid,
            ref.node,
            state,
            phase,
            self.now,
            parent_uid=ref.parent_uid,
            retry_group=ref.scope.retry_group,
            target=target,
        )
        if event is not None:
            self.state.outbox.append(event)

    def fail(self, ref: NodeRef, state: NodeState, error: ExecutionError) -> None:
        """Fail a node: Failing, then Failed, with ``error``."""
        state.error = error
        self.set_phase(ref, state, NodePhase.FAILING)
        self.set_phase(ref, state, NodePhase.FAILED)

    def record_task(
        self, uid: str, task: tasks_pb2.TaskTemplate, report: TaskReport, inputs_uri: str
    ) -> None:
        """Record a task attempt's event."""
        self.state.outbox.append(self.events.task(uid, task, report, inputs_uri=inputs_uri))


def _attempts_in_flight(state: ExecutionState) -> int:
    count = 0
    for node in state.nodes.values():
        if node.subnodes:
            count += sum(1 for sub in node.subnodes if sub.attempt_in_flight)
        elif node.attempt_in_flight and not node.phase.is_terminal:
            count += 1
    return count
