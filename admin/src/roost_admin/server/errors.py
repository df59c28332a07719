"""Errors RPC handlers raise, and the wrapper that turns every failure into a proper gRPC status.

A handler raises :class:`RpcError` subclasses with a message naming the entity and field at fault. Anything
else that escapes becomes INTERNAL, never UNKNOWN: flytekit treats UNKNOWN (like UNAUTHENTICATED) as an auth
failure and starts a browser login that hangs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import DecodeError
from sqlalchemy.exc import IntegrityError, OperationalError

from roost_core.errors import RoostError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class RpcError(RoostError):
    """An error with the gRPC status code it is reported under."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, *, details: dict[str, str | bytes] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidArgument(RpcError):
    """The request is malformed or names something in a wrong form."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(RpcError):
    """The entity asked for does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(RpcError):
    """An entity with that identity exists (with other content, for immutable entities)."""

    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(RpcError):
    """The entity is not in a state that allows the request (an event after a terminal phase, ...)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(RpcError):
    """The request is larger than the configured limits."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(RpcError):
    """The database or blob store is not reachable right now; retrying may work."""

    code = grpc.StatusCode.UNAVAILABLE


def rpc(method: F) -> F:
    """Wrap a servicer method: RpcError → its status; database contention → UNAVAILABLE; anything else → INTERNAL.

    Handlers raise RpcError instead of calling ``context.abort`` themselves.
    """

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except RpcError as exc:
            if exc.details:
                # Keys ending in -bin carry bytes (grpc-status-details-bin: a google.rpc.Status).
                context.set_trailing_metadata(tuple(exc.details.items()))
            context.abort(exc.code, exc.message)
        except DecodeError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{method.__name__}: malformed request: {exc}")
        except IntegrityError as exc:
            log.info("%s conflicted: %s", method.__name__, exc.orig)
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"{method.__name__}: the entity already exists")
        except OperationalError as exc:
            log.warning("%s: database unavailable: %s", method.__name__, exc.orig)
            context.abort(grpc.StatusCode.UNAVAILABLE, f"{method.__name__}: the database is unavailable")
        except Exception as exc:  # the last line of defence: never let grpc report UNKNOWN
            log.exception("%s failed", method.__name__)
            context.abort(
                grpc.StatusCode.INTERNAL, f"{method.__name__}: internal error: {type(exc).__name__}: {exc}"
            )

    return wrapper  # type: ignore[return-value]
