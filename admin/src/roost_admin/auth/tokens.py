"""Access tokens: the built-in server mints them (RS256 JWTs), and every request's token is verified here,
whether the built-in server or an external OpenID Connect issuer made it.

Verification checks the signature (keys by ``kid``; for an external issuer from its JWKS, fetched through its
discovery document and cached), ``iss``, ``aud``, ``exp``, ``nbf`` and ``iat`` with the configured clock skew,
and the required scope. Messages say what is wrong with a token and never quote it.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.request
import uuid
from collections.abc import Mapping
from typing import Any

import jwt

from roost_admin.auth.keys import ALGORITHM, SigningKeys
from roost_admin.auth.roles import Principal, parse_claimed_roles
from roost_admin.auth_settings import AuthSettings, ExternalIssuer

KIND_CLAIM = "roost_kind"
"""The kind of principal a built-in token is for: ``user``, ``client`` or ``execution``."""
PROJECT_CLAIM = "roost_project"
DOMAIN_CLAIM = "roost_domain"
"""The project and domain an execution credential's token is confined to."""
_DISCOVERY_TIMEOUT = 10.0


class TokenError(Exception):
    """A token was missing or not acceptable; the message is safe to send to the caller."""


class IssuerUnavailable(Exception):
    """The external issuer's discovery document or keys could not be fetched."""


class TokenIssuer:
    """Mints the built-in server's access tokens."""

    def __init__(self, keys: SigningKeys, issuer: str, audience: str, ttl: float) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl

    def access_token(
        self,
        subject: str,
        *,
        kind: str,
        client_id: str,
        scope: str,
        ttl: float | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[str, int]:
        """A signed access token and its lifetime in seconds."""
        now = int(time.time())
        lifetime = int(self.ttl if ttl is None else min(ttl, self.ttl))
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "client_id": client_id,
            "scope": scope,
            KIND_CLAIM: kind,
            **(extra or {}),
        }
        return self.keys.sign(claims), lifetime


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """``scope`` (space-separated, RFC 9068) or ``scp`` (a list, as Okta and Azure write it)."""
    value = claims.get("scope", claims.get("scp", ""))
    return frozenset(value.split() if isinstance(value, str) else _strings(value))


def _decode(
    token: str, key: Any, algorithms: list[str], issuer: str, audience: list[str], leeway: float
) -> Any:
    try:
        return jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("the bearer token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("the bearer token is not valid yet (nbf or iat is in the future)") from None
    except jwt.InvalidAudienceError:
        raise TokenError(
            f"the bearer token is not meant for this service (audience must be one of {audience})"
        ) from None
    except jwt.InvalidIssuerError:
        raise TokenError(f"the bearer token was not issued by {issuer}") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"the bearer token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidSignatureError:
        raise TokenError("the bearer token's signature does not verify") from None
    except jwt.InvalidAlgorithmError:
        raise TokenError(
            f"the bearer token is not signed with an accepted algorithm ({', '.join(algorithms)})"
        ) from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"the bearer token is not a valid JWT ({type(exc).__name__})") from None


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("the bearer token is not a JWT") from None


