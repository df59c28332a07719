"""The one place every failure becomes a gRPC status.

Services and handlers raise Roost's own errors (:mod:`roost_admin.errors`) with a message naming the entity and
field at fault. :func:`answer` turns any exception into a status, and is used both by the :func:`rpc` wrapper every servicer
method carries and by the edge interceptor (:mod:`roost_admin.server.edge`) around every call:

- a client's mistake (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, ...) is answered with its message, which is
  complete: nothing is hidden from the client, so nothing more is logged than a debug line;
- a fault of the server (the database or blob store unavailable, an unexpected exception, a Roost error of any
  other kind) is logged in full with the call's request id, and the client gets a short message naming the
  method and quoting that id, never the error's text: no SQL statement, stack trace, storage URI or file path of
  the server reaches a client;
- nothing is ever answered UNKNOWN: flytekit treats UNKNOWN (like UNAUTHENTICATED) as an auth failure and starts
  a browser login that hangs.

Every call has a request id (:func:`request_id`): the client's ``x-request-id`` metadata when it is a plain token,
otherwise a generated one. It is sent back in the trailing metadata under the same key.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import re
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

import grpc
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from roost_admin.errors import (
    AdminError,
    AlreadyExists,
    AlreadyInTerminalState,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

REQUEST_ID_KEY = "x-request-id"
"""The metadata key carrying the request id, both ways."""
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_current_request_id: ContextVar[str | None] = ContextVar("roost_request_id", default=None)

CLIENT_FAULTS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
"""Codes that say the request was at fault: answered with the full message and not logged as a server fault."""


_CODES: tuple[tuple[type[AdminError], grpc.StatusCode], ...] = (
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (Unimplemented, grpc.StatusCode.UNIMPLEMENTED),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
)
"""Each of Roost's errors and its status code; any other AdminError is INTERNAL."""
STATUS_DETAILS_KEY = "grpc-status-details-bin"
"""The trailing metadata key of gRPC's rich status (a serialized ``google.rpc.Status``)."""


def code_of(exc: AdminError) -> grpc.StatusCode:
    """The status code Roost's error ``exc`` is answered with."""
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return code
    return grpc.StatusCode.INTERNAL


def status_details(exc: AdminError) -> list[tuple[str, str | bytes]]:
    """Trailing metadata carrying what the error says beyond its message: flyteadmin's
    ``EventFailureReason.already_in_terminal_state``, which tells an event producer to stop sending events."""
    if not isinstance(exc, AlreadyInTerminalState):
        return []
    from flyteidl.admin import event_pb2
    from google.protobuf import any_pb2
    from google.rpc import status_pb2  # type: ignore[import-untyped]

    reason = event_pb2.EventFailureReason(
        already_in_terminal_state=event_pb2.EventErrorAlreadyInTerminalState(current_phase=exc.current_phase)
    )
    detail = any_pb2.Any()
    detail.Pack(reason)
    status = status_pb2.Status(
        code=grpc.StatusCode.FAILED_PRECONDITION.value[0], message=exc.message, details=[detail]
    )
    return [(STATUS_DETAILS_KEY, status.SerializeToString())]


def request_id() -> str:
    """The id of the call being served; outside a call (or outside the edge interceptor), a new one."""
    current = _current_request_id.get()
    return current if current is not None else _new_request_id()


def request_id_from(metadata: Sequence[tuple[str, str | bytes]] | None) -> str:
    """The client's ``x-request-id`` if it is a plain token (letters, digits, ``._:-``, up to 64), else a new id:
    the id goes into log lines and messages, so nothing else is taken from the client."""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and _REQUEST_ID.match(value):
            return value
    return _new_request_id()


def _new_request_id() -> str:
    # 16 hex digits from the process's pseudo-random generator (reseeded in a forked child): an id needs to be
    # unique, not secret, and asking the operating system for random bytes on every call costs a system call.
    return f"{random.getrandbits(64):016x}"


@contextlib.contextmanager
def serving(call_request_id: str) -> Iterator[None]:
    """Make ``call_request_id`` the request id of the code run inside (one call, on one thread)."""
    token = _current_request_id.set(call_request_id)
    try:
        yield
    finally:
        _current_request_id.reset(token)


def status_of(exc: BaseException, method: str) -> tuple[grpc.StatusCode, str]:
    """The status code and client message for ``exc`` raised while serving ``method``; server faults are logged
    here, in full, with the request id the message quotes."""
    rid = request_id()
    if isinstance(exc, AdminError):
        code = code_of(exc)
        if code in CLIENT_FAULTS:
            log.debug("%s → %s (request id %s): %s", method, code.name, rid, exc.message)
            return code, exc.message
        log.warning("%s → %s (request id %s): %s", method, code.name, rid, exc.message, exc_info=exc)
        if code == grpc.StatusCode.UNAVAILABLE:
            return code, f"{method}: the server's storage is unavailable; try again (request id {rid})"
        return code, f"{method}: internal error (request id {rid})"
    if isinstance(exc, IntegrityError):
        log.debug("%s conflicted (request id %s): %s", method, rid, exc.orig)
        return grpc.StatusCode.ALREADY_EXISTS, f"{method}: the entity already exists"
    if isinstance(exc, OperationalError):
        log.warning("%s: database unavailable (request id %s): %s", method, rid, exc)
        return (
            grpc.StatusCode.UNAVAILABLE,
            f"{method}: the database is unavailable; try again (request id {rid})",
        )
    if isinstance(exc, DataError):
        # A value the request carried that the database refused: the edge checks should have named it first.
        log.warning("%s: the database refused a value (request id %s)", method, rid, exc_info=exc)
        return (
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{method}: a value in the request cannot be stored (request id {rid})",
        )
    if isinstance(exc, NotImplementedError):
        log.info("%s is not implemented (request id %s)", method, rid)
        return grpc.StatusCode.UNIMPLEMENTED, f"{method} is not implemented by this server"
    log.error("%s failed (request id %s)", method, rid, exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"{method}: internal error (request id {rid})"


def answer(context: grpc.ServicerContext, method: str, exc: BaseException) -> None:
    """End the call with the status :func:`status_of` gives ``exc`` (raises, as ``context.abort`` does)."""
    code, message = status_of(exc, method)
    trailing: list[tuple[str, str | bytes]] = [(REQUEST_ID_KEY, request_id())]
    if isinstance(exc, AdminError) and code in CLIENT_FAULTS:
        # Keys ending in -bin carry bytes (grpc-status-details-bin: a google.rpc.Status).
        trailing.extend(status_details(exc))
    context.set_trailing_metadata(tuple(trailing))
    context.abort(code, message)


def rpc(method: F) -> F:
    """Wrap a servicer method so whatever it raises is answered by :func:`answer`.

    Handlers raise Roost's errors (:mod:`roost_admin.errors`) instead of calling ``context.abort`` themselves.
    """

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except Exception as exc:  # every failure gets a proper status, never grpc's UNKNOWN
            answer(context, method.__name__, exc)

    return wrapper  # type: ignore[return-value]
