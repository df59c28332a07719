"""Branch nodes: pick the first case whose condition holds (or the else node) and run it.

The chosen node runs as the branch's child, with its bindings resolved in the branch's own scope (flytekit
binds then-nodes straight to outer nodes and workflow inputs). The cases not taken are reported Skipped.
"""

from __future__ import annotations

from flyteidl.core import workflow_pb2

from roost_core.engine import conditions
from roost_core.engine.nodes import common, dispatch
from roost_core.engine.phases import NodePhase
from roost_core.engine.run import NodeRef, Run
from roost_core.engine.state import NodeState
from roost_core.errors import ErrorKind, ExecutionError


def _choices(node: workflow_pb2.Node) -> list[workflow_pb2.Node]:
    if_else = node.branch_node.if_else
    choices = [if_else.case.then_node, *(case.then_node for case in if_else.other)]
    if if_else.HasField("else_node"):
        choices.append(if_else.else_node)
    return choices


def _child(ref: NodeRef, node: workflow_pb2.Node) -> NodeRef:
    return NodeRef(ref.scope, node, f"{ref.uid}-0-{node.id}", ref.uid)


def advance(run: Run, ref: NodeRef, state: NodeState) -> None:
    """Choose the case, then advance the chosen node until it ends."""
    if state.phase is NodePhase.NOT_YET_STARTED:
        inputs = common.start(run, ref, state)
        if inputs is None:
            return
        if_else = ref.node.branch_node.if_else
        chosen: workflow_pb2.Node | None = None
        try:
            for case in (if_else.case, *if_else.other):
                if conditions.evaluate(case.condition, inputs):
                    chosen = case.then_node
                    break
        except conditions.ConditionError as exc:
            run.fail(
                ref, state, ExecutionError("BranchConditionError", f"{ref.label}: {exc}", ErrorKind.USER)
            )
            return
        if chosen is None and if_else.HasField("else_node"):
            chosen = if_else.else_node
        if chosen is None:
            message = if_else.error.message if if_else.HasField("error") else "no case matched"
            run.fail(
                ref, state, ExecutionError("UserProvidedError", f"{ref.label}: {message}", ErrorKind.USER)
            )
            return
        state.branch_taken = chosen.id
        run.set_phase(ref, state, NodePhase.RUNNING)
        for other in _choices(ref.node):
            if other.id != chosen.id:
                skipped = _child(ref, other)
                skipped_state = run.node_state(skipped.uid)
                skipped_state.message = f"branch {ref.uid!r} took {chosen.id!r}"
                run.set_phase(skipped, skipped_state, NodePhase.SKIPPED)
    child = _child(ref, next(n for n in _choices(ref.node) if n.id == state.branch_taken))
    child_state = run.node_state(child.uid)
    if not child_state.phase.is_terminal:
        dispatch.advance(run, child, child_state)
    if child_state.phase.is_success:
        state.outputs_uri = child_state.outputs_uri
        run.set_phase(ref, state, NodePhase.SUCCEEDED)
    elif child_state.phase.is_terminal:
        run.fail(
            ref,
            state,
            child_state.error
            or ExecutionError(
                "BranchFailed", f"{ref.label}: {child.label} ended {child_state.phase.name.lower()}"
            ),
        )


def stop(run: Run, ref: NodeRef, state: NodeState, cause: str) -> None:
    """Abort the chosen node."""
    if not state.branch_taken:
        return
    child = _child(ref, next(n for n in _choices(ref.node) if n.id == state.branch_taken))
    child_state = run.state.nodes.get(child.uid)
    if child_state is not None and not child_state.phase.is_terminal:
        dispatch.abort(run, child, child_state, cause)
