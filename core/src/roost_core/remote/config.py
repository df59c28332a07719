"""Settings of the remote job machinery: quotas, rate limits, status cache, failure budget.

A remote job handler reads them from its section of the engine configuration (``ctx.config``)::

    quotas: {trino-adhoc: 20}               # at most 20 jobs of this handler hold it at once
    read_rate_limit: {qps: 30, burst: 300}  # status fetches (get)
    write_rate_limit: {qps: 20, burst: 200} # job submissions (create)
    resync_interval: 30                     # seconds between two status fetches of one job
    workers: 10                             # threads fetching statuses
    max_system_failures: 5                  # consecutive failures tolerated before giving up

Every key is optional; unknown keys are an error, except those the plugin declares as its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from roost_core.errors import ConfigurationError

__all__ = ["RateLimit", "RemoteJobConfig"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``qps`` calls per second on average, up to ``burst`` calls at once."""

    qps: float
    burst: int

    def __post_init__(self) -> None:
        if self.qps <= 0:
            raise ConfigurationError(f"rate limit qps must be positive, got {self.qps}")
        if self.burst < 1:
            raise ConfigurationError(f"rate limit burst must be at least 1, got {self.burst}")


DEFAULT_READ_RATE_LIMIT = RateLimit(qps=30.0, burst=300)
DEFAULT_WRITE_RATE_LIMIT = RateLimit(qps=20.0, burst=200)


@dataclass(frozen=True, slots=True)
class RemoteJobConfig:
    """How a remote job handler talks to its remote system. The defaults suit a shared SaaS API."""

    quotas: Mapping[str, int] = field(default_factory=dict)
    """Quota name to the number of units that jobs may hold at once."""
    read_rate_limit: RateLimit = DEFAULT_READ_RATE_LIMIT
    """Limits ``get`` calls made by the status cache."""
    write_rate_limit: RateLimit = DEFAULT_WRITE_RATE_LIMIT
    """Limits ``create`` calls; a refused call is tried again in a later round."""
    resync_interval: float = 30.0
    """Seconds between two status fetches of the same job."""
    workers: int = 10
    """Threads that fetch statuses in the background."""
    max_system_failures: int = 5
    """Consecutive system failures (of ``create``, ``get`` or ``status``) tolerated; one more fails
    the attempt permanently. 0 gives up at the first failure."""

    def __post_init__(self) -> None:
        for name, limit in self.quotas.items():
            if not isinstance(name, str) or not name:
                raise ConfigurationError(f"quota names must be non-empty strings, got {name!r}")
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ConfigurationError(
                    f"quota {name!r} must be a whole number of at least 1, got {limit!r}"
                )
        if self.resync_interval <= 0:
            raise ConfigurationError(
                f"resync_interval must be a positive number of seconds, got {self.resync_interval}"
            )
        if self.workers < 1:
            raise ConfigurationError(f"workers must be at least 1, got {self.workers}")
        if self.max_system_failures < 0:
            raise ConfigurationError(f"max_system_failures must be 0 or more, got {self.max_system_failures}")

    @classmethod
    def from_mapping(
        cls,
        section: Mapping[str, Any],
        *,
        where: str = "remote job handler",
        plugin_keys: Collection[str] = (),
    ) -> RemoteJobConfig:
        """Build the settings from a configuration section; ``where`` names it in errors.

        Keys in ``plugin_keys`` belong to the plugin and are skipped; any other unknown key is an
        error.
        """
        known = {
            "quotas",
            "read_rate_limit",
            "write_rate_limit",
            "resync_interval",
            "workers",
            "max_system_failures",
        }
        unknown = sorted(str(k) for k in section if k not in known and k not in plugin_keys)
        if unknown:
            raise ConfigurationError(
                f"{where}: unknown setting(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(known | set(plugin_keys)))}"
            )
        values: dict[str, Any] = {}
        try:
            if "quotas" in section:
                quotas = section["quotas"]
                if not isinstance(quotas, Mapping):
                    raise ConfigurationError(
                        f"quotas must be a mapping of quota name to limit, got {quotas!r}"
                    )
                values["quotas"] = dict(quotas)
            for key in ("read_rate_limit", "write_rate_limit"):
                if key in section:
                    values[key] = _rate_limit(key, section[key])
            if "resync_interval" in section:
                values["resync_interval"] = _number("resync_interval", section["resync_interval"])
            for key in ("workers", "max_system_failures"):
                if key in section:
                    values[key] = _whole_number(key, section[key])
            return cls(**values)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{where}: {exc}") from None


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{key} must be a number, got {value!r}")
    return float(value)


def _whole_number(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{key} must be a whole number, got {value!r}")
    return value


def _rate_limit(key: str, value: Any) -> RateLimit:
    if not isinstance(value, Mapping) or set(value) - {"qps", "burst"}:
        raise ConfigurationError(f"{key} must be a mapping with 'qps' and 'burst', got {value!r}")
    default = DEFAULT_READ_RATE_LIMIT if key == "read_rate_limit" else DEFAULT_WRITE_RATE_LIMIT
    qps = _number(f"{key}.qps", value["qps"]) if "qps" in value else default.qps
    burst = _whole_number(f"{key}.burst", value["burst"]) if "burst" in value else default.burst
    try:
        return RateLimit(qps, burst)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{key}: {exc}") from None
