"""Node and workflow phases, and how each maps onto flyteidl's event phases."""

from __future__ import annotations

import enum

from flyteidl.core import execution_pb2

_NodeEvent = execution_pb2.NodeExecution
_WorkflowEvent = execution_pb2.WorkflowExecution


class NodePhase(enum.IntEnum):
    """The phases a node moves through. A node never moves back to an earlier phase of one attempt."""

    NOT_YET_STARTED = 0
    QUEUED = 1
    RUNNING = 2
    DYNAMIC_RUNNING = 3
    SUCCEEDING = 4
    SUCCEEDED = 5
    FAILING = 6
    FAILED = 7
    SKIPPED = 8
    TIMING_OUT = 9
    TIMED_OUT = 10
    ABORTED = 11
    RECOVERED = 12

    @property
    def is_terminal(self) -> bool:
        """True once the node will not change again."""
        return self in _TERMINAL_NODE

    @property
    def is_success(self) -> bool:
        """True when downstream nodes may use this node's outputs."""
        return self in (NodePhase.SUCCEEDED, NodePhase.RECOVERED)

    @property
    def event_phase(self) -> int | None:
        """The flyteidl ``NodeExecution.Phase`` reported for this phase; None for internal-only phases."""
        return _NODE_EVENT_PHASE.get(self)


_TERMINAL_NODE = frozenset(
    {
        NodePhase.SUCCEEDED,
        NodePhase.FAILED,
        NodePhase.SKIPPED,
        NodePhase.TIMED_OUT,
        NodePhase.ABORTED,
        NodePhase.RECOVERED,
    }
)

_NODE_EVENT_PHASE = {
    NodePhase.QUEUED: _NodeEvent.QUEUED,
    NodePhase.RUNNING: _NodeEvent.RUNNING,
    NodePhase.DYNAMIC_RUNNING: _NodeEvent.DYNAMIC_RUNNING,
    NodePhase.SUCCEEDED: _NodeEvent.SUCCEEDED,
    NodePhase.FAILING: _NodeEvent.FAILING,
    NodePhase.FAILED: _NodeEvent.FAILED,
    NodePhase.SKIPPED: _NodeEvent.SKIPPED,
    NodePhase.TIMED_OUT: _NodeEvent.TIMED_OUT,
    NodePhase.ABORTED: _NodeEvent.ABORTED,
    NodePhase.RECOVERED: _NodeEvent.RECOVERED,
}


class WorkflowPhase(enum.IntEnum):
    """The phases of a whole execution; the values are flyteidl's ``WorkflowExecution.Phase``."""

    UNDEFINED = _WorkflowEvent.UNDEFINED
    QUEUED = _WorkflowEvent.QUEUED
    RUNNING = _WorkflowEvent.RUNNING
    SUCCEEDING = _WorkflowEvent.SUCCEEDING
    SUCCEEDED = _WorkflowEvent.SUCCEEDED
    FAILING = _WorkflowEvent.FAILING
    FAILED = _WorkflowEvent.FAILED
    ABORTED = _WorkflowEvent.ABORTED
    TIMED_OUT = _WorkflowEvent.TIMED_OUT
    ABORTING = _WorkflowEvent.ABORTING

    @property
    def is_terminal(self) -> bool:
        """True once the execution has ended."""
        return self in (
            WorkflowPhase.SUCCEEDED,
            WorkflowPhase.FAILED,
            WorkflowPhase.ABORTED,
            WorkflowPhase.TIMED_OUT,
        )
