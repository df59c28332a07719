"""Events: every phase change of a workflow, node or task attempt, delivered to pluggable sinks."""

from roost_core.events.event import Event, EventSummary
from roost_core.events.sinks import EventSink, JsonLinesSink, MemorySink

__all__ = ["Event", "EventSink", "EventSummary", "JsonLinesSink", "MemorySink"]
