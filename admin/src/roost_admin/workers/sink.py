"""The engine's event sink in the admin: every event the engine records becomes a database change, through
the events service (:meth:`roost_admin.services.events.Events.record_engine_events`), and so by the same rules
as the event RPCs.

A batch is one transaction. An event the rules refuse is dropped: a repeat (ALREADY_EXISTS) is what a sink sees
after a crash or a retried delivery, and an event after a terminal phase (FAILED_PRECONDITION) is one the
admin already overruled (the execution was aborted meanwhile). Database errors propagate, so the engine keeps
the batch and delivers it again later; so does a blob store that is unavailable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from flyteidl.event import event_pb2
from sqlalchemy.exc import SQLAlchemyError

from roost_admin.services.events import Events
from roost_admin.services.rows import key_text
from roost_core.engine import Run
from roost_core.events import Event

log = logging.getLogger(__name__)


class AdminEventSink:
    """Writes the engine's events to the admin's tables (a batch that wakes an execution announces it through the
    service context's wake-ups)."""

    def __init__(self, events: Events) -> None:
        self._events = events
        self._local = threading.local()

    @contextmanager
    def evaluating(self, run: Run) -> Iterator[None]:
        """Mark ``run`` as the execution this thread evaluates, so its events can be completed from its state
        (a dynamic node's compiled workflow is in the state, not in the event)."""
        self._local.run = run
        try:
            yield
        finally:
            self._local.run = None

    def _dynamic_workflow_uri(self, message: event_pb2.NodeExecutionEvent) -> str:
        run: Run | None = getattr(self._local, "run", None)
        ident = message.id.execution_id
        if (
            run is None
            or not message.is_dynamic
            or run.key != key_text(ident.project, ident.domain, ident.name)
        ):
            return ""
        node = run.state.nodes.get(message.id.node_id)
        return node.dynamic_closure_uri if node is not None else ""

    def send(self, events: Sequence[Event]) -> None:
        """Record a batch of events in one transaction."""
        try:
            self._events.record_engine_events(events, self._dynamic_workflow_uri)
        except SQLAlchemyError:
            log.warning(
                "recording %d event(s) failed; the engine delivers them again", len(events), exc_info=True
            )
            raise
