"""Evaluating one workflow scope for a round: which nodes are ready, run them, and judge the whole.

Nodes are visited in dependency order, so a node whose upstream finished earlier in the same round starts
in that round too: a chain of quick tasks finishes in one round instead of one round per node.

Every scope reports its ``start-node`` (succeeded, its outputs the scope's inputs) when it is first
evaluated, and its ``end-node`` (queued and succeeded, its inputs the scope's outputs) when it succeeds, as
flytepropeller does; flyteadmin lists them among the node executions.
"""

from __future__ import annotations

import enum
import heapq
from dataclasses import dataclass

from flyteidl.core import literals_pb2, workflow_pb2

from roost_core.engine.bindings import resolve_bindings
from roost_core.engine.graph import END_NODE, START_NODE
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
    READY = 1
    SKIP = 2


def evaluate(run: Run, scope: Scope) -> ScopeResult:
    """Advance every node of ``scope`` that can move, in dependency order.

    Only nodes whose upstream nodes have ended are visited; a node that ends releases its downstream nodes
    into the same round. So a round costs what can move, not the size of the workflow.
    """
    graph = scope.graph
    states = run.state.nodes
    if scope.prefix + START_NODE not in states:
        _report_start(run, scope)
    progress = run.scope_progress(scope)
    fail_fast = graph.template.metadata.on_failure != _FAIL_LATE
    position = graph.position
    work = [(position[node_id], node_id) for node_id in progress.active]
    heapq.heapify(work)
    run.pending_visits += len(work)
    still_active: list[str] = []
    while work:
        _, node_id = heapq.heappop(work)
        run.pending_visits -= 1
        uid = scope.prefix + node_id
        state = states.get(uid)
        if state is None or state.phase is NodePhase.NOT_YET_STARTED:
            if progress.error is not None and fail_fast:
                still_active.append(node_id)
                continue
            ready, reason = _readiness(run, scope, node_id)
            state = run.node_state(uid)
            ref = NodeRef(scope, graph.nodes[node_id], uid, scope.parent_uid)
            if ready is _Ready.SKIP:
                state.message = reason
                run.set_phase(ref, state, NodePhase.SKIPPED)
            else:
                dispatch.advance(run, ref, state)
        elif not state.phase.is_terminal:
            dispatch.advance(run, NodeRef(scope, graph.nodes[node_id], uid, scope.parent_uid), state)
        phase = state.phase
        if not phase.is_terminal:
            still_active.append(node_id)
            continue
        if progress.error is None and (phase is NodePhase.FAILED or phase is NodePhase.TIMED_OUT):
            progress.error = state.error or ExecutionError("NodeFailed", f"node {uid!r} failed")
            progress.failed_uid = uid
        for down in graph.downstream[node_id]:
            left = progress.blocked[down] - 1
            if left:
                progress.blocked[down] = left
            else:
                del progress.blocked[down]
                heapq.heappush(work, (position[down], down))
                run.pending_visits += 1
    still_active.sort(key=position.__getitem__)
    progress.active = still_active
    done = not still_active and not progress.blocked
    error = progress.error
    if error is not None:
        if fail_fast:
            abort(run, scope, f"another node failed: {error.message}")
            return ScopeResult(ScopeStatus.FAILED, error)
        return ScopeResult(ScopeStatus.FAILED if done else ScopeStatus.RUNNING, error)
    return ScopeResult(ScopeStatus.SUCCEEDED if done else ScopeStatus.RUNNING)


def _report_start(run: Run, scope: Scope) -> None:
    uid = scope.uid(START_NODE)
    state = run.node_state(uid)
    state.outputs_uri = scope.inputs_uri
    run.set_phase(NodeRef(scope, scope.graph.start, uid, scope.parent_uid), state, NodePhase.SUCCEEDED)


def _readiness(run: Run, scope: Scope, node_id: str) -> tuple[_Ready, str]:
    """Whether a node whose upstream nodes all ended may run, or is skipped because one did not succeed."""
    states = run.state.nodes
    for upstream in scope.graph.upstream[node_id]:
        phase = states[scope.prefix + upstream].phase
        if not phase.is_success:
            return _Ready.SKIP, f"upstream node {upstream!r} {phase.name.lower().replace('_', ' ')}"
    return _Ready.READY, ""


def abort(run: Run, scope: Scope, cause: str) -> None:
    """End every unfinished node of ``scope``: abort those that started, skip the others."""
    progress = run.scope_progress(scope)
    progress.active = []
    progress.blocked = {}
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


def finish(run: Run, scope: Scope, outputs_uri: str) -> literals_pb2.LiteralMap:
    """Resolve the succeeded scope's workflow outputs, write them to ``outputs_uri`` and report the end node
    (whose inputs they are); raises BindingError naming the output."""
    template = scope.graph.template
    outputs = resolve_bindings(
        template.outputs,
        lambda node_id, var: run.output_of(scope, node_id, var),
        template.interface.outputs.variables,
    )
    run.write_literal_map(outputs_uri, outputs)
    uid = scope.uid(END_NODE)
    state = run.node_state(uid)
    state.inputs_uri = outputs_uri
    ref = NodeRef(scope, scope.graph.end, uid, scope.parent_uid)
    run.set_phase(ref, state, NodePhase.QUEUED)
    run.set_phase(ref, state, NodePhase.SUCCEEDED)
    return outputs
