"""Signing in to the console in a browser when auth is on: a cookie session over the authorization code flow.

A browser sends no bearer token, so a console page without a session redirects to ``/console/login``, which
sends the browser to the authorization endpoint of the configured issuer (the built-in server's sign-in form,
or the external OpenID Connect issuer's) as the public client, with PKCE. The issuer redirects back to
``/console/login/callback``; the admin exchanges the code for an access token and keeps it in a cookie:
``HttpOnly`` (page scripts cannot read it), ``SameSite=Lax`` (other sites' forms do not carry it), ``Secure``
under TLS, and lasting as long as the token. The HTTP policy accepts the cookie where it accepts a bearer
token, and refuses a cookie-authenticated request that changes something unless the browser says it comes
from the admin's own pages (``Origin``).

With an external issuer, its client for the public client id must allow the redirect URI
``{admin URL}/console/login/callback``; the built-in server allows it for its public client.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roost_admin.auth.tokens import IssuerUnavailable

if TYPE_CHECKING:
    from roost_admin.auth.gate import AuthGate

LOGIN_PATH = "/console/login"
CALLBACK_PATH = "/console/login/callback"
LOGOUT_PATH = "/console/logout"
PATHS = (LOGIN_PATH, CALLBACK_PATH, LOGOUT_PATH)
"""The console's sign-in paths (public: they are how a browser gets its credential)."""
SESSION_COOKIE = "roost_session"
"""The cookie holding the signed-in browser's access token."""
LOGIN_COOKIE = "roost_login"
"""The cookie holding a sign-in in progress: its state, its PKCE verifier and the page to return to."""
LOGIN_SECONDS = 600
"""How long a browser has to sign in at the issuer."""
_TIMEOUT = 10.0


class LoginError(Exception):
    """A sign-in that cannot finish, with a message for the person signing in."""


@dataclass(frozen=True)
class Started:
    """A sign-in begun: where the browser goes, and the cookie that remembers the sign-in."""

    redirect: str
    cookie: str


@dataclass(frozen=True)
class Session:
    """A finished sign-in: the access token, how long it lasts, and the console page to return to."""

    access_token: str
    seconds: int
    next: str


def callback_url(gate: AuthGate) -> str:
    """The redirect URI of console sign-ins: on the admin's HTTP endpoint as clients reach it (never taken from
    a request's Host header, so no one can have codes sent elsewhere)."""
    return gate.http_url.rstrip("/") + CALLBACK_PATH


def safe_next(path: str) -> str:
    """``path`` if it is a page of the console, else the console's front page (no redirects off the site)."""
    parts = urllib.parse.urlsplit(path)
    if parts.scheme or parts.netloc or path.startswith("//") or "\\" in path:
        return "/console"
    in_console = parts.path == "/console" or parts.path.startswith("/console/")
    return path if in_console and not parts.path.startswith(LOGIN_PATH) else "/console"


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@dataclass(frozen=True)
class BuiltIn:
    """The built-in authorization server as the sign-in uses it: where its sign-in page is, and its token
    endpoint called in-process (raising :class:`LoginError` for a refused request)."""

    authorize_url: str
    exchange: Callable[[dict[str, str]], dict[str, Any]]


class ConsoleLogin:
    """The console's sign-in against the issuer ``gate`` is configured with: the built-in server ``builtin``, or
    the external issuer (``builtin`` None)."""

    def __init__(self, gate: AuthGate, builtin: BuiltIn | None) -> None:
        self.gate = gate
        self.builtin = builtin
        self.client_id = gate.settings.public_client.client_id

    def _endpoints(self) -> tuple[str, str]:
        """The external issuer's authorization and token endpoints."""
        external = self.gate.verifier.external
        assert external is not None
        document = external.metadata()
        authorize, token = document.get("authorization_endpoint"), document.get("token_endpoint")
        if not isinstance(authorize, str) or not isinstance(token, str) or not authorize or not token:
            raise IssuerUnavailable(
                f"the discovery document of {external.config.issuer} names no authorization_endpoint and "
                "token_endpoint, so the console cannot sign people in"
            )
        return authorize, token

    def start(self, next_page: str) -> Started:
        """Begin a sign-in that returns to ``next_page``."""
        authorize = self.builtin.authorize_url if self.builtin is not None else self._endpoints()[0]
        state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": callback_url(self.gate),
            "scope": " ".join(self.gate.settings.public_client.scopes),
            "state": state,
            "code_challenge": _s256(verifier),
            "code_challenge_method": "S256",
        }
        if self.gate.settings.public_client.audience:
            query["audience"] = self.gate.settings.public_client.audience
        separator = "&" if urllib.parse.urlsplit(authorize).query else "?"
        remembered = base64.urlsafe_b64encode(json.dumps([state, verifier, safe_next(next_page)]).encode())
        return Started(authorize + separator + urllib.parse.urlencode(query), remembered.decode())

    def finish(self, params: dict[str, str], cookie: str) -> Session:
        """Finish the sign-in the issuer redirected back for; LoginError says why it cannot."""
        if params.get("error"):
            raise LoginError(f"the sign-in was refused: {params.get('error_description') or params['error']}")
        try:
            state, verifier, next_page = json.loads(base64.urlsafe_b64decode(cookie.encode()))
        except (ValueError, TypeError):
            raise LoginError(
                "no sign-in was started in this browser (or it took too long); sign in again"
            ) from None
        if not secrets.compare_digest(str(params.get("state", "")), str(state)):
            raise LoginError("the sign-in's state does not match the one this browser started; sign in again")
        code = params.get("code", "")
        if not code:
            raise LoginError("the issuer sent no authorization code")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": str(verifier),
            "redirect_uri": callback_url(self.gate),
            "client_id": self.client_id,
        }
        body = self._exchange(form)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise LoginError("the issuer's token response holds no access token")
        seconds = body.get("expires_in")
        lifetime = int(seconds) if isinstance(seconds, int | float) and seconds > 0 else 3600
        self.gate.verifier.verify(token)  # a token the API would refuse makes no session
        return Session(token, lifetime, safe_next(str(next_page)))

    def _exchange(self, form: dict[str, str]) -> dict[str, Any]:
        """The token response for ``form``: the built-in server answers in-process, an external issuer over
        HTTP."""
        if self.builtin is not None:
            return self.builtin.exchange(form)
        _, endpoint = self._endpoints()
        external = self.gate.verifier.external
        assert external is not None
        context = (
            ssl.create_default_context(cafile=external.config.ca_file or None)
            if endpoint.startswith("https:")
            else None
        )
        request = urllib.request.Request(
            endpoint,
            data=urllib.parse.urlencode(form).encode(),
            headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT, context=context) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            try:
                error = json.load(exc)
            except ValueError:
                error = {}
            described = error.get("error_description") or error.get("error") or exc.reason
            raise LoginError(f"{external.config.issuer} refused the sign-in: {described}") from None
        except (OSError, ValueError) as exc:
            raise IssuerUnavailable(
                f"cannot reach the token endpoint of {external.config.issuer}: {exc}"
            ) from None
        if not isinstance(body, dict):
            raise LoginError(f"{external.config.issuer} answered the token request with no JSON object")
        return body
