"""Execution states in the ``execution_states`` table: reading one, and saving a new execution's first state.

:class:`SessionStateStore` writes the first state of a new execution inside the transaction that creates its
row; the engine workers save later states through their own claim-fenced store
(:class:`roost_admin.workers.store.ClaimedStateStore`), which reads with :func:`load_state`.
"""

from __future__ import annotations

from sqlalchemy import select
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


class SessionStateStore:
    """Saves the state of one new execution into the caller's session (the transaction creating its row)."""

    def __init__(self, session: Session, execution: models.Execution) -> None:
        self._session = session
        self._execution = execution

    def save(self, state: ExecutionState) -> None:
        """Add the execution's first state row to the session (a new execution has none yet)."""
        if state.key != f"{self._execution.project}/{self._execution.domain}/{self._execution.name}":
            raise StateStoreError(
                f"this store only saves execution {self._execution.name!r}, not {state.key!r}"
            )
        self._session.add(
            models.ExecutionState(execution_id=self._execution.id, data=state.to_dict(), saved_at=utcnow())
        )

    def load(self, key: str) -> ExecutionState | None:
        """The state saved in the session so far."""
        return load_state(self._session, self._execution.id, key)
