"""A thread-safe token bucket that never blocks: it says yes, or how long to wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from roost_core.remote.config import RateLimit

__all__ = ["TokenBucket"]


class TokenBucket:
    """Allows ``qps`` calls per second on average and ``burst`` calls at once. Starts full.

    ``clock`` is a monotonic clock in seconds; tests pass one they move by hand.
    """

    def __init__(self, limit: RateLimit, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = limit.qps
        self._capacity = float(limit.burst)
        self._clock = clock
        self._tokens = self._capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    def try_acquire(self) -> bool:
        """Take one token if there is one; False (and nothing taken) otherwise."""
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    def wait_time(self) -> float:
        """Seconds until a token is available; 0 when one is available now."""
        with self._lock:
            self._refill()
            return max(0.0, (1.0 - self._tokens) / self._rate)
