"""Logging in to an admin that requires tokens, keeping the tokens, and sending them on every call.

The admin's AuthMetadataService says where its authorization server is (as for flytekit). Ways to get a token:

- ``roost login`` (device flow: open a URL anywhere and approve a code), ``roost login --browser``
  (authorization code with PKCE; the browser comes back to a loopback port), or ``roost login --client-id``
  with a secret (client credentials, for CI);
- the ``ROOST_CLIENT_ID`` / ``ROOST_CLIENT_SECRET`` variables (client credentials on demand; task processes get
  them from the admin as their execution's credential).

Tokens are kept in ``$XDG_CONFIG_HOME/roost/tokens/<endpoint>.json`` (folder 0700, file 0600), refreshed with
the refresh token when they expire, and removed by ``roost logout``. Tokens and secrets never appear in
messages.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import re
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import webbrowser
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc

from roost.errors import RemoteError
from roost.remote.config import ClientConfig, config_path

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_EXPIRY_MARGIN = 30.0
"""Seconds before its expiry a token is treated as expired (so it does not expire in flight)."""
_HTTP_TIMEOUT = 30.0


class LoginError(RemoteError):
    """A login or token refresh failed; the message says why (never quoting a token or secret)."""


@dataclass(frozen=True)
class AuthMetadata:
    """Where the admin's authorization server is, and how the admin wants tokens sent."""

    token_endpoint: str
    authorization_endpoint: str = ""
    device_authorization_endpoint: str = ""
    revocation_endpoint: str = ""
    client_id: str = ""
    redirect_uri: str = ""
    scopes: tuple[str, ...] = ()
    audience: str = ""
    header_key: str = "authorization"

    @classmethod
    def fetch(cls, channel: grpc.Channel, endpoint: str, ca_file: str = "") -> AuthMetadata:
        """Ask the admin (AuthMetadataService, which needs no token)."""
        from flyteidl.service import auth_pb2, auth_pb2_grpc

        stub = auth_pb2_grpc.AuthMetadataServiceStub(channel)
        try:
            client = stub.GetPublicClientConfig(auth_pb2.PublicClientAuthConfigRequest(), timeout=30)
            metadata = stub.GetOAuth2Metadata(auth_pb2.OAuth2MetadataRequest(), timeout=30)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                raise LoginError(
                    f"the admin at {endpoint} does not use authentication; no login is needed"
                ) from None
            raise LoginError(
                f"cannot read the auth settings of {endpoint}: {exc.code().name}: {exc.details()}"
            ) from None
        revocation = _revocation_endpoint(metadata.issuer, ca_file) if metadata.issuer else ""
        return cls(
            token_endpoint=metadata.token_endpoint,
            authorization_endpoint=metadata.authorization_endpoint,
            device_authorization_endpoint=metadata.device_authorization_endpoint,
            revocation_endpoint=revocation,
            client_id=client.client_id,
            redirect_uri=client.redirect_uri,
            scopes=tuple(client.scopes),
            audience=client.audience,
            header_key=client.authorization_metadata_key or "authorization",
        )


def _revocation_endpoint(issuer: str, ca_file: str) -> str:
    """The issuer's RFC 7009 revocation endpoint, from its RFC 8414 metadata (empty if it names none)."""
    url = issuer.rstrip("/") + "/.well-known/oauth-authorization-server"
    try:
        with urllib.request.urlopen(
            url, timeout=_HTTP_TIMEOUT, context=_ssl_context(url, ca_file)
        ) as response:
            return str(json.load(response).get("revocation_endpoint", ""))
    except (OSError, ValueError):
        return ""


@dataclass
class Tokens:
    """What a login leaves: an access token, maybe a refresh token, and how to renew them."""

    access_token: str
    expires_at: float
    token_endpoint: str
    client_id: str = ""
    refresh_token: str = ""
    header_key: str = "authorization"
    revocation_endpoint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def expired(self) -> bool:
        """Whether the access token is (about to be) no longer valid."""
        return time.time() >= self.expires_at - _EXPIRY_MARGIN


def token_path(endpoint: str) -> Path:
    """Where the tokens for ``endpoint`` are kept (beside the client config)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", endpoint.removeprefix("dns:///")).strip("_") or "default"
    return config_path().parent / "tokens" / f"{name}.json"


class TokenStore:
    """The tokens of one endpoint in an owner-only file."""

    def __init__(self, endpoint: str) -> None:
        self.path = token_path(endpoint)

    def load(self) -> Tokens | None:
        """The saved tokens (None if there are none or the file is unreadable)."""
        try:
            data = json.loads(self.path.read_text())
            return Tokens(**data)
        except (OSError, ValueError, TypeError):
            return None

    def save(self, tokens: Tokens) -> None:
        """Write the tokens (0600, atomically)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path.parent.chmod(0o700)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as stream:
            json.dump(asdict(tokens), stream)
        os.replace(temporary, self.path)

    def delete(self) -> bool:
        """Remove the tokens; False if there were none."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


def _ssl_context(url: str, ca_file: str) -> ssl.SSLContext | None:
    if not url.startswith("https:"):
        return None
    return ssl.create_default_context(cafile=ca_file or None)


def post_form(
    url: str, form: dict[str, str], *, basic: tuple[str, str] | None = None, ca_file: str = ""
) -> dict[str, Any]:
    """POST a form to an OAuth endpoint; its JSON answer, or LoginError with the server's description."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if basic is not None:
        pair = f"{urllib.parse.quote_plus(basic[0])}:{urllib.parse.quote_plus(basic[1])}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    body = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(
            request, timeout=_HTTP_TIMEOUT, context=_ssl_context(url, ca_file)
        ) as response:
            text = response.read().decode() or "{}"
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {}
        error = OAuthFailure(
            str(answer.get("error", "")), str(answer.get("error_description", "")) or text[:200]
        )
        raise error from None
    except OSError as exc:
        raise LoginError(f"cannot reach {url}: {exc}") from None
    result: dict[str, Any] = json.loads(text)
    return result


