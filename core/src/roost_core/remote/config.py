"""Settings of the remote job machinery: quotas, rate limits, status cache, failure budget.

A remote job handler is built with a :class:`RemoteJobSettings` validated from its section of the engine
configuration (``engine.handlers.<name>``)::

    quotas: {trino-adhoc: 20}               # at most 20 jobs of this handler hold it at once
    read_rate_limit: {qps: 30, burst: 300}  # status fetches (get)
    write_rate_limit: {qps: 20, burst: 200} # job submissions (create)
    resync_interval: 30                     # seconds between two status fetches of one job
    workers: 10                             # threads fetching statuses
    max_system_failures: 5                  # consecutive failures tolerated before giving up

Every key is optional and unknown keys are errors. A plugin with settings of its own (a host, a project)
subclasses :class:`RemoteJobSettings` and registers that class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from roost_core.settings import HandlerSettings, Seconds

__all__ = ["RateLimit", "RemoteJobSettings"]


class RateLimit(BaseModel):
    """A token bucket: ``qps`` calls per second on average, up to ``burst`` calls at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    qps: float = Field(gt=0)
    """Calls per second on average."""
    burst: int = Field(ge=1)
    """Calls allowed at once."""


DEFAULT_READ_RATE_LIMIT = RateLimit(qps=30.0, burst=300)
DEFAULT_WRITE_RATE_LIMIT = RateLimit(qps=20.0, burst=200)


class RemoteJobSettings(HandlerSettings):
    """How a remote job handler talks to its remote system. The defaults suit a shared SaaS API."""

    quotas: dict[str, int] = Field(default_factory=dict)
    """Quota name to the number of units that jobs may hold at once (each at least 1)."""
    read_rate_limit: RateLimit = DEFAULT_READ_RATE_LIMIT
    """Limits ``get`` calls made by the status cache."""
    write_rate_limit: RateLimit = DEFAULT_WRITE_RATE_LIMIT
    """Limits ``create`` calls; a refused call is tried again in a later round."""
    resync_interval: Seconds = Field(default=30.0, gt=0)
    """Seconds between two status fetches of the same job."""
    workers: int = Field(default=10, ge=1)
    """Threads that fetch statuses in the background."""
    max_system_failures: int = Field(default=5, ge=0)
    """Consecutive system failures (of ``create``, ``get`` or ``status``) tolerated; one more fails the
    attempt permanently. 0 gives up at the first failure."""

    @field_validator("quotas")
    @classmethod
    def _quotas(cls, quotas: dict[str, int]) -> dict[str, int]:
        for name, limit in quotas.items():
            if not name:
                raise ValueError("quota names must be non-empty strings")
            if limit < 1:
                raise ValueError(f"quota {name!r} must be at least 1")
        return quotas

    @field_validator("read_rate_limit", "write_rate_limit", mode="before")
    @classmethod
    def _rate_limit_defaults(cls, value: Any, info: ValidationInfo) -> Any:
        """A rate limit that names only ``qps`` or ``burst`` keeps the default of the other."""
        default = (
            DEFAULT_READ_RATE_LIMIT if info.field_name == "read_rate_limit" else DEFAULT_WRITE_RATE_LIMIT
        )
        if isinstance(value, Mapping):
            return {**default.model_dump(), **value}
        return value