class TokenVerifier:
    """Turns a bearer token into a :class:`Principal`, or raises :class:`TokenError`."""

    def __init__(
        self, settings: AuthSettings, *, keys: SigningKeys | None, issuer: str, audience: str
    ) -> None:
        self.settings = settings
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self.external = ExternalKeys(settings.external) if settings.external is not None else None

    def verify(self, token: str) -> Principal:
        """The principal ``token`` names, after every check."""
        header = _header(token)
        leeway = self.settings.clock_skew
        if self.external is not None:
            external = self.external.config
            key = self.external.key(str(header.get("kid", "")))
            claims = _decode(token, key, external.algorithms, external.issuer, external.audience, leeway)
            principal = self._external_principal(claims)
        else:
            assert self._keys is not None
            key = self._keys.public_key(str(header.get("kid", "")))
            if key is None:
                raise TokenError("the bearer token is signed with a key this server does not know")
            claims = _decode(token, key, [ALGORITHM], self._issuer, [self._audience], leeway)
            principal = self._builtin_principal(claims)
        required = self.settings.required_scope
        # As flyteadmin: a person's token that carries no scope at all counts as having every scope.
        unscoped_user = principal.kind == "user" and not principal.scopes
        if required and required not in principal.scopes and not unscoped_user:
            raise TokenError(f"the bearer token lacks the {required!r} scope")
        return principal

    def _builtin_principal(self, claims: Mapping[str, Any]) -> Principal:
        kind = str(claims.get(KIND_CLAIM, ""))
        if kind not in ("user", "client", "execution"):
            raise TokenError("the bearer token does not say what kind of caller it is for")
        restriction = None
        if kind == "execution":
            restriction = (str(claims.get(PROJECT_CLAIM, "")), str(claims.get(DOMAIN_CLAIM, "")))
        return Principal(
            kind=kind,
            name=str(claims["sub"]),
            subject=str(claims["sub"]),
            client_id=str(claims.get("client_id", "")),
            groups=_strings(claims.get("groups")),
            scopes=_scopes(claims),
            restriction=restriction,
            claims=dict(claims),
        )

    def _external_principal(self, claims: Mapping[str, Any]) -> Principal:
        names = self.settings.claims
        subject = str(claims["sub"])
        client_id = str(claims.get("client_id") or claims.get("azp") or claims.get("cid") or "")
        is_client = bool(client_id) and subject == client_id
        name = client_id if is_client else str(claims.get(names.username) or subject)
        return Principal(
            kind="client" if is_client else "user",
            name=name,
            subject=subject,
            client_id=client_id,
            groups=_strings(claims.get(names.groups)) if names.groups else (),
            scopes=_scopes(claims),
            claimed_roles=parse_claimed_roles(_strings(claims.get(names.roles))) if names.roles else (),
            claims=dict(claims),
        )


def fetch_json(url: str, ca_file: str = "") -> Any:
    """GET a JSON document (discovery, JWKS)."""
    context = ssl.create_default_context(cafile=ca_file or None) if url.startswith("https:") else None
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=_DISCOVERY_TIMEOUT, context=context) as response:
        return json.load(response)


class ExternalKeys:
    """An external issuer's discovery document and signing keys, fetched on first use and cached; an unknown
    key id fetches the keys again (the issuer rotated them), at most every ``REFETCH_AFTER`` seconds."""

    REFETCH_AFTER = 10.0
    """Seconds between fetches of the keys on account of an unknown key id (a flood of forged key ids must
    not become a flood of requests to the issuer)."""

    def __init__(self, config: ExternalIssuer) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0

    def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document."""
        with self._lock:
            return self._metadata_unlocked()

    def _discover(self) -> dict[str, Any]:
        base = self.config.issuer.rstrip("/")
        urls = (
            [self.config.metadata_url]
            if self.config.metadata_url
            else [
                f"{base}/.well-known/openid-configuration",
                f"{base}/.well-known/oauth-authorization-server",
            ]
        )
        failures = []
        for url in urls:
            try:
                document = fetch_json(url, self.config.ca_file)
            except (OSError, ValueError) as exc:
                failures.append(f"{url}: {exc}")
                continue
            if isinstance(document, dict):
                return document
            failures.append(f"{url}: not a JSON object")
        raise IssuerUnavailable(
            f"cannot read the discovery document of {self.config.issuer}: {'; '.join(failures)}"
        )

    def key(self, kid: str) -> Any:
        """The public key ``kid`` names."""
        with self._lock:
            stale = time.monotonic() - self._fetched_at > self.REFETCH_AFTER
            if kid not in self._keys and (stale or not self._keys):
                self._keys = self._fetch_keys()
                self._fetched_at = time.monotonic()
            found = self._keys.get(kid)
            if found is None and not kid and len(self._keys) == 1:
                found = next(iter(self._keys.values()))
        if found is None:
            raise TokenError(f"the bearer token is signed with a key {self.config.issuer} does not publish")
        return found

    def _fetch_keys(self) -> dict[str, Any]:
        uri = self.config.jwks_uri
        if not uri:
            uri = str(self._metadata_unlocked().get("jwks_uri", ""))
            if not uri:
                raise IssuerUnavailable(f"the discovery document of {self.config.issuer} names no jwks_uri")
        try:
            document = fetch_json(uri, self.config.ca_file)
            key_set = jwt.PyJWKSet.from_dict(document)
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            raise IssuerUnavailable(
                f"cannot read the signing keys of {self.config.issuer} at {uri}: {exc}"
            ) from None
        return {str(key.key_id or ""): key.key for key in key_set.keys}

    def _metadata_unlocked(self) -> dict[str, Any]:
        if self._metadata is None:
            self._metadata = self._discover()
        return self._metadata