class OAuthFailure(LoginError):
    """The authorization server answered with an error."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}" if error else description)
        self.error = error


def _tokens(answer: dict[str, Any], metadata: AuthMetadata, client_id: str) -> Tokens:
    if "access_token" not in answer:
        raise LoginError(f"{metadata.token_endpoint} answered without an access token")
    return Tokens(
        access_token=str(answer["access_token"]),
        expires_at=time.time() + float(answer.get("expires_in", 3600)),
        token_endpoint=metadata.token_endpoint,
        client_id=client_id,
        refresh_token=str(answer.get("refresh_token", "")),
        header_key=metadata.header_key,
        revocation_endpoint=metadata.revocation_endpoint,
    )


def _scope(metadata: AuthMetadata) -> dict[str, str]:
    form = {"scope": " ".join(metadata.scopes)} if metadata.scopes else {}
    return {**form, **({"audience": metadata.audience} if metadata.audience else {})}


def client_credentials(metadata: AuthMetadata, client_id: str, secret: str, *, ca_file: str = "") -> Tokens:
    """A token for a client, with its secret (HTTP Basic, as flytekit sends it)."""
    answer = post_form(
        metadata.token_endpoint,
        {
            "grant_type": "client_credentials",
            "scope": "all",
            **({"audience": metadata.audience} if metadata.audience else {}),
        },
        basic=(client_id, secret),
        ca_file=ca_file,
    )
    return _tokens(answer, metadata, client_id)


def refresh(tokens: Tokens, *, ca_file: str = "") -> Tokens:
    """New tokens from the refresh token (the server replaces the refresh token too)."""
    answer = post_form(
        tokens.token_endpoint,
        {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "client_id": tokens.client_id},
        ca_file=ca_file,
    )
    metadata = AuthMetadata(
        token_endpoint=tokens.token_endpoint,
        header_key=tokens.header_key,
        revocation_endpoint=tokens.revocation_endpoint,
    )
    renewed = _tokens(answer, metadata, tokens.client_id)
    renewed.refresh_token = renewed.refresh_token or tokens.refresh_token
    return renewed


def device_login(metadata: AuthMetadata, say: Callable[[str], None], *, ca_file: str = "") -> Tokens:
    """The device flow: show a URL and a code, poll until someone approves it (RFC 8628)."""
    if not metadata.device_authorization_endpoint:
        raise LoginError(
            "the authorization server does not offer the device flow; use `roost login --browser`"
        )
    started = post_form(
        metadata.device_authorization_endpoint,
        {"client_id": metadata.client_id, **_scope(metadata)},
        ca_file=ca_file,
    )
    url = started.get("verification_uri_complete") or started["verification_uri"]
    say(f"To log in, open {url} and approve the code {started['user_code']}.")
    interval = float(started.get("interval", 5))
    deadline = time.monotonic() + float(started.get("expires_in", 600))
    form = {
        "grant_type": DEVICE_CODE_GRANT,
        "device_code": started["device_code"],
        "client_id": metadata.client_id,
    }
    while time.monotonic() < deadline:
        time.sleep(interval)
        try:
            answer = post_form(metadata.token_endpoint, form, ca_file=ca_file)
        except OAuthFailure as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += 5
                continue
            raise
        return _tokens(answer, metadata, metadata.client_id)
    raise LoginError("the code was not approved in time; run `roost login` again")


def browser_login(
    metadata: AuthMetadata,
    say: Callable[[str], None],
    *,
    port: int | None = None,
    open_browser: Callable[[str], bool] | None = None,
    timeout: float = 300.0,
    ca_file: str = "",
) -> Tokens:
    """Authorization code with PKCE: open the sign-in page in a browser, receive the code on a loopback port.

    The callback listens on the public client's redirect URI (flytekit's ``localhost:53593``), or on
    ``port`` (0: any free port, which the built-in server accepts for loopback redirects)."""
    if not metadata.authorization_endpoint:
        raise LoginError(
            "the authorization server does not offer browser logins; use `roost login` (device flow)"
        )
    configured = urllib.parse.urlsplit(metadata.redirect_uri or "http://localhost:53593/callback")
    host = configured.hostname or "localhost"
    path = configured.path or "/callback"
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    state = secrets.token_urlsafe(24)
    received: dict[str, str] = {}
    done = threading.Event()

    class Callback(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path != path:
                self.send_error(404)
                return
            received.update(urllib.parse.parse_qsl(url.query))
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"<p>Logged in to Roost. You can close this window.</p>")
            done.set()

    bind = "127.0.0.1" if host == "localhost" else host
    try:
        server = http.server.HTTPServer((bind, (configured.port or 0) if port is None else port), Callback)
    except OSError as exc:
        raise LoginError(
            f"cannot listen for the login callback on {bind}:{configured.port}: {exc.strerror}"
        ) from None
    redirect_uri = f"http://{host}:{server.server_address[1]}{path}"
    params = {
        "response_type": "code",
        "client_id": metadata.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(metadata.scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **({"audience": metadata.audience} if metadata.audience else {}),
    }
    url = f"{metadata.authorization_endpoint}?{urllib.parse.urlencode(params)}"
    thread = threading.Thread(target=server.serve_forever, name="roost-login-callback", daemon=True)
    thread.start()
    try:
        if not (open_browser or webbrowser.open)(url):
            say(f"Open this URL in a browser to log in: {url}")
        else:
            say("Opened a browser to log in; waiting for it to come back...")
        if not done.wait(timeout):
            raise LoginError(f"the browser did not come back within {timeout:g}s")
    finally:
        server.shutdown()
        server.server_close()
    if received.get("state") != state:
        raise LoginError("the login callback carried another state; try again")
    if "error" in received:
        raise LoginError(f"the login failed: {received['error']}: {received.get('error_description', '')}")
    answer = post_form(
        metadata.token_endpoint,
        {
            "grant_type": "authorization_code",
            "code": received.get("code", ""),
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
            "client_id": metadata.client_id,
        },
        ca_file=ca_file,
    )
    return _tokens(answer, metadata, metadata.client_id)


def revoke(tokens: Tokens, *, ca_file: str = "") -> None:
    """Tell the authorization server to forget the refresh token (best effort)."""
    if tokens.refresh_token and tokens.revocation_endpoint:
        post_form(
            tokens.revocation_endpoint,
            {
                "token": tokens.refresh_token,
                "token_type_hint": "refresh_token",
                "client_id": tokens.client_id,
            },
            ca_file=ca_file,
        )


class Credentials:
    """The token the client sends, renewed as needed: saved tokens (refreshed), else client credentials from
    ``ROOST_CLIENT_ID`` and ``ROOST_CLIENT_SECRET``."""

    def __init__(self, config: ClientConfig, channel: grpc.Channel) -> None:
        self.config = config
        self.channel = channel
        self.store = TokenStore(config.endpoint)
        self._tokens = self.store.load()
        self._lock = threading.Lock()

    def _client_secret(self) -> tuple[str, str] | None:
        client_id, secret = os.environ.get("ROOST_CLIENT_ID", ""), os.environ.get("ROOST_CLIENT_SECRET", "")
        return (client_id, secret) if client_id and secret else None

    def metadata(self) -> tuple[str, str] | None:
        """The (key, value) to send, renewing an expired token first; None if there is no way to get one."""
        with self._lock:
            tokens = self._tokens
            if tokens is None or tokens.expired:
                tokens = self._renew(tokens)
            return None if tokens is None else (tokens.header_key, f"Bearer {tokens.access_token}")

    def invalidate(self) -> bool:
        """The admin refused the token: drop it; True if a new one can be tried."""
        with self._lock:
            if self._tokens is None:
                return self._client_secret() is not None
            self._tokens.expires_at = 0.0
            return bool(self._tokens.refresh_token) or self._client_secret() is not None

    def _renew(self, tokens: Tokens | None) -> Tokens | None:
        renewed: Tokens | None = None
        if tokens is not None and tokens.refresh_token:
            try:
                renewed = refresh(tokens, ca_file=self.config.ca_cert_file)
                self.store.save(renewed)
            except OAuthFailure:
                self.store.delete()
                renewed = None
        if renewed is None:
            pair = self._client_secret()
            if pair is not None:
                metadata = AuthMetadata.fetch(self.channel, self.config.endpoint, self.config.ca_cert_file)
                renewed = client_credentials(metadata, *pair, ca_file=self.config.ca_cert_file)
        self._tokens = renewed
        return renewed


class AuthInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Sends the token on every call; on UNAUTHENTICATED renews it once and tries again."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    def _with_token(self, details: Any) -> Any:
        pair = self.credentials.metadata()
        if pair is None:
            return details
        return _CallDetails(
            details.method,
            details.timeout,
            (*(details.metadata or ()), pair),
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        outcome = continuation(self._with_token(client_call_details), request)
        error = outcome.exception()
        refused = isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.UNAUTHENTICATED
        if refused and self.credentials.invalidate():
            return continuation(self._with_token(client_call_details), request)
        return outcome


class _CallDetails(grpc.ClientCallDetails):
    def __init__(
        self,
        method: str,
        timeout: Any,
        metadata: Any,
        credentials: Any,
        wait_for_ready: Any,
        compression: Any,
    ) -> None:
        self.method = method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression
