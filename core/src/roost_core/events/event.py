"""The unit the recorder hands to sinks: one flyteidl event with a deterministic id.

Building a flyteidl message costs more than the engine's own work for a quick task, and many sinks (a
progress display) never look at it. So an event carries a short :class:`EventSummary` made at once, and its
message is built from values captured at the time of the change, the first time a sink asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

from flyteidl.core import execution_pb2
from flyteidl.event import event_pb2

EventMessage: TypeAlias = (
    event_pb2.WorkflowExecutionEvent | event_pb2.NodeExecutionEvent | event_pb2.TaskExecutionEvent
)
EventKind: TypeAlias = Literal["workflow", "node", "task"]

_PHASE_NAMES = {
    "workflow": execution_pb2.WorkflowExecution.Phase.Name,
    "node": execution_pb2.NodeExecution.Phase.Name,
    "task": execution_pb2.TaskExecution.Phase.Name,
}


@dataclass(frozen=True, slots=True)
class EventSummary:
    """What an event says, in brief: enough to show progress."""

    subject: str
    """The node's unique id (for node and task events); empty for workflow events."""
    phase: str
    """The flyteidl phase name (``RUNNING``, ``SUCCEEDED``, ...)."""
    occurred_at: float
    """Epoch seconds."""
    name: str = ""
    """The node's name, for node events."""
    attempt: int = 0
    """The retry attempt, for task events."""


class Event:
    """A phase change of a workflow, node or task attempt.

    ``id`` is derived from what the event is about (execution, node, attempt, phase, phase version), so
    the same change always has the same id and a sink can drop repeats.
    """

    __slots__ = ("_build", "_message", "_summary", "id", "kind")

    def __init__(
        self,
        id: str,
        kind: EventKind,
        message: EventMessage | None = None,
        *,
        build: Callable[[], EventMessage] | None = None,
        summary: EventSummary | None = None,
    ) -> None:
        if (message is None) == (build is None):
            raise ValueError("an event needs exactly one of message and build")
        self.id = id
        self.kind = kind
        self._message = message
        self._build = build
        self._summary = summary

    @property
    def message(self) -> EventMessage:
        """The flyteidl event (built on first use)."""
        if self._message is None:
            assert self._build is not None
            self._message = self._build()
            self._build = None
        return self._message

    @property
    def summary(self) -> EventSummary:
        """The event in brief (read from the message when the event came from a saved state)."""
        if self._summary is None:
            message = self.message
            if isinstance(message, event_pb2.NodeExecutionEvent):
                subject, name, attempt = message.id.node_id, message.node_name, 0
            elif isinstance(message, event_pb2.TaskExecutionEvent):
                subject, name, attempt = message.parent_node_execution_id.node_id, "", message.retry_attempt
            else:
                subject, name, attempt = "", "", 0
            self._summary = EventSummary(
                subject,
                _PHASE_NAMES[self.kind](message.phase),
                message.occurred_at.ToNanoseconds() / 1e9,
                name,
                attempt,
            )
        return self._summary

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and other.id == self.id and other.message == self.message

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Event({self.id!r})"
