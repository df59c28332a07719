"""The background status cache: worker threads that keep every tracked remote job's status fresh.

``handle`` never waits on the remote system. It asks the cache to track a job and reads the latest
status the workers fetched. Each job is fetched as soon as it is tracked and then every
``resync_interval``, within the read rate limit; when the fetched status differs from the previous
one, the cache calls the job's ``notify`` so the owning execution is evaluated at once.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roost_core.remote.plugin import JobMeta, UserError
from roost_core.remote.ratelimit import TokenBucket

__all__ = ["CachedStatus", "StatusCache"]

log = logging.getLogger(__name__)

_MIN_WAIT = 0.001
"""Shortest pause while waiting for a read token, so a rounding error cannot make a worker spin."""


@dataclass(frozen=True, slots=True)
class CachedStatus:
    """What the cache knows about one job right now."""

    resource: Any
    """The latest ``get`` result; meaningless until ``fetched``."""
    fetched: bool
    """False until the first successful ``get``."""
    failures: int
    """Consecutive failed ``get`` calls."""
    last_error: str
    """The message of the latest failed ``get``."""
    user_error: UserError | None
    """Set when ``get`` raised :class:`UserError`: the job cannot be watched any more."""
    gave_up: bool
    """True once ``failures`` went past the budget; the job is no longer fetched."""


class _Entry:
    """One tracked job: mutable, only touched under the cache's lock."""

    __slots__ = (
        "failures",
        "fetched",
        "gave_up",
        "last_error",
        "meta",
        "notify",
        "resource",
        "seq",
        "settled",
        "user_error",
    )

    def __init__(self, meta: JobMeta, notify: Callable[[], None]) -> None:
        self.meta = meta
        self.notify = notify
        self.resource: Any = None
        self.fetched = False
        self.failures = 0
        self.last_error = ""
        self.user_error: UserError | None = None
        self.gave_up = False
        self.seq = 0
        self.settled = False

    def snapshot(self) -> CachedStatus:
        return CachedStatus(
            self.resource, self.fetched, self.failures, self.last_error, self.user_error, self.gave_up
        )


class StatusCache:
    """Fetches tracked jobs' statuses on ``workers`` daemon threads until :meth:`close`.

    ``fetch`` is the plugin's ``get``. After more than ``max_failures`` consecutive failures of one
    job the cache stops fetching it, marks it ``gave_up`` and notifies, so ``handle`` can fail the
    attempt.
    """

    def __init__(
        self,
        fetch: Callable[[JobMeta], Any],
        *,
        limiter: TokenBucket,
        resync_interval: float,
        workers: int,
        max_failures: int,
        name: str,
    ) -> None:
        self._fetch = fetch
        self._limiter = limiter
        self._resync = resync_interval
        self._max_failures = max_failures
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._entries: dict[str, _Entry] = {}
        self._due: list[tuple[float, int, str]] = []
        self._seq = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"roost-remote-{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def track(self, key: str, meta: JobMeta, notify: Callable[[], None]) -> CachedStatus:
        """Start watching a job (fetching it at once), or refresh its ``notify``; returns its
        status.

        Tracking the same key with a different meta starts over with the new job.
        """
        with self._cond:
            if self._stop.is_set():
                raise RuntimeError("the status cache is closed")
            entry = self._entries.get(key)
            if entry is None or entry.meta != meta:
                entry = _Entry(meta, notify)
                self._entries[key] = entry
                self._schedule(key, entry, 0.0)
            else:
                entry.notify = notify
            return entry.snapshot()

    def settle(self, key: str) -> None:
        """Stop fetching a job whose attempt ended, but keep its last status until :meth:`untrack`: a
        repeated ``handle`` of the ended attempt (the engine's save failed, a crash) must read the same
        final status, not a fresh, unfetched one."""
        with self._cond:
            entry = self._entries.get(key)
            if entry is not None:
                entry.settled = True
                entry.seq = -1  # its heap items are skipped

    def untrack(self, key: str) -> None:
        """Stop watching a job; untracking an unknown key is harmless."""
        with self._cond:
            self._entries.pop(key, None)

    def __contains__(self, key: object) -> bool:
        with self._cond:
            return key in self._entries

    def __len__(self) -> int:
        """The jobs being fetched (settled ones are not)."""
        with self._cond:
            return sum(not entry.settled for entry in self._entries.values())

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers and forget every job; waits up to ``timeout`` for calls in flight."""
        with self._cond:
            self._stop.set()
            self._entries.clear()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _schedule(self, key: str, entry: _Entry, delay: float) -> None:
        self._seq += 1
        entry.seq = self._seq
        heapq.heappush(self._due, (time.monotonic() + delay, self._seq, key))
        self._cond.notify()

    def _work(self) -> None:
        while True:
            job = self._next_due()
            if job is None or not self._wait_for_read_token():
                return
            key, entry = job
            self._refresh(key, entry)

    def _next_due(self) -> tuple[str, _Entry] | None:
        with self._cond:
            while not self._stop.is_set():
                if not self._due:
                    self._cond.wait()
                    continue
                due, seq, key = self._due[0]
                now = time.monotonic()
                if due > now:
                    self._cond.wait(due - now)
                    continue
                heapq.heappop(self._due)
                entry = self._entries.get(key)
                # Heap items of untracked or re-tracked jobs are left behind and skipped here.
                if entry is not None and entry.seq == seq:
                    return key, entry
            return None

    def _wait_for_read_token(self) -> bool:
        while not self._limiter.try_acquire():
            # Capped by the resync interval so a limiter driven by another clock is still rechecked.
            pause = min(max(self._limiter.wait_time(), _MIN_WAIT), self._resync)
            if self._stop.wait(pause):
                return False
        return not self._stop.is_set()

    def _refresh(self, key: str, entry: _Entry) -> None:
        resource: Any = None
        error: Exception | None = None
        try:
            resource = self._fetch(entry.meta)
        except Exception as exc:  # the plugin's call: any failure is recorded, never fatal
            error = exc
        with self._cond:
            if self._entries.get(key) is not entry:
                return
            changed = False
            if error is None:
                changed = not entry.fetched or _differs(resource, entry.resource)
                entry.resource, entry.fetched = resource, True
                entry.failures, entry.last_error = 0, ""
            elif isinstance(error, UserError):
                entry.user_error = error
                changed = True
            else:
                entry.failures += 1
                entry.last_error = f"{type(error).__name__}: {error}"
                log.info(
                    "status of remote job %s could not be fetched (%d in a row): %s",
                    key,
                    entry.failures,
                    entry.last_error,
                )
                if entry.failures > self._max_failures:
                    entry.gave_up = True
                    changed = True
            if entry.user_error is None and not entry.gave_up and not entry.settled:
                self._schedule(key, entry, self._resync)
            notify = entry.notify if changed else None
        if notify is not None:
            try:
                notify()
            except Exception:  # a broken callback must not stop the worker
                log.exception("notify callback of remote job %s failed", key)


def _differs(new: Any, old: Any) -> bool:
    try:
        return bool(new != old)
    except Exception:  # values without a usable ==: assume a change, which only costs a wake-up
        return True
