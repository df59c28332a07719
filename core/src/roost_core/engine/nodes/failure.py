"""Failure nodes: the node a workflow (or a sub-workflow) runs when it fails, told what failed.

A workflow's ``failure_node`` runs after the workflow's own nodes have failed and stopped, once, outside the
graph. As in Flyte, a failure node input named ``err`` receives the error: a union literal holding a
``Scalar.error`` (``failed_node_id``, ``message``) of the ``ERROR`` simple type tagged ``FlyteError``, which is
what flytekit's ``Optional[FlyteError]`` and Roost's ``Optional[roost.FlyteError]`` read. Roost puts the id of
the node that failed in ``failed_node_id`` (Flyte puts the failure node's own id there).

When the failure node fails too, its error is the workflow's; otherwise the original error stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from flyteidl.core import literals_pb2, types_pb2

from roost_core.engine.nodes import dispatch
from roost_core.engine.run import NodeRef, Run, Scope
from roost_core.errors import ExecutionError

ERROR_INPUT = "err"
"""The failure node input that receives the error (flytekit's and flytepropeller's name)."""

ERROR_TAG = "FlyteError"
"""The union tag of the error variant, as flytekit's transformer names it."""


@dataclass(frozen=True, slots=True)
class Failure:
    """What a failure node is told: the node that failed first, and its error."""

    node_uid: str
    error: ExecutionError


def failure_ref(scope: Scope, failure: Failure | None = None) -> NodeRef | None:
    """The failure node of ``scope``'s workflow, if it has one."""
    template = scope.graph.template
    if not template.HasField("failure_node"):
        return None
    node = template.failure_node
    return NodeRef(scope, node, scope.uid(node.id), scope.parent_uid, failure=failure)


def run_failure_node(run: Run, scope: Scope, failure: Failure) -> tuple[bool, ExecutionError]:
    """Advance ``scope``'s failure node; returns whether it is done (or absent) and the scope's final error.

    The final error is the failure node's own when it failed, otherwise ``failure.error``.
    """
    ref = failure_ref(scope, failure)
    if ref is None:
        return True, failure.error
    state = run.node_state(ref.uid)
    if not state.phase.is_terminal:
        dispatch.advance(run, ref, state)
    if not state.phase.is_terminal:
        return False, failure.error
    if not state.phase.is_success and state.error is not None:
        return True, state.error
    return True, failure.error


def stop_failure_node(run: Run, scope: Scope, cause: str) -> None:
    """Abort ``scope``'s failure node if it is running (the execution is being aborted)."""
    ref = failure_ref(scope)
    state = run.state.nodes.get(ref.uid) if ref is not None else None
    if ref is not None and state is not None and not state.phase.is_terminal:
        dispatch.abort(run, ref, state, cause)


def first_failure(run: Run, scope: Scope, error: ExecutionError) -> Failure:
    """The failure of ``scope``: its first failed node (as the scope's progress recorded it) and ``error``."""
    return Failure(run.scope_progress(scope).failed_uid, error)


def pass_error(inputs: literals_pb2.LiteralMap, failure: Failure, *, declared: bool) -> None:
    """Put the error into the failure node's ``err`` input when it has one (bound, or declared by its task)."""
    if ERROR_INPUT not in inputs.literals and not declared:
        return
    error = types_pb2.Error(failed_node_id=failure.node_uid, message=failure.error.message)
    union = literals_pb2.Union(
        value=literals_pb2.Literal(scalar=literals_pb2.Scalar(error=error)),
        type=types_pb2.LiteralType(simple=types_pb2.ERROR, structure=types_pb2.TypeStructure(tag=ERROR_TAG)),
    )
    inputs.literals[ERROR_INPUT].CopyFrom(literals_pb2.Literal(scalar=literals_pb2.Scalar(union=union)))
