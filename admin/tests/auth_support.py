"""Helpers of the auth tests: an admin with auth on, principals holding roles, and calls carrying tokens."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from conftest import make_settings

from roost_admin.app import AdminApp
from roost_admin.auth import directory
from roost_admin.auth.roles import Role


def start_admin(tmp_path, database_url: str, **overrides: Any) -> AdminApp:
    """A running admin with auth on (overrides may change the auth section or anything else)."""
    auth = {"enabled": True, **overrides.pop("auth", {})}
    admin = AdminApp(make_settings(tmp_path, database_url, auth=auth, **overrides))
    admin.start()
    return admin


def grant(app: AdminApp, kind: str, name: str, project: str, role: Role) -> None:
    """Bind ``role`` on ``project`` to a principal."""
    with app.db.begin() as session:
        directory.grant(session, kind, name, project, role)


def token(app: AdminApp, name: str, kind: str = "client", **extra: Any) -> str:
    """An access token of the built-in server for a client (or user) named ``name``."""
    assert app.auth is not None and app.auth.tokens is not None
    minted, _ = app.auth.tokens.access_token(name, kind=kind, client_id=name, scope="all", extra=extra)
    return minted


def bearer(value: str) -> tuple[tuple[str, str]]:
    """Call metadata carrying a bearer token."""
    return (("authorization", f"Bearer {value}"),)


def code_of(call: Any, request: Any, metadata: Any = None) -> grpc.StatusCode:
    """The status code a call ends with."""
    try:
        call(request, metadata=metadata, timeout=30)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def error_of(call: Any, request: Any, metadata: Any = None) -> grpc.RpcError:
    """The error a call must end with."""
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=metadata, timeout=30)
    return caught.value


class _Bearer(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, value: str) -> None:
        self.metadata = bearer(value)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(details._replace(metadata=(*(details.metadata or ()), *self.metadata)), request)


def authorized(channel: grpc.Channel, value: str) -> grpc.Channel:
    """``channel``, sending ``value`` as the bearer token on every call."""
    return grpc.intercept_channel(channel, _Bearer(value))
