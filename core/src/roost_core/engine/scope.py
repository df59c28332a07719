"""Evaluating one workflow scope for a round: which nodes are ready, run them, and judge the whole.

Nodes are visited in dependency order, so a node whose upstream finished earlier in the same round starts
in that round too: a chain of quick tasks finishes in one round instead of one round per node.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flyteidl.core import literals_pb2, workflow_pb2

from roost_core.engine.bindings import resolve_bindings
from roost_core.engine.nodes import dispatch
from roost_core.engine.phases import NodePhase
from roost_core.engine.run import NodeRef, Run, Scope
from roost_core.errors import ExecutionError

_FAIL_LATE = workflow_pb2.WorkflowMetadata.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE


class ScopeStatus(enum.Enum):
    """Where a scope stands after a round."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ScopeResult:
    """A scope's status, with the error of the node that failed it."""

    status: ScopeStatus
    error: ExecutionError | None = None


class _Ready(enum.Enum):
    WAIT = 0
    READY = 1
    SKIP = 2


def evaluate(run: Run, scope: Scope) -> ScopeResult:
    """Advance every node of ``scope`` that can move, in dependency order."""
    graph = scope.graph
    states = run.state.nodes
    fail_fast = graph.template.metadata.on_failure != _FAIL_LATE
    error: ExecutionError | None = None
    pending = 0
    for node_id in graph.order:
        uid = scope.prefix + node_id
        state = states.get(uid)
        if state is None or state.phase is NodePhase.NOT_YET_STARTED:
            if error is not None and fail_fast:
                pending += 1
                continue
            ready, reason = _readiness(run, scope, node_id)
            if ready is _Ready.WAIT:
                pending += 1
                continue
            state = run.node_state(uid)
            ref = NodeRef(scope, graph.nodes[node_id], uid, scope.parent_uid)
            if ready is _Ready.SKIP:
                state.message = reason
                run.set_phase(ref, state, NodePhase.SKIPPED)
                continue
            dispatch.advance(run, ref, state)
        elif not state.phase.is_terminal:
            dispatch.advance(run, NodeRef(scope, graph.nodes[node_id], uid, scope.parent_uid), state)
        phase = state.phase
        if phase is NodePhase.FAILED or phase is NodePhase.TIMED_OUT:
            if error is None:
                error = state.error or ExecutionError("NodeFailed", f"node {uid!r} failed")
        elif not phase.is_terminal:
            pending += 1
    if error is not None:
        if fail_fast:
            abort(run, scope, f"another node failed: {error.message}")
            return ScopeResult(ScopeStatus.FAILED, error)
        return ScopeResult(ScopeStatus.FAILED if pending == 0 else ScopeStatus.RUNNING, error)
    return ScopeResult(ScopeStatus.SUCCEEDED if pending == 0 else ScopeStatus.RUNNING)


def _readiness(run: Run, scope: Scope, node_id: str) -> tuple[_Ready, str]:
    states = run.state.nodes
    for upstream in scope.graph.upstream[node_id]:
        state = states.get(scope.prefix + upstream)
        if state is None:
            return _Ready.WAIT, ""
        phase = state.phase
        if phase.is_success:
            continue
        if phase.is_terminal:
            return _Ready.SKIP, f"upstream node {upstream!r} {phase.name.lower().replace('_', ' ')}"
        return _Ready.WAIT, ""
    return _Ready.READY, ""


def abort(run: Run, scope: Scope, cause: str) -> None:
    """End every unfinished node of ``scope``: abort those that started, skip the others."""
    states = run.state.nodes
    for node_id in scope.graph.order:
        uid = scope.prefix + node_id
        state = states.get(uid)
        if state is not None and state.phase.is_terminal:
            continue
        ref = NodeRef(scope, scope.graph.nodes[node_id], uid, scope.parent_uid)
        if state is None or state.phase is NodePhase.NOT_YET_STARTED:
            state = run.node_state(uid)
            state.message = cause
            run.set_phase(ref, state, NodePhase.SKIPPED)
        else:
            dispatch.abort(run, ref, state, cause)


def outputs(run: Run, scope: Scope) -> literals_pb2.LiteralMap:
    """The scope's workflow outputs, resolved from its nodes; raises BindingError naming the output."""
    return resolve_bindings(
        scope.graph.template.outputs, lambda node_id, var: run.output_of(scope, node_id, var)
    )
