"""The admin's auth, assembled: token verification, the role check, the built-in authorization server's parts,
used by the gRPC interceptor (:mod:`~roost_admin.auth.interceptor`) and the HTTP policy
(:mod:`~roost_admin.auth.http_policy`) that ``AdminApp`` installs when ``auth.enabled`` is set.

Authorization is one table keyed by operation (:data:`roost_admin.auth.rules.RULES`: flyteidl's RPC names, which
flyteadmin's HTTP gateway maps its ``/api/v1`` routes onto too), consulted at the edge of each transport before a
service is called: the gRPC interceptor, and any HTTP route serving an operation through the same rule and
the same request message. The services themselves take no principal, so no transport can reach them unchecked
except through its edge."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roost_admin.auth import directory
from roost_admin.auth.execution_credentials import ExecutionCredentials
from roost_admin.auth.keys import SigningKeys, execution_key
from roost_admin.auth.roles import Grants, Principal, Role
from roost_admin.auth.rules import RULES, Rule, scopes
from roost_admin.auth.tokens import TokenError, TokenIssuer, TokenVerifier
from roost_admin.errors import PermissionDenied

if TYPE_CHECKING:
    from roost_admin.config import Settings
    from roost_admin.db.base import Database

log = logging.getLogger(__name__)


def keys_folder(settings: Settings) -> Path:
    """Where the auth keys live."""
    return settings.auth.keys_dir or settings.data_dir / "auth"


def execution_credentials(settings: Settings) -> ExecutionCredentials | None:
    """The execution credentials task processes get, or None when auth is off, an external issuer is used, or
    they are turned off."""
    auth = settings.auth
    if not auth.enabled or auth.external is not None or not auth.execution_credentials:
        return None
    return ExecutionCredentials(execution_key(keys_folder(settings)))


class AuthGate:
    """Authentication and authorization of one running admin."""

    def __init__(self, settings: Settings, db: Database, http_url: str) -> None:
        self.db = db
        self.http_url = http_url
        """The admin's HTTP endpoint as clients reach it (where the built-in authorization server is)."""
        self.storage_prefix = settings.storage_prefix
        self.settings = settings.auth
        self.issuer = (self.settings.issuer or http_url).rstrip("/")
        self.audience = self.settings.audience or self.issuer
        self.builtin = self.settings.external is None
        self.keys = SigningKeys(keys_folder(settings)) if self.builtin else None
        self.tokens = (
            TokenIssuer(self.keys, self.issuer, self.audience, self.settings.access_token_ttl)
            if self.keys is not None
            else None
        )
        self.verifier = TokenVerifier(
            self.settings, keys=self.keys, issuer=self.issuer, audience=self.audience
        )
        self.executions = execution_credentials(settings)
        self._metadata_keys = {"authorization", self.settings.authorization_metadata_key.lower()}

    # authentication

    def bearer_token(self, metadata: Iterable[tuple[str, Any]]) -> str:
        """The bearer token of a request's metadata (or headers); TokenError if there is none."""
        for key, value in metadata:
            if key.lower() in self._metadata_keys and isinstance(value, str):
                scheme, _, token = value.strip().partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    return token.strip()
        keys = " or ".join(repr(k) for k in sorted(self._metadata_keys))
        raise TokenError(
            f"authentication required: send 'Bearer <access token>' in the {keys} metadata "
            "(`roost login`, or flytekit's authType ClientSecret, Pkce or DeviceFlow)"
        )

    def authenticate(self, metadata: Iterable[tuple[str, Any]]) -> Principal:
        """The principal a request's bearer token names."""
        return self.verifier.verify(self.bearer_token(metadata))

    # authorization

    def grants(self, principal: Principal) -> Grants:
        """The roles ``principal`` holds now (bindings are read per request, so a revoke takes effect at once)."""
        if principal.kind == "execution":
            assert principal.restriction is not None
            return Grants.of(principal, [(principal.restriction[0], Role.LAUNCHER)])
        with self.db.session() as session:
            groups = list(principal.groups)
            if self.builtin and principal.kind == "user":
                groups = [*groups, *directory.user_groups(session, principal.name)]
            return Grants.of(principal, directory.bindings_of(session, principal, groups))

    def authorize(self, principal: Principal, operation: str, request: Any) -> Grants:
        """What ``principal`` holds, once the rule of ``operation`` (a key of
        :data:`~roost_admin.auth.rules.RULES`) lets it make ``request``; PermissionDenied naming the role and
        project it lacks otherwise. Every transport calls this before the service: the gRPC interceptor, and
        an HTTP route with the operation it serves."""
        rule = RULES.get(operation)
        if rule is None:
            raise PermissionDenied(f"{operation} has no authorization rule, so nobody may call it")
        grants = self.grants(principal)
        refused = self.denial(grants, rule, request, operation.rsplit("/", 1)[-1])
        if refused is not None:
            raise PermissionDenied(refused)
        return grants

    def denial(self, grants: Grants, rule: Rule, request: Any, method: str) -> str | None:
        """Why the rule refuses the request to ``grants``' principal (None if it may proceed)."""
        if rule.role is None:
            return None
        for project, domain in scopes(rule, request, self.storage_prefix):
            if not grants.allows(rule.role, project, domain):
                where = f"project {project!r}" if project else "every project (the request names none)"
                if project and domain and grants.principal.restriction is not None:
                    where = f"project {project!r}, domain {domain!r}"
                return f"{grants.principal.describe()} may not call {method}: it needs the {rule.role.label} role on {where}"
        return None

    def announce(self) -> None:
        """Log how auth is set up, and warn when nobody could administer this admin."""
        if not self.builtin:
            assert self.settings.external is not None
            log.info("auth on: tokens of %s are accepted", self.settings.external.issuer)
        else:
            log.info("auth on: built-in authorization server at %s", self.issuer)
        with self.db.session() as session:
            if not directory.has_admin(session):
                log.warning(
                    "auth is on but nobody holds the admin role on every project; create one with "
                    "`roost admin clients create NAME --role admin` or `roost admin users create NAME --role admin`"
                )
