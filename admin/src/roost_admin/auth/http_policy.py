"""The HTTP side of enforcement: every route of the admin's HTTP endpoint has a policy (:func:`policy_of`), and a
request to a path that is not public needs a valid bearer token (``Authorization: Bearer ...``) or gets 401.

The HTTP/JSON API under ``/api/v1/`` and the console under ``/console`` need a token, as flyteadmin's gateway
does; the policy hands the token's principal to the route (:data:`PRINCIPAL`), which checks the role the
operation's rule asks for (:meth:`roost_admin.auth.gate.AuthGate.authorize`), as the gRPC interceptor does.

A browser signed in to the console (:mod:`~roost_admin.auth.console_login`) sends its token in a cookie
instead; a console page asked for without either is sent to sign in. A cookie-authenticated request that
changes something (any method but GET and HEAD) must come from the admin's own pages: its ``Origin`` (or
``Referer``) must be the admin itself, so another site cannot make a signed-in browser act.

Public paths: ``/healthz``, the authorization server's endpoints (which authenticate their callers
themselves), the console's sign-in pages, and the signed data URLs under ``/data/``, whose HMAC signature and expiry are the credential, as
with S3 presigned URLs: only a caller holding the role the DataProxy RPC requires (viewer to download, launcher
to upload) can obtain one, and clients such as flytekit send them without a token.
"""

from __future__ import annotations

import json
import urllib.parse
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from roost_admin.auth import console_login, pages
from roost_admin.auth.authorization_server import (
    AUTHORIZE_PATH,
    PATHS,
    AuthorizationServer,
    OAuthError,
    routes,
)
from roost_admin.auth.console_login import (
    LOGIN_COOKIE,
    LOGIN_PATH,
    SESSION_COOKIE,
    BuiltIn,
    ConsoleLogin,
    LoginError,
)
from roost_admin.auth.roles import Principal
from roost_admin.auth.tokens import IssuerUnavailable, TokenError
from roost_admin.blobs import DATA_PATH

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate

PUBLIC_PATHS = frozenset({"/healthz", *PATHS, *console_login.PATHS})
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
    """ASGI middleware: public and signed paths pass; every other path needs a valid bearer token (or a signed-in
    browser's session cookie)."""

    def __init__(self, app: ASGIApp, gate: AuthGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = [(key.decode("latin-1"), value.decode("latin-1")) for key, value in scope["headers"]]
        session = _cookie(headers, SESSION_COOKIE)
        try:
            try:
                scope[PRINCIPAL] = self.gate.authenticate(headers)
            except TokenError:
                if not session:
                    raise
                scope[PRINCIPAL] = self._from_cookie(scope, headers, session)
        except TokenError as exc:
            if _is_page(scope):
                await _to_sign_in(scope, receive, send)
                return
            await _reply(send, 401, str(exc), {"www-authenticate": 'Bearer realm="roost"'})
            return
        except CrossSite as exc:
            await _reply(send, 403, str(exc), {})
            return
        except IssuerUnavailable as exc:
            await _reply(send, 503, str(exc), {})
            return
        await self.app(scope, receive, send)

    def _from_cookie(self, scope: Scope, headers: list[tuple[str, str]], session: str) -> Principal:
        principal = self.gate.verifier.verify(session)
        if scope["method"] not in ("GET", "HEAD") and not _from_own_page(headers):
            raise CrossSite(
                "refused: a signed-in browser's request that changes something must come from the console's "
                "own pages (its Origin header names another site, or none)"
            )
        return principal


class CrossSite(Exception):
    """A cookie-authenticated change that did not come from the admin's own pages."""


def _cookie(headers: list[tuple[str, str]], name: str) -> str:
    for key, value in headers:
        if key.lower() == "cookie":
            try:
                jar = SimpleCookie(value)
            except CookieError:
                continue
            if name in jar:
                return jar[name].value
    return ""


def _from_own_page(headers: list[tuple[str, str]]) -> bool:
    found = {key.lower(): value for key, value in headers}
    origin = found.get("origin") or found.get("referer") or ""
    return bool(origin) and origin != "null" and urllib.parse.urlsplit(origin).netloc == found.get("host", "")


def _is_page(scope: Scope) -> bool:
    """A console page a browser navigates to (not the API, not a form post)."""
    path = scope["path"]
    return scope["method"] in ("GET", "HEAD") and (path == "/console" or path.startswith("/console/"))


async def _to_sign_in(scope: Scope, receive: Receive, send: Send) -> None:
    here = scope["path"] + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else "")
    target = LOGIN_PATH + "?" + urllib.parse.urlencode({"next": here})
    response = RedirectResponse(target, 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    await response(scope, receive, send)


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


def sign_in_routes(gate: AuthGate) -> list[Route]:
    """The console's sign-in, its return from the issuer, and signing out."""
    builtin = None
    if gate.builtin:
        server = AuthorizationServer(gate)

        def exchange(form: dict[str, str]) -> dict[str, Any]:
            try:
                return server.token(form, "")
            except OAuthError as exc:
                raise LoginError(f"the sign-in failed: {exc.description}") from None

        builtin = BuiltIn(gate.issuer + AUTHORIZE_PATH, exchange)
    login = ConsoleLogin(gate, builtin)
    secure = gate.http_url.startswith("https:")

    async def start(request: Request) -> Response:
        try:
            started = await run_in_threadpool(login.start, request.query_params.get("next", "/console"))
        except IssuerUnavailable as exc:
            return HTMLResponse(pages.message("Cannot sign in", str(exc)), 503)
        response = RedirectResponse(started.redirect, 303)
        response.set_cookie(
            LOGIN_COOKIE,
            started.cookie,
            max_age=console_login.LOGIN_SECONDS,
            path=LOGIN_PATH,
            secure=secure,
            httponly=True,
            samesite="lax",
        )
        return response

    async def callback(request: Request) -> Response:
        try:
            session = await run_in_threadpool(
                login.finish, dict(request.query_params), request.cookies.get(LOGIN_COOKIE, "")
            )
        except (LoginError, TokenError) as exc:
            page = pages.message_with_link("Cannot sign in", str(exc), LOGIN_PATH, "Sign in again")
            return HTMLResponse(page, 400)
        except IssuerUnavailable as exc:
            return HTMLResponse(pages.message("Cannot sign in", str(exc)), 503)
        response = RedirectResponse(session.next, 303)
        response.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
        response.set_cookie(
            SESSION_COOKIE,
            session.access_token,
            max_age=session.seconds,
            path="/",
            secure=secure,
            httponly=True,
            samesite="lax",
        )
        return response

    async def sign_out(request: Request) -> Response:
        headers = [(key, value) for key, value in request.headers.items()]
        if not _from_own_page(headers):
            return HTMLResponse(
                pages.message("Not signed out", "the request did not come from the console"), 403
            )
        page = pages.message_with_link(
            "Signed out", "You are signed out of the console.", LOGIN_PATH, "Sign in"
        )
        response = HTMLResponse(page)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return [
        Route(LOGIN_PATH, start, methods=["GET"]),
        Route(console_login.CALLBACK_PATH, callback, methods=["GET"]),
        Route(console_login.LOGOUT_PATH, sign_out, methods=["POST"]),
    ]


def guarded(inner: ASGIApp, gate: AuthGate) -> ASGIApp:
    """``inner`` with the authorization server's routes and the console's sign-in beside it, and the route
    policy in front."""
    outer = Starlette(routes=[*routes(gate), *sign_in_routes(gate), Mount("/", app=inner)])
    return HttpPolicy(outer, gate)
