"""A stand-in for an external OpenID Connect issuer (Okta, Keycloak, Dex): discovery documents, a JWKS, a
token endpoint for the client credentials grant, and :meth:`TestIssuer.mint` for tokens of any shape.

It listens on 127.0.0.1 on a port the system picks, in a thread, with a fresh RSA key.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


class TestIssuer:
    """An OpenID Connect issuer for tests; use as a context manager or call :meth:`start` / :meth:`stop`."""

    __test__ = False  # not a pytest test class

    def __init__(self, audience: str = "roost-test", kid: str = "test-key") -> None:
        self.audience = audience
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.clients: dict[str, tuple[str, dict[str, Any]]] = {}
        """Client id → (secret, extra claims) for the client credentials grant."""
        self.token_requests: list[dict[str, str]] = []
        """The token requests received (without secrets)."""
        self.issued_tokens: list[str] = []
        """The access tokens its token endpoint handed out."""
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The issuer URL (``iss``)."""
        assert self._server is not None, "the issuer is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_client(self, client_id: str, secret: str, **claims: Any) -> None:
        """Let ``client_id`` get tokens with ``secret`` (carrying ``claims`` too)."""
        self.clients[client_id] = (secret, claims)

    def mint(
        self,
        subject: str,
        *,
        audience: str | None = None,
        issuer: str | None = None,
        lifetime: float = 600,
        issued_at: float | None = None,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """A signed access token for ``subject`` (defaults: this issuer, its audience, scope ``all``)."""
        now = time.time() if issued_at is None else issued_at
        payload = {
            "iss": self.url if issuer is None else issuer,
            "aud": self.audience if audience is None else audience,
            "sub": subject,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now + lifetime),
            "jti": uuid.uuid4().hex,
            "scope": "all",
            **claims,
        }
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    def metadata(self) -> dict[str, Any]:
        """The discovery document."""
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "scopes_supported": ["all", "openid"],
        }

    def jwks(self) -> dict[str, Any]:
        """The public key set."""
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def _token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        self.token_requests.append({key: value for key, value in form.items() if key != "client_secret"})
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization.lower().startswith("basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = (urllib.parse.unquote_plus(part) for part in decoded.partition(":"))
        known = self.clients.get(client_id)
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if known is None or known[0] != secret:
            return 401, {"error": "invalid_client"}
        token = self.mint(client_id, client_id=client_id, **known[1])
        self.issued_tokens.append(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 600}

    def start(self) -> TestIssuer:
        """Listen (on 127.0.0.1, any free port) in a daemon thread."""
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                documents = {
                    "/.well-known/openid-configuration": issuer.metadata,
                    "/.well-known/oauth-authorization-server": issuer.metadata,
                    "/jwks": issuer.jwks,
                }
                build = documents.get(self.path)
                if build is None:
                    self._json(404, {"error": "not_found"})
                else:
                    self._json(200, build())

            def do_POST(self) -> None:
                if self.path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                self._json(*issuer._token(form, self.headers.get("Authorization", "")))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="test-oidc-issuer", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TestIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
