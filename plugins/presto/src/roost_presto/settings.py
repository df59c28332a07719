"""The presto handler's settings (``engine.handlers.presto``), and where its credentials come from.

::

    engine:
      handlers:
        presto:
          coordinator: https://trino.example.com:8443
          user: roost
          password: {env: TRINO_PASSWORD}       # or {file: /var/run/secrets/trino/password}
          quotas: {trino: 50}                   # at most 50 queries at once
          write_rate_limit: {qps: 10}           # submissions per second

Every key is optional. Without ``coordinator`` the handler reads ``$ROOST_TRINO_COORDINATOR`` (and
``$ROOST_TRINO_USER``) when a query runs, so a local run (``roost run``) is pointed at a coordinator by the
environment. Credentials are never part of a task, its events or the engine's database: they are read
from the engine's environment or a file when a request is made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from roost_core.remote import RemoteJobSettings
from roost_core.settings import Seconds

__all__ = ["COORDINATOR_ENV", "USER_ENV", "SecretRef", "TrinoSettings"]

COORDINATOR_ENV = "ROOST_TRINO_COORDINATOR"
"""The coordinator's URL when the settings name none."""
USER_ENV = "ROOST_TRINO_USER"
"""The Trino user when the settings name none."""


class SecretRef(BaseModel):
    """Where a secret is read from: an environment variable of the engine (``env``), a file (``file``, e.g. a
    mounted Kubernetes secret; one trailing newline is dropped), or, for tests, the configuration itself
    (``value``). Exactly one of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    """The name of an environment variable holding the secret."""
    file: Path | None = None
    """A file holding the secret."""
    value: SecretStr | None = None
    """The secret itself (kept out of reprs and logs)."""

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        given = [name for name in ("env", "file", "value") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of env, file or value, not {given or 'none'}")
        return self

    def describe(self) -> str:
        """Where the secret comes from, for messages (never the secret)."""
        if self.env is not None:
            return f"environment variable {self.env}"
        if self.file is not None:
            return f"file {self.file}"
        return "the configuration"

    def resolve(self) -> str:
        """Read the secret now; ``LookupError`` naming the source if it is missing."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise LookupError(f"the secret's environment variable {self.env} is not set")
            return value
        if self.file is not None:
            try:
                return self.file.read_text().removesuffix("\n")
            except OSError as exc:
                raise LookupError(f"the secret's file {self.file} cannot be read: {exc.strerror}") from None
        assert self.value is not None
        return self.value.get_secret_value()


class TrinoSettings(RemoteJobSettings):
    """How the presto handler reaches Trino (or Presto) coordinators; the remote-job options (quotas, rate
    limits, ``max_system_failures``) apply too."""

    coordinator: str = ""
    """The coordinator's URL, ``https://host:8443``; empty: ``$ROOST_TRINO_COORDINATOR``."""
    user: str = ""
    """The Trino user queries run as; empty: ``$ROOST_TRINO_USER``, else ``roost``."""
    password: SecretRef | None = None
    """With ``auth: basic`` the password, with ``auth: jwt`` the token; none: no authentication."""
    auth: Literal["basic", "jwt"] = "basic"
    """How the secret is sent: HTTP basic authentication, or a JWT bearer token."""
    allow_insecure_auth: bool = False
    """Send credentials over plain HTTP (the trino client refuses it by default; only for tests)."""
    verify: bool | str = True
    """Check the coordinator's TLS certificate (or the CA bundle file to check it with)."""
    source: str = "roost"
    """``X-Trino-Source`` of every query."""
    client_tags: list[str] = Field(default_factory=list)
    """``X-Trino-Client-Tags`` of every query (resource groups select on them); the attempt's id is added."""
    routing_group_header: str = "X-Trino-Routing-Group"
    """The header that carries a task's ``routing_group`` to a Trino gateway."""
    request_timeout: Seconds = Field(default=30.0, gt=0)
    """Longest wait for one HTTP response from the coordinator."""
    long_poll: Seconds = Field(default=1.0, gt=0, le=10)
    """How long the coordinator may hold one ``nextUri`` request while nothing changes (Trino's ``maxWait``).
    Shorter spreads the status workers over more queries at once, at the cost of more requests."""
    poll_budget: Seconds = Field(default=5.0, gt=0)
    """Longest time one status fetch spends following a query's ``nextUri`` (pages keep coming in the next
    fetch), so that a large result does not hold a status worker."""
    resync_interval: Seconds = Field(default=1.0, gt=0)
    """Seconds between two status fetches of one query (each long-polls the coordinator up to a second)."""
