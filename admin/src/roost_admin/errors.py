"""Roost's own errors: what the admin's services raise, free of any transport.

A service raises one of these with a message that names the entity and field at fault; each transport maps them
to its own answer in one place (gRPC: :func:`roost_admin.server.errors.status_of`; HTTP:
:func:`roost_admin.http.http_status`, the codes flyteadmin's HTTP gateway gives the same gRPC statuses). Client
faults (:class:`ClientError` and its subclasses) are answered with their full message; anything else
(:class:`AdminError` itself, :class:`Unavailable`, an unexpected exception) is a fault of the server, logged in
full and answered with a short message.
"""

from __future__ import annotations

from roost_core.errors import RoostError


class AdminError(RoostError):
    """A fault of the server (a lost blob, a row that points nowhere): never the client's doing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unavailable(AdminError):
    """The database or blob store is not reachable right now; retrying may work."""


class ClientError(AdminError):
    """The request is at fault; its message says how, completely."""


class InvalidArgument(ClientError):
    """The request is malformed or names something in a wrong form; ``field`` names the field when one is at
    fault."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class NotFound(ClientError):
    """The entity asked for does not exist."""


class AlreadyExists(ClientError):
    """An entity with that identity exists (with other content, for immutable entities)."""


class FailedPrecondition(ClientError):
    """The entity is not in a state that allows the request."""


class AlreadyInTerminalState(FailedPrecondition):
    """An event or change for an entity that already ended; ``current_phase`` is its phase's name. flyteadmin
    tells event producers this with ``EventFailureReason.already_in_terminal_state``, so they stop sending."""

    def __init__(self, message: str, current_phase: str) -> None:
        super().__init__(message)
        self.current_phase = current_phase


class ResourceExhausted(ClientError):
    """The request is larger than the configured limits."""


class Unauthenticated(ClientError):
    """The caller did not prove who it is (no token, or a bad one)."""


class PermissionDenied(ClientError):
    """The caller may not do this (it lacks the role the operation needs)."""


class Unimplemented(ClientError):
    """The operation is not implemented by this server."""
