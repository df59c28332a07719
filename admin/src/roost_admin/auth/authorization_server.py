"""The built-in OAuth 2 authorization server, for deployments without an identity provider of their own.

Endpoints (on the admin's HTTP port; :func:`metadata` lists them as RFC 8414 metadata):

- ``POST /oauth2/token``: grants ``client_credentials`` (clients and execution credentials, authenticated with
  HTTP Basic as flytekit sends it, or ``client_secret_post``), ``authorization_code`` (PKCE S256 required),
  ``refresh_token`` (rotated on every use) and the device code grant (RFC 8628);
- ``GET|POST /oauth2/authorize``: the browser sign-in of the authorization code flow, for the public client,
  redirecting only to its configured redirect URI or a loopback one (RFC 8252);
- ``POST /oauth2/device_authorization`` and ``GET|POST /oauth2/device``: the device flow;
- ``POST /oauth2/revoke``: revoke a refresh token (RFC 7009), which ``roost logout`` calls;
- ``GET /oauth2/jwks`` and the two ``/.well-known`` metadata documents.

Access tokens are RS256 JWTs; refresh tokens, authorization codes and device codes are random strings of
which only digests are stored. Error responses follow RFC 6749 (``error``, ``error_description``).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import secrets
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from roost_admin.auth import console_login, directory, models, pages
from roost_admin.auth.hashing import digest, new_secret
from roost_admin.db import models as admin_models
from roost_admin.db.base import utcnow
from roost_admin.services.rows import TERMINAL_WORKFLOW, aware

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate

TOKEN_PATH = "/oauth2/token"
AUTHORIZE_PATH = "/oauth2/authorize"
DEVICE_AUTHORIZATION_PATH = "/oauth2/device_authorization"
DEVICE_PATH = "/oauth2/device"
REVOKE_PATH = "/oauth2/revoke"
JWKS_PATH = "/oauth2/jwks"
METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
PATHS = (
    TOKEN_PATH,
    AUTHORIZE_PATH,
    DEVICE_AUTHORIZATION_PATH,
    DEVICE_PATH,
    REVOKE_PATH,
    JWKS_PATH,
    *METADATA_PATHS,
)
"""Every path of the authorization server (all public: they authenticate their callers themselves)."""

CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
SCOPE = "all"
"""The one scope tokens carry (flyteadmin's: access to the whole API, within the caller's roles)."""
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


class OAuthError(Exception):
    """An RFC 6749 error response."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def metadata(gate: AuthGate) -> dict[str, Any]:
    """The server's RFC 8414 metadata."""
    base = gate.issuer
    return {
        "issuer": gate.issuer,
        "authorization_endpoint": base + AUTHORIZE_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "jwks_uri": base + JWKS_PATH,
        "device_authorization_endpoint": base + DEVICE_AUTHORIZATION_PATH,
        "revocation_endpoint": base + REVOKE_PATH,
        "response_types_supported": ["code"],
        "grant_types_supported": [CLIENT_CREDENTIALS, AUTHORIZATION_CODE, REFRESH_TOKEN, DEVICE_CODE],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": [SCOPE, "offline"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def _expired(moment: datetime.datetime) -> bool:
    return aware(moment) <= utcnow()


def _later(seconds: float) -> datetime.datetime:
    return utcnow() + datetime.timedelta(seconds=seconds)


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _normalize_user_code(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


class AuthorizationServer:
    """The grants, codes and sign-ins of the built-in server."""

    def __init__(self, gate: AuthGate) -> None:
        assert gate.tokens is not None, "the built-in server needs its signing key"
        self.gate = gate
        self.tokens = gate.tokens
        self.settings = gate.settings
        self.public_client = gate.settings.public_client.client_id

    def _begin(self) -> Any:
        return self.gate.db.begin()

    # the token endpoint

    def token(self, form: Mapping[str, str], authorization: str) -> dict[str, Any]:
        """Answer a token request (RFC 6749 section 5.1), or raise OAuthError."""
        grant = form.get("grant_type", "")
        client_id, secret = self._client(form, authorization)
        handlers: dict[str, Callable[[Mapping[str, str], str, str | None], dict[str, Any]]] = {
            CLIENT_CREDENTIALS: self._client_credentials,
            AUTHORIZATION_CODE: self._authorization_code,
            REFRESH_TOKEN: self._refresh_token,
            DEVICE_CODE: self._device_code,
        }
        handler = handlers.get(grant)
        if handler is None:
            raise OAuthError(
                "unsupported_grant_type", f"grant_type must be one of {', '.join(handlers)}, not {grant!r}"
            )
        return handler(form, client_id, secret)

    def _client(self, form: Mapping[str, str], authorization: str) -> tuple[str, str | None]:
        """(client id, secret or None) from HTTP Basic (both parts form-encoded, as flytekit sends them) or
        the form."""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError(
                    "invalid_client", "the Basic authorization header is not valid base64", 401
                ) from None
            client_id, sep, secret = decoded.partition(":")
            if not sep:
                raise OAuthError("invalid_client", "the Basic authorization header must hold id:secret", 401)
            return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)
        client_id = form.get("client_id", "")
        if not client_id:
            raise OAuthError("invalid_client", "the client is not identified (HTTP Basic or client_id)", 401)
        return client_id, form.get("client_secret") or None

    def _public(self, client_id: str, secret: str | None) -> None:
        if client_id != self.public_client:
            raise OAuthError(
                "unauthorized_client",
                f"this grant is for the public client {self.public_client!r}, not {client_id!r}",
            )

    def _client_credentials(
        self, form: Mapping[str, str], client_id: str, secret: str | None
    ) -> dict[str, Any]:
        if secret is None:
            raise OAuthError("invalid_client", f"client {client_id!r} sent no secret", 401)
        executions = self.gate.executions
        execution = executions.execution_of(client_id) if executions is not None else None
        if executions is not None and execution is not None:
            if not executions.check(client_id, secret):
                raise OAuthError("invalid_client", f"wrong secret for client {client_id!r}", 401)
            project, domain, name = execution
            with self.gate.db.session() as session:
                phase = session.scalars(
                    select(admin_models.Execution.phase).where(
                        admin_models.Execution.project == project,
                        admin_models.Execution.domain == domain,
                        admin_models.Execution.name == name,
                    )
                ).first()
            if phase is None or phase in TERMINAL_WORKFLOW:
                raise OAuthError("invalid_client", f"execution {project}/{domain}/{name} is not running", 401)
            token, lifetime = self.tokens.access_token(
                client_id,
                kind="execution",
                client_id=client_id,
                scope=SCOPE,
                extra={"roost_project": project, "roost_domain": domain},
            )
            return _token_response(token, lifetime)
        with self.gate.db.session() as session:
            valid = directory.check_client_secret(session, client_id, secret)
        if not valid:
            raise OAuthError("invalid_client", f"unknown client {client_id!r} or wrong secret", 401)
        token, lifetime = self.tokens.access_token(client_id, kind="client", client_id=client_id, scope=SCOPE)
        return _token_response(token, lifetime)

    def _user_tokens(self, session: Session, username: str, client_id: str, scope: str) -> dict[str, Any]:
        """An access token and a (new) refresh token for a user."""
        user = session.get(models.AuthUser, username)
        if user is None:
            raise OAuthError("invalid_grant", f"user {username!r} no longer exists")
        extra = {
            "preferred_username": username,
            "groups": list(directory.user_groups(session, username)),
            **({"email": user.email} if user.email else {}),
            **({"name": user.name} if user.name else {}),
        }
        token, lifetime = self.tokens.access_token(
            username, kind="user", client_id=client_id, scope=SCOPE, extra=extra
        )
        refresh = new_secret()
        session.add(
            models.RefreshToken(
                token_digest=digest(refresh),
                client_id=client_id,
                subject=username,
                scope=scope,
                expires_at=_later(self.settings.refresh_token_ttl),
            )
        )
        return {**_token_response(token, lifetime), "refresh_token": refresh}

    def _authorization_code(
        self, form: Mapping[str, str], client_id: str, secret: str | None
    ) -> dict[str, Any]:
        self._public(client_id, secret)
        code, verifier = form.get("code", ""), form.get("code_verifier", "")
        if not code or not verifier:
            raise OAuthError("invalid_request", "code and code_verifier are required")
        with self._begin() as session:
            row = session.get(models.AuthorizationCode, digest(code))
            if row is None:
                raise OAuthError("invalid_grant", "the authorization code is unknown or was used already")
            session.delete(row)  # a code is good for one exchange, whatever its outcome
            session.flush()
            if _expired(row.expires_at):
                problem = OAuthError("invalid_grant", "the authorization code has expired")
            elif row.client_id != client_id:
                problem = OAuthError("invalid_grant", "the authorization code was issued to another client")
            elif form.get("redirect_uri", row.redirect_uri) != row.redirect_uri:
                problem = OAuthError("invalid_grant", "redirect_uri differs from the authorization request's")
            elif not hmac.compare_digest(_s256(verifier), row.code_challenge):
                problem = OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
            else:
                return self._user_tokens(session, row.subject, client_id, row.scope)
        raise problem

    def _refresh_token(self, form: Mapping[str, str], client_id: str, secret: str | None) -> dict[str, Any]:
        refresh = form.get("refresh_token", "")
        if not refresh:
            raise OAuthError("invalid_request", "refresh_token is required")
        with self._begin() as session:
            row = session.get(models.RefreshToken, digest(refresh))
            if row is None:
                raise OAuthError("invalid_grant", "the refresh token is unknown, revoked or used already")
            session.delete(row)
            session.flush()
            if _expired(row.expires_at):
                problem = OAuthError("invalid_grant", "the refresh token has expired; log in again")
            elif row.client_id != client_id:
                problem = OAuthError("invalid_grant", "the refresh token was issued to another client")
            else:
                return self._user_tokens(session, row.subject, client_id, row.scope)
        raise problem

    def _device_code(self, form: Mapping[str, str], client_id: str, secret: str | None) -> dict[str, Any]:
        self._public(client_id, secret)
        code = form.get("device_code", "")
        if not code:
            raise OAuthError("invalid_request", "device_code is required")
        with self._begin() as session:
            row = session.get(models.DeviceCode, digest(code))
            if row is None or row.client_id != client_id:
                raise OAuthError("invalid_grant", "the device code is unknown or was used already")
            if _expired(row.expires_at):
                session.delete(row)
                problem = OAuthError("expired_token", "the device code has expired; start the login again")
            elif row.status == "denied":
                session.delete(row)
                problem = OAuthError("access_denied", "the login was denied")
            elif row.status == "pending":
                polled, row.polled_at = row.polled_at, utcnow()
                too_soon = (
                    polled is not None
                    and (utcnow() - aware(polled)).total_seconds() < self.settings.device_poll_interval
                )
                problem = OAuthError(
                    "slow_down" if too_soon else "authorization_pending",
                    "polling faster than the interval" if too_soon else "the login has not been approved yet",
                )
            else:
                session.delete(row)
                return self._user_tokens(session, row.subject, client_id, row.scope)
        raise problem

    # the browser sign-in (authorization code with PKCE)

    def check_authorize(self, params: Mapping[str, str]) -> str | None:
        """An error that cannot go back to the client (unknown client, unacceptable redirect), or None."""
        client_id = params.get("client_id", "")
        if client_id != self.public_client:
            return f"unknown client {client_id!r}: browser logins are for the public client {self.public_client!r}"
        redirect = params.get("redirect_uri", "")
        if not self._redirect_allowed(redirect):
            return f"redirect_uri {redirect!r} is not allowed (only {self.settings.public_client.redirect_uri} or a loopback address)"
        return None

    def _redirect_allowed(self, uri: str) -> bool:
        if uri and uri in (self.settings.public_client.redirect_uri, console_login.callback_url(self.gate)):
            return True
        parts = urllib.parse.urlsplit(uri)
        return parts.scheme == "http" and parts.hostname in _LOOPBACK and not parts.fragment

    def authorize_error(self, params: Mapping[str, str]) -> str | None:
        """An error of the authorization request that goes back to the client's redirect URI."""
        if params.get("response_type") != "code":
            return "response_type must be code"
        if not params.get("code_challenge") or params.get("code_challenge_method", "plain") != "S256":
            return "PKCE is required: send code_challenge with code_challenge_method S256"
        return None

    def sign_in(self, params: Mapping[str, str], username: str, password: str) -> str | None:
        """The redirect URL with a fresh authorization code, or None if the password is wrong."""
        with self._begin() as session:
            if directory.check_password(session, username, password) is None:
                return None
            code = new_secret()
            session.add(
                models.AuthorizationCode(
                    code_digest=digest(code),
                    client_id=params["client_id"],
                    redirect_uri=params["redirect_uri"],
                    code_challenge=params["code_challenge"],
                    scope=params.get("scope", ""),
                    subject=username,
                    expires_at=_later(self.settings.authorization_code_ttl),
                )
            )
        return _with_query(params["redirect_uri"], {"code": code, "state": params.get("state", "")})

    # the device flow

    def device_authorization(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Start a device login (RFC 8628 section 3.2)."""
        client_id = form.get("client_id", "")
        self._public(client_id, None)
        device_code = new_secret()
        user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
        ttl = self.settings.device_code_ttl
        with self._begin() as session:
            session.add(
                models.DeviceCode(
                    device_code_digest=digest(device_code),
                    user_code_digest=digest(user_code),
                    client_id=client_id,
                    scope=form.get("scope", ""),
                    expires_at=_later(ttl),
                )
            )
        shown = f"{user_code[:4]}-{user_code[4:]}"
        verification = self.gate.issuer + DEVICE_PATH
        return {
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": verification,
            "verification_uri_complete": _with_query(verification, {"user_code": shown}),
            "expires_in": int(ttl),
            "interval": self.settings.device_poll_interval,
        }

    def decide_device(self, user_code: str, username: str, password: str, approve: bool) -> str:
        """Approve or deny a device login; returns what happened, or raises OAuthError."""
        with self._begin() as session:
            row = session.scalars(
                select(models.DeviceCode).where(
                    models.DeviceCode.user_code_digest == digest(_normalize_user_code(user_code))
                )
            ).first()
            if row is None or row.status != "pending" or _expired(row.expires_at):
                raise OAuthError("invalid_grant", "that code is unknown, expired or already used")
            if directory.check_password(session, username, password) is None:
                raise OAuthError("access_denied", "wrong username or password", 401)
            row.status = "approved" if approve else "denied"
            row.subject = username
        return "Approved: you can return to your terminal." if approve else "Denied: the login will fail."

    # revocation

    def revoke(self, form: Mapping[str, str]) -> None:
        """Forget a refresh token (an unknown token is not an error, per RFC 7009)."""
        token = form.get("token", "")
        if token:
            with self._begin() as session:
                row = session.get(models.RefreshToken, digest(token))
                if row is not None:
                    session.delete(row)


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urllib.parse.urlsplit(url)
    query = "&".join(part for part in (parts.query, urllib.parse.urlencode(params)) if part)
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _token_response(token: str, lifetime: int) -> dict[str, Any]:
    return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": SCOPE}


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(exc: OAuthError) -> JSONResponse:
    headers = dict(_NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="roost"'
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description}, exc.status, headers=headers
    )


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def routes(gate: AuthGate) -> list[Route]:
    """The HTTP routes of the built-in server (none with an external issuer)."""
    if not gate.builtin:
        return []
    server = AuthorizationServer(gate)

    async def token(request: Request) -> Response:
        form = await _form(request)
        try:
            body = await run_in_threadpool(server.token, form, request.headers.get("authorization", ""))
        except OAuthError as exc:
            return _oauth_error(exc)
        return JSONResponse(body, headers=_NO_STORE)

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params) if request.method == "GET" else await _form(request)
        problem = server.check_authorize(params)
        if problem is not None:
            return HTMLResponse(pages.message("Cannot sign in", problem), 400)
        error = server.authorize_error(params)
        if error is not None:
            back = _with_query(
                params["redirect_uri"],
                {"error": "invalid_request", "error_description": error, "state": params.get("state", "")},
            )
            return RedirectResponse(back, 303)
        hidden = {k: v for k, v in params.items() if k not in ("username", "password")}
        if request.method == "GET":
            return HTMLResponse(pages.sign_in(AUTHORIZE_PATH, hidden, params["client_id"]))
        target = await run_in_threadpool(
            server.sign_in, hidden, params.get("username", ""), params.get("password", "")
        )
        if target is None:
            return HTMLResponse(
                pages.sign_in(AUTHORIZE_PATH, hidden, params["client_id"], "Wrong username or password."), 401
            )
        return RedirectResponse(target, 303)

    async def device_authorization(request: Request) -> Response:
        try:
            body = await run_in_threadpool(server.device_authorization, await _form(request))
        except OAuthError as exc:
            return _oauth_error(exc)
        return JSONResponse(body, headers=_NO_STORE)

    async def device(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(pages.device(DEVICE_PATH, request.query_params.get("user_code", "")))
        form = await _form(request)
        try:
            done = await run_in_threadpool(
                server.decide_device,
                form.get("user_code", ""),
                form.get("username", ""),
                form.get("password", ""),
                form.get("decision", "approve") == "approve",
            )
        except OAuthError as exc:
            return HTMLResponse(
                pages.device(DEVICE_PATH, form.get("user_code", ""), exc.description), exc.status
            )
        return HTMLResponse(pages.device(DEVICE_PATH, done=done))

    async def revoke(request: Request) -> Response:
        await run_in_threadpool(server.revoke, await _form(request))
        return Response(status_code=200, headers=_NO_STORE)

    async def jwks(request: Request) -> Response:
        assert gate.keys is not None
        return JSONResponse(gate.keys.jwks())

    async def well_known(request: Request) -> Response:
        return JSONResponse(metadata(gate))

    return [
        Route(TOKEN_PATH, token, methods=["POST"]),
        Route(AUTHORIZE_PATH, authorize, methods=["GET", "POST"]),
        Route(DEVICE_AUTHORIZATION_PATH, device_authorization, methods=["POST"]),
        Route(DEVICE_PATH, device, methods=["GET", "POST"]),
        Route(REVOKE_PATH, revoke, methods=["POST"]),
        Route(JWKS_PATH, jwks, methods=["GET"]),
        *(Route(path, well_known, methods=["GET"]) for path in METADATA_PATHS),
    ]
