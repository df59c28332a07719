"""Gate nodes in the admin: the signals they wait for live in the ``signals`` table.

A gate declares its signal (:meth:`AdminSignals.ensure`, GetOrCreateSignal's semantics) and reads its value
each round. SetSignal stores the value and wakes the execution through the database, so the gate resumes in
whichever process holds the execution; the ``on_set`` callback the engine passes is therefore not kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flyteidl.core import literals_pb2, types_pb2
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.server.execution_rows import find_execution
from roost_core.engine import SignalUnavailableError

if TYPE_CHECKING:
    from roost_admin.app import AdminApp


def find_signal(session: Session, execution_id: int, signal_id: str) -> models.Signal | None:
    """The signal ``signal_id`` of an execution, or None."""
    return session.scalars(
        select(models.Signal).where(
            models.Signal.execution_id == execution_id, models.Signal.signal_id == signal_id
        )
    ).one_or_none()


def get_or_create_signal(
    session: Session, execution: models.Execution, signal_id: str, literal_type: types_pb2.LiteralType
) -> models.Signal:
    """The signal, created with ``literal_type`` if it does not exist yet (an existing one is returned as is)."""
    row = find_signal(session, execution.id, signal_id)
    if row is None:
        row = models.Signal(
            execution_id=execution.id,
            signal_id=signal_id,
            type=literal_type.SerializeToString(deterministic=True),
            value=None,
        )
        session.add(row)
        session.flush()
    return row


class AdminSignals:
    """The engine's :class:`~roost_core.engine.SignalSource`, backed by the signals table."""

    def __init__(self, app: AdminApp) -> None:
        self._app = app

    def ensure(
        self, execution: str, signal_id: str, literal_type: types_pb2.LiteralType, on_set: Callable[[], None]
    ) -> None:
        """Create the signal the gate waits for (idempotent)."""
        project, domain, name = execution.split("/", 2)
        try:
            with self._app.db.begin() as session:
                row = find_execution(session, project, domain, name)
                if row is None:
                    raise SignalUnavailableError(f"execution {execution} does not exist")
                get_or_create_signal(session, row, signal_id, literal_type)
        except IntegrityError:
            pass  # created concurrently (by GetOrCreateSignal): exactly what was asked for

    def get(self, execution: str, signal_id: str) -> literals_pb2.Literal | None:
        """The signal's value, once someone set it."""
        project, domain, name = execution.split("/", 2)
        with self._app.db.session() as session:
            value = session.scalar(
                select(models.Signal.value)
                .join(models.Execution, models.Execution.id == models.Signal.execution_id)
                .where(
                    models.Execution.project == project,
                    models.Execution.domain == domain,
                    models.Execution.name == name,
                    models.Signal.signal_id == signal_id,
                )
            )
        if value is None:
            return None
        literal = literals_pb2.Literal()
        literal.ParseFromString(value)
        return literal
