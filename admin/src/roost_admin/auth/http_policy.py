"""The HTTP side of enforcement: every route of the admin's HTTP endpoint has a policy (:func:`policy_of`), and a
request to a path that is not public needs a valid bearer token (``Authorization: Bearer ...``) or gets 401.

The HTTP/JSON API under ``/api/v1/`` and the console under ``/console`` need a token, as flyteadmin's gateway
does; the policy hands the token's principal to the route (:data:`PRINCIPAL`), which checks the role the
operation's rule asks for (:meth:`roost_admin.auth.gate.AuthGate.authorize`), as the gRPC interceptor does.

Public paths: ``/healthz``, the authorization server's endpoints (which authenticate their callers
themselves), and the signed data URLs under ``/data/``, whose HMAC signature and expiry are the credential, as
with S3 presigned URLs: only a caller holding the role the DataProxy RPC requires (viewer to download, launcher
to upload) can obtain one, and clients such as flytekit send them without a token.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from roost_admin.auth.authorization_server import PATHS, routes
from roost_admin.auth.tokens import IssuerUnavailable, TokenError
from roost_admin.blobs import DATA_PATH

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate

PUBLIC_PATHS = frozenset({"/healthz", *PATHS})
"""Paths served to anyone."""
SIGNED_PREFIXES = (DATA_PATH + "/",)
"""Paths whose URLs carry their own signature."""


AUTHORIZED_PREFIXES = ("/api/v1/", "/console/")
"""Paths served to a bearer token's principal, each route checking the role its operation needs."""
PRINCIPAL = "roost.principal"
"""The key of the ASGI scope under which the policy leaves the authenticated principal for the route."""


def is_public(path: str) -> bool:
    """Whether ``path`` is served without a bearer token."""
    return path in PUBLIC_PATHS or path.startswith(SIGNED_PREFIXES)


def policy_of(path: str) -> str | None:
    """The policy of a route's path: ``public``, ``signed`` (the URL is the credential), ``authorized`` (a token,
    then the operation's role), or None for a path that has none (and so needs a token and is not a route)."""
    if path in PUBLIC_PATHS:
        return "public"
    if path.startswith(SIGNED_PREFIXES):
        return "signed"
    if path == "/console" or path.startswith(AUTHORIZED_PREFIXES):
        return "authorized"
    return None


class HttpPolicy:
    """ASGI middleware: public and signed paths pass; every other path needs a valid bearer token."""

    def __init__(self, app: ASGIApp, gate: AuthGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = [(key.decode("latin-1"), value.decode("latin-1")) for key, value in scope["headers"]]
        try:
            scope[PRINCIPAL] = self.gate.authenticate(headers)
        except TokenError as exc:
            await _reply(send, 401, str(exc), {"www-authenticate": 'Bearer realm="roost"'})
            return
        except IssuerUnavailable as exc:
            await _reply(send, 503, str(exc), {})
            return
        await self.app(scope, receive, send)


async def _reply(send: Send, status: int, message: str, headers: dict[str, str]) -> None:
    body = json.dumps(
        {"error": "unauthorized" if status == 401 else "unavailable", "error_description": message}
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                *((k.encode(), v.encode()) for k, v in headers.items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


def guarded(inner: ASGIApp, gate: AuthGate) -> ASGIApp:
    """``inner`` with the authorization server's routes beside it and the route policy in front."""
    outer = Starlette(routes=[*routes(gate), Mount("/", app=inner)])
    return HttpPolicy(outer, gate)
