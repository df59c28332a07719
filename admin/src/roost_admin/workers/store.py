"""The engine workers' state store, backed by the ``execution_states`` table.

:class:`ClaimedStateStore` is the engine workers' store (a new execution's first state is written with its row,
by :mod:`roost_admin.services.launching`): it saves a state only while the saving worker
still holds its claim on the execution (checked in the same transaction, which also renews the lease), so a
worker whose lease was taken over can never overwrite the state its successor saves.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from roost_admin.db import models
from roost_admin.db.base import Database, utcnow
from roost_admin.services.state import load_state
from roost_core.engine import ExecutionState, StateStoreError


@dataclass(frozen=True, slots=True)
class Claim:
    """A worker's claim on an execution: the row and the worker's identity."""

    execution_id: int
    worker: str


class ClaimedStateStore:
    """The engine workers' state store: saves are fenced by the saving worker's claim.

    A worker registers each execution it claims (:meth:`hold`) and forgets it when it lets go
    (:meth:`forget`). A save checks, in its transaction, that the execution is still claimed by that worker,
    renews the claim's lease and writes the state; if the claim is gone the save raises
    :class:`StateStoreError` and writes nothing.
    """

    def __init__(self, db: Database, lease: datetime.timedelta) -> None:
        self._db = db
        self._lease = lease
        self._claims: dict[str, Claim] = {}
        self._lock = threading.Lock()

    def hold(self, key: str, claim: Claim) -> None:
        """Remember that ``claim`` holds the execution ``key``."""
        with self._lock:
            self._claims[key] = claim

    def forget(self, key: str) -> None:
        """The execution ``key`` is no longer held by this process."""
        with self._lock:
            self._claims.pop(key, None)

    def save(self, state: ExecutionState) -> None:
        """Write the state, if the worker holding the execution still holds its claim."""
        with self._lock:
            claim = self._claims.get(state.key)
        if claim is None:
            raise StateStoreError(f"execution {state.key} is not claimed by a worker of this process")
        now = utcnow()
        try:
            with self._db.begin() as session:
                renewed = session.execute(
                    update(models.Execution)
                    .where(
                        models.Execution.id == claim.execution_id, models.Execution.claimed_by == claim.worker
                    )
                    .values(lease_until=now + self._lease)
                    .execution_options(synchronize_session=False)
                )
                if not getattr(renewed, "rowcount", 0):
                    raise StateStoreError(
                        f"execution {state.key}: worker {claim.worker} lost its claim (its lease expired and "
                        "another worker took the execution over)"
                    )
                session.execute(
                    update(models.ExecutionState)
                    .where(models.ExecutionState.execution_id == claim.execution_id)
                    .values(data=state.to_dict(), saved_at=now)
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError as exc:
            raise StateStoreError(f"cannot save the state of execution {state.key}: {exc}") from exc

    def load(self, key: str) -> ExecutionState | None:
        """The saved state of the execution ``key`` (``project/domain/name``), or None."""
        project, domain, name = key.split("/", 2)
        try:
            with self._db.session() as session:
                execution_id = session.scalar(
                    select(models.Execution.id).where(
                        models.Execution.project == project,
                        models.Execution.domain == domain,
                        models.Execution.name == name,
                    )
                )
                if execution_id is None:
                    return None
                return load_state(session, execution_id, key)
        except SQLAlchemyError as exc:
            raise StateStoreError(f"cannot load the state of execution {key}: {exc}") from exc
