"""The engine's event sink in the admin: every event the engine records becomes a database change, through
the same :class:`~roost_admin.server.events.EventLedger` (and so the same rules) as the event RPCs.

A batch is one transaction. An event the rules refuse is dropped: a repeat (ALREADY_EXISTS) is what a sink sees
after a crash or a retried delivery, and an event after a terminal phase (FAILED_PRECONDITION) is one the
admin already overruled (the execution was aborted meanwhile). Database errors propagate, so the engine keeps
the batch and delivers it again later; so does a blob store that is unavailable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from flyteidl.event import event_pb2
from sqlalchemy.exc import SQLAlchemyError

from roost_admin.server.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RpcError,
    Unavailable,
)
from roost_admin.server.events import EventLedger
from roost_admin.server.execution_rows import key_text
from roost_core.engine import Run
from roost_core.events import Event

if TYPE_CHECKING:
    from roost_admin.app import AdminApp

log = logging.getLogger(__name__)


class AdminEventSink:
    """Writes the engine's events to the admin's tables; ``poke`` is called after a batch woke an execution."""

    def __init__(self, app: AdminApp, poke: Callable[[], None]) -> None:
        self._app = app
        self._poke = poke
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
        settings = self._app.settings
        try:
            with self._app.db.begin() as session:
                ledger = EventLedger(session, self._app.storage, settings.storage_prefix)
                for event in events:
                    self._record(ledger, event)
        except SQLAlchemyError:
            log.warning(
                "recording %d event(s) failed; the engine delivers them again", len(events), exc_info=True
            )
            raise
        if ledger.woke:
            self._poke()

    def _record(self, ledger: EventLedger, event: Event) -> None:
        message = event.message
        try:
            if isinstance(message, event_pb2.WorkflowExecutionEvent):
                ledger.workflow(message)
            elif isinstance(message, event_pb2.NodeExecutionEvent):
                ledger.node(message, dynamic_workflow_uri=self._dynamic_workflow_uri(message))
            else:
                ledger.task(message)
        except (AlreadyExists, FailedPrecondition) as exc:
            log.debug("event %s dropped: %s", event.id, exc.message)
        except (NotFound, InvalidArgument) as exc:
            log.warning("event %s dropped: %s", event.id, exc.message)
        except Unavailable:
            raise
        except RpcError as exc:
            log.error("event %s could not be recorded: %s", event.id, exc.message)
