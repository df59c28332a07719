"""Execution states in the ``execution_states`` table: reading one, and saving a new execution's first state.

:class:`SessionStateStore` writes the first state of a new execution inside the transaction that creates its
row; the engine workers save later states through their own claim-fenced store
(:class:`roost_admin.workers.store.ClaimedStateStore`), which reads with :func:`load_state`.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.db.base import utcnow
from roost_core.engine import ExecutionState, StateStoreError


def _decode(key: str, data: object) -> ExecutionState:
    if not isinstance(data, dict):
        raise StateStoreError(f"saved state of execution {key!r} is not a JSON object")
    try:
        return ExecutionState.from_dict(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise StateStoreError(f"saved state of execution {key!r} cannot be read: {exc}") from exc


def load_state(session: Session, execution_id: int, key: str) -> ExecutionState | None:
    """The saved state of an execution row, or None if it has none."""
    data = session.scalar(
        select(models.ExecutionState.data).where(models.ExecutionState.execution_id == execution_id)
    )
    return None if data is None else _decode(key, data)


_INSERT_STATE = insert(cast("Table", models.ExecutionState.__table__))


class SessionStateStore:
    """Saves the state of one new execution into the caller's session (the transaction creating its row)."""

    def __init__(self, session: Session, execution_id: int, key: str) -> None:
        """``execution_id`` is the new row's id, ``key`` its ``project/domain/name``."""
        self._session = session
        self._execution_id = execution_id
        self._key = key

    def save(self, state: ExecutionState) -> None:
        """Insert the execution's first state row (a new execution has none yet): one INSERT in the session's
        transaction, not the ORM's unit of work."""
        if state.key != self._key:
            raise StateStoreError(f"this store only saves execution {self._key!r}, not {state.key!r}")
        self._session.connection().execute(
            _INSERT_STATE,
            {"execution_id": self._execution_id, "data": state.to_dict(), "saved_at": utcnow()},
        )

    def load(self, key: str) -> ExecutionState | None:
        """The state saved in the session so far."""
        return load_state(self._session, self._execution_id, key)
