"""The unit the recorder hands to sinks: one flyteidl event with a deterministic id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from flyteidl.event import event_pb2

EventMessage: TypeAlias = (
    event_pb2.WorkflowExecutionEvent | event_pb2.NodeExecutionEvent | event_pb2.TaskExecutionEvent
)


@dataclass(frozen=True, slots=True)
class Event:
    """A phase change of a workflow, node or task attempt.

    ``id`` is derived from what the event is about (execution, node, attempt, phase, phase version), so
    the same change always has the same id and a sink can drop repeats.
    """

    id: str
    kind: Literal["workflow", "node", "task"]
    message: EventMessage
