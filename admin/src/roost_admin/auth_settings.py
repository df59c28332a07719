"""Settings of authentication, authorization and TLS (the ``auth`` and ``tls`` sections of the admin's settings).

Off by default: ``roost start`` on 127.0.0.1 serves anyone who can reach the port. ``auth: {enabled: true}``
(or ``ROOST_AUTH__ENABLED=true``, or ``roost start --auth``) turns it on with the built-in authorization
server; ``auth.external`` names an OpenID Connect issuer whose tokens are accepted instead.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExternalIssuer(_Section):
    """An OpenID Connect issuer (Okta, Keycloak, Dex, ...) whose access tokens the admin accepts."""

    issuer: str
    """The issuer URL; tokens must carry it as ``iss``, and its discovery document is read from below it."""
    audience: list[str] = Field(min_length=1)
    """Accepted ``aud`` values (a token needs one of them)."""
    metadata_url: str = ""
    """The discovery document; empty means ``{issuer}/.well-known/openid-configuration``, falling back to
    ``{issuer}/.well-known/oauth-authorization-server``."""
    jwks_uri: str = ""
    """Where the signing keys are; empty means the discovery document's ``jwks_uri``."""
    ca_file: str = ""
    """A CA bundle for the issuer's HTTPS (empty: the system's)."""
    algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
    )
    """Signature algorithms accepted (never ``none`` nor symmetric ones)."""


class PublicClient(_Section):
    """What ``GetPublicClientConfig`` tells flytekit and the ``roost`` CLI about logging people in."""

    client_id: str = "roost"
    """The public (secret-less) client people log in through: PKCE in a browser, or the device flow."""
    redirect_uri: str = "http://localhost:53593/callback"
    """flytekit's PKCE callback (the built-in server accepts any loopback port for this client)."""
    scopes: list[str] = Field(default_factory=lambda: ["all", "offline"])
    audience: str = ""
    """Sent by clients as ``audience`` on token requests (some issuers need it)."""


class Claims(_Section):
    """Which token claims name the caller, its groups and its roles."""

    username: str = "sub"
    """The claim role bindings of users are matched against (``sub``, ``email``, ``preferred_username``)."""
    groups: str = "groups"
    """A claim listing the caller's groups; role bindings of those groups apply."""
    roles: str = ""
    """A claim listing roles directly, each ``ROLE`` (every project) or ``PROJECT:ROLE``; empty: not used."""


class AuthSettings(_Section):
    """The ``auth`` section."""

    enabled: bool = False
    """Require a bearer token on every RPC and HTTP route except the public ones (metadata, token endpoint,
    health, signed data URLs)."""
    authorization_metadata_key: str = "authorization"
    """The gRPC metadata key clients send the token in (``flyte-authorization`` behind some proxies);
    ``authorization`` is always accepted too."""
    external: ExternalIssuer | None = None
    """Validate tokens of this issuer instead of running the built-in authorization server."""
    issuer: str = ""
    """The built-in server's issuer; empty means the admin's public HTTP URL."""
    audience: str = ""
    """The ``aud`` of the built-in server's tokens; empty means the issuer."""
    access_token_ttl: float = 1800.0
    """Seconds an access token lasts."""
    refresh_token_ttl: float = 7 * 24 * 3600.0
    """Seconds a refresh token lasts (each use replaces it with a new one)."""
    authorization_code_ttl: float = 300.0
    device_code_ttl: float = 600.0
    device_poll_interval: int = 5
    """Seconds a device-flow client waits between polls."""
    clock_skew: float = 60.0
    """Seconds of clock difference tolerated on ``exp``, ``nbf`` and ``iat``."""
    required_scope: str = "all"
    """A scope every token must carry (flyteadmin's ``all``); tokens of people with no scope at all count as
    having it, as in flyteadmin. Empty: no scope is required."""
    public_client: PublicClient = Field(default_factory=PublicClient)
    claims: Claims = Field(default_factory=Claims)
    execution_credentials: bool = True
    """Give task processes a client credential of their own execution (launcher on its project and domain,
    valid while the execution runs), as ``FLYTE_CREDENTIALS_*`` and ``ROOST_CLIENT_*`` variables. Needs the
    built-in authorization server."""
    keys_dir: Path | None = None
    """Where the token signing key and the execution-credential key live; empty means ``{data_dir}/auth``.
    ``roost engine`` processes on other hosts need the same keys."""


class TLSSettings(_Section):
    """The ``tls`` section: serve gRPC and HTTP over TLS with these files."""

    cert_file: Path | None = None
    """The server certificate (PEM, chain allowed)."""
    key_file: Path | None = None
    """Its private key (PEM)."""

    @model_validator(mode="after")
    def _both_or_neither(self) -> TLSSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls needs both cert_file and key_file, or neither")
        for path in (self.cert_file, self.key_file):
            if path is not None and not path.is_file():
                raise ValueError(f"tls: {path} is not a readable file")
        return self

    @property
    def enabled(self) -> bool:
        """Whether TLS is configured."""
        return self.cert_file is not None
