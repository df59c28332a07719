"""Execution states in the ``execution_states`` table: reading one.

A new execution's first state is inserted with its row (:mod:`roost_admin.services.launching`); the engine
workers save later states through their own claim-fenced store
(:class:`roost_admin.workers.store.ClaimedStateStore`), which reads with :func:`load_state`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from roost_admin.db import models
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
