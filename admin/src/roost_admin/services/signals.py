"""Signals: the values gate nodes (approve, wait_for_input) wait for.

A gate creates its signal when it starts waiting; clients list an execution's signals and set one. Setting a
signal checks the value against the signal's type and wakes the execution, in this process at once and in
another at its workers' next poll. A signal is set once: setting the same value again succeeds (clients
retry), another value is ALREADY_EXISTS. The engine's gates declare and read their signals through the same
service (:meth:`Signals.declare`, :meth:`Signals.value`).
"""

from __future__ import annotations

from flyteidl.admin import signal_pb2
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from roost_admin.db import models
from roost_admin.errors import AlreadyExists, InvalidArgument, NotFound
from roost_admin.services import validation
from roost_admin.services.base import Service
from roost_admin.services.listing import Field, Listing, next_token, parse_time
from roost_admin.services.rows import execution_identifier, execution_key, find_execution, get_execution, wake
from roost_core import literal_types
from roost_core.engine import SignalUnavailableError

_S = models.Signal
SIGNALS = Listing(
    "signals",
    {
        "signal_id": Field(_S.signal_id),
        "created_at": Field(_S.created_at, parse_time),
        "updated_at": Field(_S.updated_at, parse_time),
    },
    [_S.created_at.asc(), _S.id.asc()],
)


def _message(execution: models.Execution, row: models.Signal) -> signal_pb2.Signal:
    signal = signal_pb2.Signal(
        id=identifier_pb2.SignalIdentifier(
            signal_id=row.signal_id, execution_id=execution_identifier(execution)
        )
    )
    signal.type.ParseFromString(row.type)
    if row.value is not None:
        signal.value.ParseFromString(row.value)
    return signal


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


class Signals(Service):
    """GetOrCreateSignal, ListSignals and SetSignal; and the engine's gates."""

    def _checked_id(self, ident: identifier_pb2.SignalIdentifier) -> identifier_pb2.SignalIdentifier:
        if not ident.signal_id:
            raise InvalidArgument("id.signal_id is required")
        validation.text(ident.signal_id, "id.signal_id")
        execution = ident.execution_id
        validation.project_id(execution.project, "id.execution_id.project")
        validation.domain(execution.domain, self.ctx.settings.domains, "id.execution_id.domain")
        validation.execution_name(execution.name, "id.execution_id.name")
        return ident

    def get_or_create_signal(self, request: signal_pb2.SignalGetOrCreateRequest) -> signal_pb2.Signal:
        """The signal, created with the given type if the execution has none of that id yet."""
        ident = self._checked_id(request.id)
        if not request.HasField("type") or request.type.WhichOneof("type") is None:
            raise InvalidArgument("type is required")
        with self.ctx.db.begin() as session:
            execution = get_execution(session, ident.execution_id)
            return _message(
                execution, get_or_create_signal(session, execution, ident.signal_id, request.type)
            )

    def list_signals(self, request: signal_pb2.SignalListRequest) -> signal_pb2.SignalList:
        """An execution's signals, set or not."""
        execution_id = request.workflow_execution_id
        validation.project_id(execution_id.project, "workflow_execution_id.project")
        validation.domain(execution_id.domain, self.ctx.settings.domains, "workflow_execution_id.domain")
        validation.execution_name(execution_id.name, "workflow_execution_id.name")
        with self.ctx.db.session() as session:
            execution = get_execution(session, execution_id)
            sort = request.sort_by if request.HasField("sort_by") else None
            query, offset, limit = SIGNALS.page(
                select(_S).where(_S.execution_id == execution.id),
                filters=request.filters,
                sort=sort,
                limit=request.limit,
                token=request.token,
            )
            rows, token = next_token(session.scalars(query).all(), offset, limit)
            return signal_pb2.SignalList(signals=[_message(execution, row) for row in rows], token=token)

    def set_signal(self, request: signal_pb2.SignalSetRequest) -> signal_pb2.SignalSetResponse:
        """Give a signal its value and wake the execution waiting for it."""
        ident = self._checked_id(request.id)
        if not request.HasField("value"):
            raise InvalidArgument("value is required")
        value = request.value.SerializeToString(deterministic=True)
        with self.ctx.db.begin() as session:
            execution = get_execution(session, ident.execution_id)
            text = f"signal '{ident.signal_id}' of execution {execution_key(execution)}"
            row = find_signal(session, execution.id, ident.signal_id)
            if row is None:
                raise NotFound(f"{text} does not exist (nothing waits for it yet)")
            expected = types_pb2.LiteralType()
            expected.ParseFromString(row.type)
            if not literal_types.literal_matches(request.value, expected):
                got = literal_types.describe(literal_types.literal_type_of(request.value))
                raise InvalidArgument(f"{text} expects {literal_types.describe(expected)} but got {got}")
            if row.value is not None:
                if _same(row.value, request.value):
                    return signal_pb2.SignalSetResponse()
                raise AlreadyExists(f"{text} was already set")
            row.value = value
            woke = wake(session, execution.id)
        if woke:
            self.ctx.wakeups.announce()
        return signal_pb2.SignalSetResponse()

    def declare(self, execution: str, signal_id: str, literal_type: types_pb2.LiteralType) -> None:
        """Create the signal a gate of ``execution`` (``project/domain/name``) waits for (idempotent)."""
        project, domain, name = execution.split("/", 2)
        try:
            with self.ctx.db.begin() as session:
                row = find_execution(session, project, domain, name)
                if row is None:
                    raise SignalUnavailableError(f"execution {execution} does not exist")
                get_or_create_signal(session, row, signal_id, literal_type)
        except IntegrityError:
            pass  # created concurrently (by GetOrCreateSignal): exactly what was asked for

    def value(self, execution: str, signal_id: str) -> literals_pb2.Literal | None:
        """The value of a signal of ``execution`` (``project/domain/name``), once someone set it."""
        project, domain, name = execution.split("/", 2)
        with self.ctx.db.session() as session:
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


def _same(stored: bytes, value: literals_pb2.Literal) -> bool:
    existing = literals_pb2.Literal()
    existing.ParseFromString(stored)
    return bool(existing == value)
