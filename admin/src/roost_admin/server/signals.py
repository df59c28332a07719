"""flyteidl's SignalService: the values gate nodes (approve, wait_for_input) wait for.

A gate creates its signal when it starts waiting; clients list an execution's signals and set one. Setting a
signal checks the value against the signal's type and wakes the execution, in this process at once and in
another at its workers' next poll. A signal is set once: setting the same value again succeeds (clients
retry), another value is ALREADY_EXISTS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from flyteidl.admin import signal_pb2
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2
from flyteidl.service import signal_pb2_grpc
from sqlalchemy import select

from roost_admin.db import models
from roost_admin.server import validation
from roost_admin.server.errors import AlreadyExists, InvalidArgument, NotFound, rpc
from roost_admin.server.execution_rows import execution_identifier, execution_key, get_execution, wake
from roost_admin.server.listing import Field, Listing, next_token, parse_time
from roost_admin.workers.signals import find_signal, get_or_create_signal
from roost_core import literal_types

if TYPE_CHECKING:
    from roost_admin.app import AdminApp

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


class SignalService(signal_pb2_grpc.SignalServiceServicer):  # type: ignore[misc]  # flyteidl is untyped
    """GetOrCreateSignal, ListSignals and SetSignal."""

    def __init__(self, app: AdminApp) -> None:
        self.app = app

    def _signal_id(self, ident: identifier_pb2.SignalIdentifier) -> identifier_pb2.SignalIdentifier:
        if not ident.signal_id:
            raise InvalidArgument("id.signal_id is required")
        validation.text(ident.signal_id, "id.signal_id")
        execution = ident.execution_id
        validation.project_id(execution.project, "id.execution_id.project")
        validation.domain(execution.domain, self.app.settings.domains, "id.execution_id.domain")
        validation.execution_name(execution.name, "id.execution_id.name")
        return ident

    @rpc
    def GetOrCreateSignal(
        self, request: signal_pb2.SignalGetOrCreateRequest, context: grpc.ServicerContext
    ) -> signal_pb2.Signal:
        """The signal, created with the given type if the execution has none of that id yet."""
        ident = self._signal_id(request.id)
        if not request.HasField("type") or request.type.WhichOneof("type") is None:
            raise InvalidArgument("type is required")
        with self.app.db.begin() as session:
            execution = get_execution(session, ident.execution_id)
            return _message(
                execution, get_or_create_signal(session, execution, ident.signal_id, request.type)
            )

    @rpc
    def ListSignals(
        self, request: signal_pb2.SignalListRequest, context: grpc.ServicerContext
    ) -> signal_pb2.SignalList:
        """An execution's signals, set or not."""
        execution_id = request.workflow_execution_id
        validation.project_id(execution_id.project, "workflow_execution_id.project")
        validation.domain(execution_id.domain, self.app.settings.domains, "workflow_execution_id.domain")
        validation.execution_name(execution_id.name, "workflow_execution_id.name")
        with self.app.db.session() as session:
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

    @rpc
    def SetSignal(
        self, request: signal_pb2.SignalSetRequest, context: grpc.ServicerContext
    ) -> signal_pb2.SignalSetResponse:
        """Give a signal its value and wake the execution waiting for it."""
        ident = self._signal_id(request.id)
        if not request.HasField("value"):
            raise InvalidArgument("value is required")
        value = request.value.SerializeToString(deterministic=True)
        with self.app.db.begin() as session:
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
        if woke and self.app.workers is not None:
            self.app.workers.poke()
        return signal_pb2.SignalSetResponse()


def _same(stored: bytes, value: literals_pb2.Literal) -> bool:
    existing = literals_pb2.Literal()
    existing.ParseFromString(stored)
    return bool(existing == value)
