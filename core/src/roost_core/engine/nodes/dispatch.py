"""Dispatch to the node kinds: how each advances, and how each stops when aborted.

Every kind module offers ``advance(run, ref, state)`` (one round's worth of progress) and
``stop(run, ref, state, cause)`` (end in-flight work without changing the node's own phase). The
dispatcher below adds what all kinds share: a failure inside the engine fails the node with a message
naming it instead of crashing the engine, and storage errors are retried a few rounds first.
"""

from __future__ import annotations

import logging
from types import ModuleType

from roost_core.engine.nodes import array, branch, gate, reuse, task, workflow
from roost_core.engine.phases import NodePhase
from roost_core.engine.run import NodeRef, Run
from roost_core.engine.state import NodeState
from roost_core.errors import ErrorKind, ExecutionError
from roost_core.storage import StorageError

log = logging.getLogger(__name__)

MAX_STORAGE_ERRORS = 5
"""Rounds in a row a node may hit storage errors before it fails."""


_KINDS: dict[str | None, ModuleType] = {
    "task_node": task,
    "workflow_node": workflow,
    "branch_node": branch,
    "gate_node": gate,
    "array_node": array,
}


def _kind(ref: NodeRef) -> ModuleType | None:
    return _KINDS.get(ref.node.WhichOneof("target"))


def advance(run: Run, ref: NodeRef, state: NodeState) -> None:
    """Advance one node by one round."""
    kind = _kind(ref)
    if kind is None:
        run.fail(
            ref,
            state,
            ExecutionError(
                "MalformedNode",
                f"{ref.label} has no target (task, workflow, branch, gate or array node)",
                ErrorKind.USER,
            ),
        )
        return
    try:
        if not (
            state.phase is NodePhase.NOT_YET_STARTED
            and run.recovery is not None
            and reuse.try_reuse(run, ref, state)
        ):
            kind.advance(run, ref, state)
    except StorageError as exc:
        errors = run.storage_errors[ref.uid] = run.storage_errors.get(ref.uid, 0) + 1
        if errors < MAX_STORAGE_ERRORS:
            log.warning(
                "%s of execution %s: storage error (try %d of %d): %s",
                ref.label,
                run.key,
                errors,
                MAX_STORAGE_ERRORS,
                exc,
            )
            run.wake_at(run.now + 0.1 * 2**errors)
            return
        _give_up(
            run, ref, state, kind, ExecutionError("StorageError", f"{ref.label}: {exc}", ErrorKind.SYSTEM)
        )
    except Exception as exc:  # a bug or a broken plugin must fail the node, not the engine
        log.exception("%s of execution %s failed inside the engine", ref.label, run.key)
        _give_up(
            run,
            ref,
            state,
            kind,
            ExecutionError(
                "InternalError",
                f"{ref.label}: the engine failed evaluating the node: {type(exc).__name__}: {exc}",
                ErrorKind.SYSTEM,
            ),
        )
    else:
        run.storage_errors.pop(ref.uid, None)


def _give_up(run: Run, ref: NodeRef, state: NodeState, kind: ModuleType, error: ExecutionError) -> None:
    run.storage_errors.pop(ref.uid, None)
    if state.phase.is_terminal:
        return
    try:
        kind.stop(run, ref, state, error.message)
    except Exception:  # stopping is best effort once the node is being failed
        log.exception("stopping %s of execution %s failed", ref.label, run.key)
    run.fail(ref, state, error)


def abort(run: Run, ref: NodeRef, state: NodeState, cause: str) -> None:
    """Stop a started node's work and mark it aborted."""
    kind = _kind(ref)
    if kind is not None:
        try:
            kind.stop(run, ref, state, cause)
        except Exception:  # the node ends aborted whatever its work does
            log.exception("aborting %s of execution %s failed", ref.label, run.key)
    state.message = cause
    run.set_phase(ref, state, NodePhase.ABORTED)
