"""Resource quotas: named pools of units that remote jobs hold while they run.

A quota caps how many jobs (or how much of something) a remote system is sent at once, e.g. "at most
20 queries on the ad-hoc Trino cluster". A job asks for units of one or more quotas under a token,
the unique id of its task attempt; asking again with the same token is granted without counting
twice, so a handler that is called twice for the same state does not leak units. Units are released
by token.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from roost_core.errors import ConfigurationError

__all__ = ["MemoryResourceManager", "Refusal", "ResourceManager"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an allocation was not granted: the first quota that lacked room."""

    quota: str
    requested: int
    in_use: int
    limit: int

    def describe(self) -> str:
        """A one-line reason for people."""
        return (
            f"waiting for quota {self.quota!r}: {self.in_use} of {self.limit} units in use, "
            f"{self.requested} needed"
        )


class ResourceManager(abc.ABC):
    """Grants and releases units of named quotas. Implementations are thread-safe.

    The in-memory implementation serves one engine process; a shared store (a database, Redis) can
    implement the same methods to cap several engine processes together.
    """

    @abc.abstractmethod
    def set_limit(self, quota: str, limit: int) -> None:
        """Declare a quota; declaring it again with another limit is a configuration error."""

    @abc.abstractmethod
    def allocate(self, token: str, needs: Mapping[str, int]) -> Refusal | None:
        """Grant every unit in ``needs`` to ``token`` at once, or none of them.

        Returns None when granted (or when ``token`` already holds an allocation), else a
        :class:`Refusal`. Asking for an undeclared quota, or for more than a quota's limit, can
        never succeed and raises :class:`ConfigurationError`.
        """

    @abc.abstractmethod
    def restore(self, token: str, needs: Mapping[str, int]) -> None:
        """Record that ``token`` holds ``needs`` even past the limits: the job already runs.

        Used after a restart, when an in-memory manager forgot the holdings of running jobs. Quotas
        that are no longer declared are skipped. A token that already holds an allocation is left
        alone.
        """

    @abc.abstractmethod
    def release(self, token: str) -> None:
        """Give back every unit ``token`` holds; releasing twice is harmless."""

    @abc.abstractmethod
    def in_use(self, quota: str) -> int:
        """Units of ``quota`` held now."""


class MemoryResourceManager(ResourceManager):
    """Quotas kept in this process's memory."""

    def __init__(self, limits: Mapping[str, int] | None = None) -> None:
        self._lock = threading.Lock()
        self._limits: dict[str, int] = {}
        self._used: dict[str, int] = {}
        self._holdings: dict[str, dict[str, int]] = {}
        for quota, limit in (limits or {}).items():
            self.set_limit(quota, limit)

    def set_limit(self, quota: str, limit: int) -> None:
        """Declare a quota of ``limit`` units."""
        if limit < 1:
            raise ConfigurationError(f"quota {quota!r} needs a limit of at least 1, got {limit}")
        with self._lock:
            current = self._limits.get(quota)
            if current is not None and current != limit:
                raise ConfigurationError(
                    f"quota {quota!r} is declared twice, with limits {current} and {limit}"
                )
            self._limits[quota] = limit
            self._used.setdefault(quota, 0)

    def allocate(self, token: str, needs: Mapping[str, int]) -> Refusal | None:
        """Grant all of ``needs`` to ``token``, or refuse naming the first full quota."""
        with self._lock:
            if token in self._holdings:
                return None
            for quota, amount in needs.items():
                limit = self._limits.get(quota)
                if limit is None:
                    declared = ", ".join(repr(q) for q in sorted(self._limits)) or "none"
                    raise ConfigurationError(
                        f"quota {quota!r} is not configured (configured quotas: {declared})"
                    )
                if amount > limit:
                    raise ConfigurationError(
                        f"{amount} units of quota {quota!r} are needed but its limit is {limit}"
                    )
            for quota, amount in needs.items():
                if self._used[quota] + amount > self._limits[quota]:
                    return Refusal(quota, amount, self._used[quota], self._limits[quota])
            self._hold(token, needs)
            return None

    def restore(self, token: str, needs: Mapping[str, int]) -> None:
        """Record ``needs`` as held by ``token``, ignoring limits and undeclared quotas."""
        with self._lock:
            if token not in self._holdings:
                self._hold(token, {q: n for q, n in needs.items() if q in self._limits})

    def _hold(self, token: str, needs: Mapping[str, int]) -> None:
        for quota, amount in needs.items():
            self._used[quota] += amount
        self._holdings[token] = dict(needs)

    def release(self, token: str) -> None:
        """Return the units ``token`` holds."""
        with self._lock:
            for quota, amount in self._holdings.pop(token, {}).items():
                self._used[quota] -= amount

    def in_use(self, quota: str) -> int:
        """Units of ``quota`` held now (0 for an undeclared quota)."""
        with self._lock:
            return self._used.get(quota, 0)
